"""Fixtures for the bounce tests: a real Dovecot on loopback, the DSN corpus, deliveries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

__all__ = ["DATA", "Dovecot", "dovecot", "free_port", "make_delivery"]

DATA = Path(__file__).parent / "data" / "bounces"
MAIL_UID = 65534  # nobody: Dovecot refuses to deliver as root


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
def dovecot(tmp_path):
    """A Dovecot started from tests/data/bounces/dovecot/dovecot.conf, stopped after the test."""
    if shutil.which("dovecot") is None:
        pytest.skip("dovecot is not installed (scripts/system-deps.sh)")
    root = tmp_path / "dovecot"
    root.mkdir()
    root.chmod(0o755)
    tmp_path.chmod(0o755)
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
