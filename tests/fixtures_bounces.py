"""Fixtures for the bounce tests: a real Dovecot on loopback, the DSN corpus, deliveries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template

import pytest

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.delivery.models import SendRun
from letterpress.settings import load_settings

__all__ = ["DATA", "KEY", "WORLD", "Dovecot", "dovecot", "free_port", "make_delivery",
           "project_env", "settings", "world"]

DATA = Path(__file__).parent / "data" / "bounces"
MAIL_UID = 65534  # nobody: Dovecot refuses to deliver as root
KEY = "fixture-key"  # the key scripts/postfix_bounces.py signed its VERP return paths with

# delivery id → (publication, list, recipient, Message-ID of the original)
WORLD = {
    1: ("pvd", "pvd", "nobody-here@lettres.example.org", "<fixture-1@lettres.example.org>"),
    2: ("pvd", "pvd", "jean.inconnu@lettres.example.org", "<fixture-2@lettres.example.org>"),
    3: ("pvd", "pvd", "full@quota.example.org", "<fixture-3@lettres.example.org>"),
    4: ("pvd", "pvd", "personne@lettres.example.org", "<fixture-4@lettres.example.org>"),
    5: ("acv", "acv", "plaignant@example.org", "<fixture-arf@lettres.example.org>"),
    6: ("pvd", "pvd", "lectrice@gmail.example.org", "<fixture-policy@lettres.example.org>"),
    7: ("pvd", "pvd", "ancien.agent@exim.example.org", "<fixture-exim@lettres.example.org>"),
}


@pytest.fixture
def project_env(db_url):
    return {"LETTERPRESS_DATABASE_URL": db_url, "LETTERPRESS_SECRET_KEY": KEY,
            "LETTERPRESS_BASE_URL": "https://lettre.example.org"}


@pytest.fixture
def settings(project_dir, project_env):
    loaded = load_settings(project_dir, project_env)
    pubs = dict(loaded.publications)
    pubs["pvd"] = replace(pubs["pvd"], bounce_address="bounces@bounces.example.org")
    return loaded.with_overrides(publications=pubs)


@pytest.fixture
def world(project):
    """Runs of pvd and acv, and the deliveries the fixture messages are about."""
    subs = {}
    with project.session() as session:
        ensure_lists(session, project.settings)
        runs = {}
        for slug in ("pvd", "acv"):
            run = SendRun(publication=slug, issue_number=42, issue_path="issues/x.yaml",
                          subject="Lettre n°42", content_hash="0" * 64, list_name=slug,
                          is_test=False, state="done", total=0, message="",
                          created_at=project.clock.now())
            session.add(run)
            session.flush()
            runs[slug] = run.id
        for delivery_id, (slug, list_name, email, message_id) in WORLD.items():
            sub = subscribe(session, email, list_name=list_name, clock=project.clock,
                            consent=Consent("import", "liste importée"))
            if delivery_id == 5:  # the complainer reads both lists of acv, and pvd
                subscribe(session, email, list_name="acv-elus", clock=project.clock,
                          consent=Consent("import", "liste importée"))
                subscribe(session, email, list_name="pvd", clock=project.clock,
                          consent=Consent("import", "liste importée"))
            make_delivery(session, run_id=runs[slug], email=email, subscription_id=sub.id,
                          subscriber_id=sub.subscriber_id, list_id=sub.list_id,
                          message_id=message_id, delivery_id=delivery_id)
            subs[delivery_id] = sub.id
    return {"runs": runs, "subs": subs}




def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening")


@dataclass
class Dovecot:
    """A running throwaway Dovecot: ports, one user, its Maildir."""

    root: Path
    port_imap: int
    port_imaps: int
    port_pop3: int
    user: str = "bounces"
    password: str = "s3cret pass"

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / self.user

    def url(self, scheme: str = "imap", folder: str = "INBOX") -> str:
        from urllib.parse import quote
        creds = f"{quote(self.user)}:{quote(self.password)}"
        if scheme == "imap":
            return f"imap://{creds}@127.0.0.1:{self.port_imap}/{folder}"
        if scheme == "imaps":
            return (f"imaps://{creds}@127.0.0.1:{self.port_imaps}/{folder}"
                    f"?cafile={self.root / 'cert.pem'}")
        return f"pop3://{creds}@127.0.0.1:{self.port_pop3}"

    def deliver(self, messages: list[bytes], folder: str = "") -> None:
        """Drop messages straight into the Maildir (as the MTA would), owned by the mail user."""
        base = self.maildir / (f".{folder}" if folder else "")
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        stamp = time.time_ns()
        for i, data in enumerate(messages):
            (base / "new" / f"{stamp}.M{i}P{os.getpid()}.test").write_bytes(data)
        for path in [self.root / "mail", *(self.root / "mail").rglob("*")]:
            os.chown(path, MAIL_UID, MAIL_UID)

    def count(self, folder: str = "") -> int:
        base = self.maildir / (f".{folder}" if folder else "")
        return sum(1 for sub in ("cur", "new") if (base / sub).is_dir()
                   for _ in (base / sub).iterdir())


@pytest.fixture
def dovecot():
    """A Dovecot started from tests/data/bounces/dovecot/dovecot.conf, stopped after the test."""
    if shutil.which("dovecot") is None:
        pytest.skip("dovecot is not installed (scripts/system-deps.sh)")
    # Not under pytest's tmp_path: its parents are private to root, and Dovecot's auth and
    # mail processes run as other users.
    root = Path(tempfile.mkdtemp(prefix="letterpress-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root, free_port(), free_port(), free_port())
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
                   check=True, capture_output=True)
    (root / "users").write_text(
        f"{server.user}:{{PLAIN}}{server.password}:{MAIL_UID}:{MAIL_UID}::{root}/home::\n")
    (root / "mail" / server.user).mkdir(parents=True)
    server.deliver([])
    conf = Template((DATA / "dovecot" / "dovecot.conf").read_text()).substitute(
        root=root, port_imap=server.port_imap, port_imaps=server.port_imaps,
        port_pop3=server.port_pop3)
    (root / "dovecot.conf").write_text(conf)
    process = subprocess.Popen(["dovecot", "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(server.port_imap, process, root / "dovecot.log")
        _wait_for(server.port_pop3, process, root / "dovecot.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def make_delivery(session, *, run_id: int, email: str, subscription_id=None,
                  subscriber_id=None, list_id=None, message_id=None, delivery_id=None):
    """A ledger row as a send would have left it (state sent)."""
    from letterpress.delivery.models import Delivery

    row = Delivery(run_id=run_id, email=email, subscription_id=subscription_id,
                   subscriber_id=subscriber_id, list_id=list_id, state="sent", attempts=1,
                   message_id=message_id, detail="", bounced=False, name="")
    if delivery_id is not None:
        row.id = delivery_id
    session.add(row)
    session.flush()
    return row
