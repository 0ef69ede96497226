"""Bounce mailboxes for real: Dovecot over IMAP, IMAPS and POP3, a Maildir, kill -9 mid-fetch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from letterpress.audience import Consent, SubscriptionEvent, ensure_lists, subscribe
from letterpress.bounces import BounceRecord, fetch, fingerprint_of, verp_address
from letterpress.delivery.models import SendRun
from letterpress.errors import BounceSourceError

from .fixtures_bounces import *  # noqa: F403 - fixtures
from .fixtures_bounces import DATA, KEY, make_delivery

POSTFIX = DATA / "postfix"
SAMPLES = DATA / "samples"
CORPUS = [*sorted(POSTFIX.glob("*.eml")), SAMPLES / "arf-abuse.eml",
          SAMPLES / "autoreply-rfc3834.eml", SAMPLES / "unparsable.eml"]


def _count(project, model=BounceRecord):
    with project.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def _kinds(report):
    return dict(report.counts)


def test_imap_fetch_empties_the_inbox_and_keeps_the_unparsed(project, world, dovecot):
    dovecot.deliver([p.read_bytes() for p in CORPUS])
    report = fetch(project, dovecot.url("imap"))
    assert _kinds(report) == {"hard": 3, "soft": 1, "complaint": 1, "ignored": 1,
                              "unparsed": 1}
    assert dovecot.count() == 0
    client = IMAPClient("127.0.0.1", port=dovecot.port_imap, ssl=False)
    client.login(dovecot.user, dovecot.password)
    try:
        assert client.select_folder("unparsed")[b"EXISTS"] == 1
    finally:
        client.logout()
    # Fetching again changes nothing.
    records = _count(project)
    again = fetch(project, dovecot.url("imap"))
    assert (again.total, _count(project)) == (0, records)


def test_imaps_with_the_servers_certificate(project, world, dovecot):
    dovecot.deliver([(POSTFIX / "unknown-user-verp.eml").read_bytes()])
    assert _kinds(fetch(project, dovecot.url("imaps"))) == {"hard": 1}
    assert dovecot.count() == 0


def test_imaps_refuses_an_unknown_certificate(project, dovecot):
    url = dovecot.url("imaps").split("?")[0]
    with pytest.raises(BounceSourceError) as caught:
        fetch(project, url)
    assert dovecot.password not in str(caught.value)


def test_pop3_fetch_deletes_what_was_recorded_and_leaves_the_unparsed(project, world, dovecot):
    dovecot.deliver([p.read_bytes() for p in CORPUS])
    report = fetch(project, dovecot.url("pop3"))
    assert report.total == len(CORPUS)
    assert report.counts["unparsed"] == 1
    assert dovecot.count() == 1  # the unparsed one stays in place
    again = fetch(project, dovecot.url("pop3"))
    assert (again.total, again.already) == (1, 1)


def test_wrong_password_is_a_clear_error(project, dovecot):
    url = dovecot.url("imap").replace("s3cret", "wrong")
    with pytest.raises(BounceSourceError) as caught:
        fetch(project, url)
    assert "wrong" not in str(caught.value)


def test_maildir_fetch(project, world, tmp_path):
    import mailbox
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for path in CORPUS:
        box.add(path.read_bytes())
    report = fetch(project, f"maildir://{tmp_path / 'Maildir'}")
    assert report.total == len(CORPUS)
    assert len(box) == 1  # only the unparsed message is left in place


# --------------------------------------------------------------------------- kill -9

N = 1000


def _dsn(template: bytes, delivery_id: int, email: str) -> bytes:
    verp = verp_address("bounces@bounces.example.org", delivery_id, KEY).encode()
    return (template.replace(b"bounces+1-fd3dd7e0e0cb@bounces.example.org", verp)
            .replace(b"nobody-here@lettres.example.org", email.encode())
            .replace(b"<fixture-1@", f"<fixture-{delivery_id}@".encode()))


@pytest.mark.slow
def test_kill_9_during_a_fetch_then_fetch_again(project, project_dir, db_url, dovecot):
    template = (POSTFIX / "unknown-user-verp.eml").read_bytes()
    messages = []
    with project.session() as session:
        ensure_lists(session, project.settings)
        run = SendRun(publication="pvd", issue_number=42, issue_path="x", subject="n°42",
                      content_hash="0" * 64, list_name="pvd", is_test=False, state="done",
                      total=N, message="", created_at=project.clock.now())
        session.add(run)
        session.flush()
        for i in range(1, N + 1):
            email = f"lecteur{i:04d}@lettres.example.org"
            sub = subscribe(session, email, list_name="pvd", clock=project.clock,
                            consent=Consent("import"))
            make_delivery(session, run_id=run.id, email=email, subscription_id=sub.id,
                          subscriber_id=sub.subscriber_id, list_id=sub.list_id,
                          message_id=f"<fixture-{i}@lettres.example.org>", delivery_id=i)
            messages.append(_dsn(template, i, email))
    dovecot.deliver(messages)
    everything = {fingerprint_of(m) for m in messages}
    env = {**os.environ, "LETTERPRESS_DATABASE_URL": db_url, "LETTERPRESS_SECRET_KEY": KEY}
    command = [sys.executable, "-c", "from letterpress.cli import main; main()", "-C", str(project_dir), "bounces",
               "fetch", dovecot.url("imap")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _count(project) < N // 4 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with project.session() as session:
        recorded = set(session.scalars(select(BounceRecord.fingerprint)))
    assert N // 4 <= len(recorded) < N
    left = {fingerprint_of(p.read_bytes()) for sub in ("new", "cur")
            for p in (dovecot.maildir / sub).iterdir()}
    # Nothing left the mailbox before its outcome was committed.
    assert everything <= recorded | left
    assert left | recorded == everything

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert dovecot.count() == 0
    with project.session() as session:
        fingerprints = session.scalars(select(BounceRecord.fingerprint)).all()
        assert len(fingerprints) == N and set(fingerprints) == everything  # exactly once
        bounced = session.scalar(select(func.count()).select_from(SubscriptionEvent).where(
            SubscriptionEvent.new_status == "bounced"))
        assert bounced == N


def test_the_scheduler_daemon_polls_the_bounce_mailbox(project_dir, db_url, clock, world,
                                                       tmp_path):
    import mailbox
    import threading

    from letterpress.project import Project
    from letterpress.schedule import daemon
    from letterpress.settings import load_settings

    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add((POSTFIX / "unknown-user-verp.eml").read_bytes())
    env = {"LETTERPRESS_DATABASE_URL": db_url, "LETTERPRESS_SECRET_KEY": KEY,
           "LETTERPRESS_BOUNCE_URL": f"maildir://{tmp_path / 'Maildir'}",
           "LETTERPRESS_BOUNCE_POLL_MINUTES": "0.01"}
    live = Project(load_settings(project_dir, env))
    d = daemon.SchedulerDaemon(live, threading.Event(), sweep_seconds=5)
    d.start()
    try:
        assert d.scheduler.get_job("bounces", jobstore="local") is not None
        deadline = time.monotonic() + 20
        while len(box) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(box) == 0
        with live.session() as session:
            assert session.scalar(select(BounceRecord.kind)) == "hard"
    finally:
        d.shutdown()
        live.close()
