"""DKIM: our signatures verify with an independent implementation (dkimpy)."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import dkim
import pytest
from dkim.canonicalization import Relaxed

from letterpress.content import load_issue
from letterpress.dkim import (
    DkimSigner,
    dns_txt_record,
    generate_key,
    relaxed_body,
    relaxed_header,
)
from letterpress.errors import ConfigError
from letterpress.message import MessageTemplate, build_simple_message
from letterpress.render import render_issue
from letterpress.settings import DkimConfig, load_settings

BASE = "https://lettre.example.org"


@pytest.fixture(scope="module")
def key_pem() -> bytes:
    return generate_key(2048)


@pytest.fixture
def signed_settings(project_dir, key_pem):
    (project_dir / "dkim.pem").write_bytes(key_pem)
    settings = load_settings(project_dir, {"LETTERPRESS_BASE_URL": BASE})
    pubs = dict(settings.publications)
    pubs["pvd"] = replace(pubs["pvd"], dkim=DkimConfig("lp2024", "anct.gouv.fr",
                                                        project_dir / "dkim.pem"))
    return replace(settings, publications=pubs)


@pytest.fixture
def dns(key_pem):
    record = dns_txt_record(key_pem).encode()

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return record if name.rstrip(".") == "lp2024._domainkey.anct.gouv.fr" else None

    return dnsfunc


@pytest.fixture
def template(signed_settings, project_dir):
    issue = load_issue(project_dir / "issues" / "2024-12-pvd-42.yaml", signed_settings)
    return MessageTemplate.from_rendered(render_issue(issue, signed_settings), signed_settings)


def _tags(data: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", data, re.S | re.M).group(1)
    flat = re.sub(rb"\s+", b"", header).decode()
    return dict(t.split("=", 1) for t in flat.split(";") if t)


def test_issue_messages_verify_with_dkimpy(template, dns):
    for i, name in enumerate(["", "Zoé Lefèvre", "Jean  \t Dupont"]):
        _, data = template.for_recipient(f"r{i}@example.org", name, f"{BASE}/u/tok{i}",
                                         f"{BASE}/p/pref{i}")
        assert dkim.verify(data, dnsfunc=dns), name


def test_signature_covers_the_one_click_headers(template):
    _, data = template.for_recipient("r@example.org", "", f"{BASE}/u/tok", f"{BASE}/p/pref")
    tags = _tags(data)
    signed = [h.lower() for h in tags["h"].split(":")]
    for name in ("from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
                 "list-unsubscribe-post", "mime-version", "content-type"):
        assert name in signed
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "anct.gouv.fr" and tags["s"] == "lp2024"


def test_tampering_breaks_the_signature(template, dns):
    _, data = template.for_recipient("r@example.org", "", f"{BASE}/u/tok", f"{BASE}/p/pref")
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"/u/tok>", b"/u/evil>", 1), dnsfunc=dns)
    assert not dkim.verify(data.replace(b"One-Click", b"One-Clack", 1), dnsfunc=dns)
    assert not dkim.verify(data.replace(b"/p/pref", b"/p/evil", 1), dnsfunc=dns)


def test_simple_messages_are_signed_too(signed_settings, dns):
    pub = signed_settings.publication("pvd")
    data = build_simple_message(pub, signed_settings, "lea@example.org", "Confirmez",
                                "Bonjour  Léa,\n\nconfirmez :   https://x.example/confirm/a  \n")
    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(data, dnsfunc=dns)


def test_relaxed_canonicalisation_matches_dkimpy():
    rng = random.Random(42)
    alphabet = [b"a", b"b", b" ", b"\t", b"\r\n", b"=", b"\xc3\xa9", b"  ", b"\r\n\r\n"]
    for _ in range(500):
        body = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        if body.endswith(b"\r"):
            body += b"\n"
        assert relaxed_body(body) == Relaxed.canonicalize_body(body), body
    assert relaxed_header("Subject", b"  Hello \r\n\t world  ") == b"subject:Hello world\r\n"


def test_a_missing_or_bad_key_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read DKIM key file"):
        DkimSigner.from_config(DkimConfig("s", "example.org", tmp_path / "nope.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="DKIM private key"):
        DkimSigner.from_config(DkimConfig("s", "example.org", bad))


def test_folded_non_ascii_sender_subject_and_reader_verify(signed_settings, project_dir, dns):
    """Encoded words folded over several lines in From, Subject, List-Id and To still verify."""
    pubs = dict(signed_settings.publications)
    long_name = "Agence nationale de la cohésion des territoires — Petites villes de demain 🌿"
    pubs["pvd"] = replace(pubs["pvd"], sender_name=long_name, name=long_name)
    settings = replace(signed_settings, publications=pubs)
    issue = load_issue(project_dir / "issues" / "2024-12-pvd-42.yaml", settings)
    rendered = replace(render_issue(issue, settings), subject=(
        "Été à Saint-Étienne : résidences d'artistes, friches réhabilitées et mobilités "
        "douces pour les élus"))
    template = MessageTemplate.from_rendered(rendered, settings)
    _, data = template.for_recipient("r@example.org", "Marie-Hélène de La Tour d'Auvergne",
                                     f"{BASE}/u/tok", f"{BASE}/p/pref")
    assert re.search(rb"\r\nFrom: =\?utf-8\?b\?[^\r]*\r\n =\?utf-8", data)
    assert dkim.verify(data, dnsfunc=dns)


def test_offloaded_signing_gives_the_same_signatures_from_many_threads(template, dns,
                                                                      monkeypatch):
    """A send run signs in a helper process, batched across its threads: the signatures are
    byte for byte those of in-process signing (PKCS#1 v1.5 is deterministic), and verify."""
    import threading

    signer = template.signer
    args = [(f"r{i}@example.org", f"Élu·e {i}", f"{BASE}/u/tok{i}", f"{BASE}/p/pref{i}",
             f"<m{i}@anct.gouv.fr>") for i in range(48)]
    now = 1_700_000_000

    def build(a):
        return template.for_recipient(a[0], a[1], a[2], a[3], message_id=a[4])[1]

    monkeypatch.setattr("letterpress.message.time.time", lambda: now)  # the same t= tag
    expected = [build(a) for a in args]
    got: dict[int, bytes] = {}
    with signer.offloaded():
        assert signer._offload is not None  # the helper process started
        threads = [threading.Thread(target=lambda k=k: got.update(
            {i: build(args[i]) for i in range(k, len(args), 8)})) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert signer._offload is None
    assert [got[i] for i in range(len(args))] == expected
    assert all(dkim.verify(data, dnsfunc=dns) for data in expected[:5])


def test_offloaded_signing_goes_on_in_process_when_the_helper_dies(template, dns):
    signer = template.signer
    with signer.offloaded():
        first = template.for_recipient("a@example.org", "", f"{BASE}/u/a", f"{BASE}/p/a")[1]
        for helper in signer._offload.helpers:
            helper._process.kill()
            helper._process.wait()
        after = [template.for_recipient(f"b{i}@example.org", "", f"{BASE}/u/b", f"{BASE}/p/b")[1]
                 for i in range(3)]
    assert all(dkim.verify(data, dnsfunc=dns) for data in [first, *after])


def test_the_helper_signs_while_the_caller_goes_on(template, dns, monkeypatch):
    """begin() hands the batch to the helper and returns; result() waits for it.  Two
    batches in flight come back in order, each byte for byte as signed in-process."""
    from letterpress.message import Reader

    monkeypatch.setattr("letterpress.message.time.time", lambda: 1_700_000_000)
    readers = [[Reader(f"r{b}{i}@example.org", f"Élu·e {i}", f"{BASE}/u/t{b}{i}",
                       f"{BASE}/p/t{b}{i}", f"<m{b}{i}@anct.gouv.fr>") for i in range(6)]
               for b in range(2)]
    expected = [template.for_recipients(batch) for batch in readers]
    signer = template.signer
    with signer.offloaded(processes=2):
        first, second = template.begin(readers[0]), template.begin(readers[1])
        helpers = signer._offload.helpers
        # Both batches on their way, each split between the helpers, none read yet.
        assert [len(h._unread) for h in helpers] == [2, 2]
        got = [second.result(), first.result()]  # read out of order: still each its own
    assert got[::-1] == expected
    assert all(dkim.verify(data, dnsfunc=dns) for _mid, data in expected[0])


def test_a_batch_sent_to_a_helper_that_dies_is_signed_in_process(template, dns):
    import os
    import signal

    from letterpress.message import Reader

    signer = template.signer
    with signer.offloaded(processes=1):
        helper = signer._offload.helpers[0]._process
        os.kill(helper.pid, signal.SIGSTOP)  # it receives the batch but never answers
        batch = template.begin([Reader("a@example.org", "", f"{BASE}/u/a", f"{BASE}/p/a")])
        helper.kill()
        helper.wait()
        [(_mid, data)] = batch.result()
        assert signer._offload.helpers[0]._broken
        [(_mid, later)] = template.for_recipients([Reader("b@example.org", "", f"{BASE}/u/b",
                                                          f"{BASE}/p/b")])
    assert dkim.verify(data, dnsfunc=dns) and dkim.verify(later, dnsfunc=dns)


def test_a_send_run_signs_through_the_helper_and_every_message_verifies(
        project_dir, project_env, key_pem, dns, monkeypatch, clock):
    """Through the real sender with four connections: the run starts the signing helper,
    which signs each batch in one round trip, and every reader's message carries a signature
    dkimpy accepts."""
    from letterpress.delivery import SendOutcome, send
    from letterpress.delivery.sender import (
        BATCHES_IN_FLIGHT_SIGNED,
        IN_FLIGHT_PER_CONNECTION_SIGNED,
        _Sender,
    )
    from letterpress.dkim import _SigningProcess
    from letterpress.project import Project
    from letterpress.transports import MemoryTransport
    from letterpress.transports.base import Limits

    from .fixtures_schedule import add_subscribers

    (project_dir / "dkim.pem").write_bytes(key_pem)
    with open(project_dir / "letterpress.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[publications.pvd.dkim]\nselector = "lp2024"\ndomain = "anct.gouv.fr"\n'
                 'key_file = "dkim.pem"\n')
    batches = []  # how many signatures each round trip to the helper carried
    real_submit = _SigningProcess.submit
    monkeypatch.setattr(_SigningProcess, "submit", lambda self, data: batches.append(len(data))
                        or real_submit(self, data))
    marked = []  # rows marked "sending" at once
    real_mark = _Sender._mark_sending
    monkeypatch.setattr(_Sender, "_mark_sending", lambda self, session, batch, previous:
                        marked.append(len(batch)) or real_mark(self, session, batch, previous))
    project = Project.load(project_dir, env={**project_env, "LETTERPRESS_BASE_URL": BASE},
                           clock=clock)
    try:
        emails = add_subscribers(project, 40)
        issue = load_issue(project_dir / "issues" / "2024-12-pvd-42.yaml", project.settings)
        transport = MemoryTransport(limits=Limits(pool=4))
        result = send(project, transport, rendered=render_issue(issue, project.settings),
                      list_name="pvd")
    finally:
        project.close()
    assert result.outcome is SendOutcome.DONE
    assert sorted(r for m in transport.messages for r in m.recipients) == sorted(emails)
    assert sum(batches) == 40 and max(batches) > 1  # a batch a round trip, not a message
    # Signed runs keep a larger budget in flight, in three batches, so the connections
    # have work while the helpers sign.
    assert max(marked) == IN_FLIGHT_PER_CONNECTION_SIGNED * 4 // BATCHES_IN_FLIGHT_SIGNED == 16
    assert all(dkim.verify(m.data, dnsfunc=dns) for m in transport.messages)


def test_a_send_with_an_unreadable_key_fails_before_any_run_exists(project_dir, project_env,
                                                                  clock):
    from letterpress.delivery import list_runs, send
    from letterpress.errors import ConfigError
    from letterpress.project import Project
    from letterpress.transports import MemoryTransport

    with open(project_dir / "letterpress.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[publications.pvd.dkim]\nselector = "lp2024"\ndomain = "anct.gouv.fr"\n'
                 'key_file = "dkim/missing.pem"\n')
    project = Project.load(project_dir, env=project_env, clock=clock)
    try:
        issue = load_issue(project_dir / "issues" / "2024-12-pvd-42.yaml", project.settings)
        transport = MemoryTransport()
        with pytest.raises(ConfigError, match="missing.pem"):
            send(project, transport, rendered=render_issue(issue, project.settings),
                 test_recipients=["moi@example.org"])
        with project.read_session() as session:
            assert list_runs(session) == []  # no paused run left behind
    finally:
        project.close()
    assert transport.messages == []
