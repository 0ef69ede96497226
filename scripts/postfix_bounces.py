#!/usr/bin/env python3
"""Make real DSNs with a throwaway Postfix instance, for tests/data/bounces/postfix/.

    sudo python3 scripts/postfix_bounces.py [OUT_DIR]     # default tests/data/bounces/postfix

Starts a private Postfix (its own config, queue and data directories in a temporary folder,
SMTP on 127.0.0.1 on a free port only, never the system's service), submits newsletter-like
messages to an unknown local user and to an over-quota mailbox, lets Postfix bounce them,
and copies the delivery status notifications it wrote to the return path's Maildir.  Needs
root (Postfix's master runs as root and drops to the ``postfix`` user) and Debian's postfix.

The return paths are VERP addresses signed with the key ``fixture-key`` (the tests use the
same secret key) for deliveries 1 to 3; message 4 uses the plain return path, so its DSN
can only be matched by the original Message-ID.
"""

from __future__ import annotations

import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from letterpress.bounces.verp import verp_address  # noqa: E402

KEY = "fixture-key"
BOUNCE_ADDRESS = "bounces@bounces.example.org"
CASES = [  # (delivery id or None, recipient, output name)
    (1, "nobody-here@lettres.example.org", "unknown-user-verp.eml"),
    (2, "jean.inconnu@lettres.example.org", "unknown-user-verp-2.eml"),
    (3, "full@quota.example.org", "over-quota-verp.eml"),
    (None, "personne@lettres.example.org", "unknown-user-plain.eml"),
]
QUOTA = 20_000  # bytes: the full mailbox already holds this much


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postfix(config: Path, *args: str) -> None:
    # postfix prints its fatal errors on a terminal only: run it under script(1) to see them.
    done = subprocess.run(["script", "-qec", f"postfix -c {config} {' '.join(args)}",
                           "/dev/null"], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"postfix {' '.join(args)} failed: {done.stdout}{done.stderr}")


def configure(root: Path, port: int) -> Path:
    etc, queue, data, vmail = (root / n for n in ("etc", "queue", "data", "vmail"))
    for d in (etc, queue, data, vmail / "bounces"):
        d.mkdir(parents=True)
    master = Path("/etc/postfix/master.cf").read_text().splitlines()
    lines = [f"127.0.0.1:{port} inet n - n - - smtpd"]
    for line in master:
        fields = line.split()
        if not fields or line.startswith((" ", "\t", "#")) or fields[1] == "inet":
            continue
        if len(fields) > 4:
            fields[4] = "n"  # no chroot: the private queue has no copy of /etc
        lines.append(" ".join(fields))
    (etc / "master.cf").write_text("\n".join(lines) + "\n")
    (etc / "vmailbox").write_text("full@quota.example.org full\nbounces@bounces.example.org bounces/\n")
    (etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {data}
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.lettres.example.org
mydomain = lettres.example.org
myorigin = lettres.example.org
mydestination = lettres.example.org, localhost
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
recipient_delimiter = +
smtputf8_enable = no
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = quota.example.org, bounces.example.org
virtual_mailbox_maps = texthash:{etc}/vmailbox
virtual_mailbox_base = {vmail}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = {QUOTA}
virtual_mailbox_lock = fcntl
message_size_limit = {QUOTA}
mailbox_size_limit = {QUOTA}
bounce_queue_lifetime = 0
maximal_queue_lifetime = 0
""")
    full = vmail / "full"
    full.write_bytes(b"From archive@lettres.example.org Mon Jan  1 00:00:00 2024\n" + b"x" * QUOTA + b"\n")
    shutil.chown(full, 65534, 65534)
    shutil.chown(vmail / "bounces", 65534, 65534)
    shutil.chown(data, "postfix", "postfix")
    return etc


def message(number: int, recipient: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Lettre des Petites villes de demain <lettre@lettres.example.org>"
    msg["To"] = recipient
    msg["Subject"] = "Lettre d'information n°42"
    msg["Message-ID"] = f"<fixture-{number}@lettres.example.org>"
    msg["List-Id"] = "<pvd.lettres.example.org>"
    msg.set_content("Bonjour,\n\nVoici la lettre d'information du mois.\n")
    return msg


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="letterpress-postfix-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        port = free_port()
        etc = configure(root, port)
        postfix(etc, "set-permissions")
        postfix(etc, "start")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                for number, (delivery_id, rcpt, _) in enumerate(CASES, 1):
                    sender = (verp_address(BOUNCE_ADDRESS, delivery_id, KEY)
                              if delivery_id else BOUNCE_ADDRESS)
                    smtp.send_message(message(number, rcpt), from_addr=sender,
                                      to_addrs=[rcpt])
            box = root / "vmail" / "bounces"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                found = sorted((box / "new").glob("*")) if (box / "new").is_dir() else []
                if len(found) >= len(CASES):
                    break
                postfix(etc, "flush")
                time.sleep(1)
            else:
                print((root / "maillog").read_text(), file=sys.stderr)
                raise SystemExit(f"only {len(found)} DSN(s) of {len(CASES)} arrived")
        finally:
            postfix(etc, "stop")
        by_message = {}
        for path in found:
            data = path.read_bytes()
            for number, (_, _, name) in enumerate(CASES, 1):
                if f"<fixture-{number}@lettres.example.org>".encode() in data:
                    by_message[name] = data
        for name, data in sorted(by_message.items()):
            (out / name).write_bytes(data)
            print(f"{out / name}: {len(data)} bytes")
        log = (root / "maillog").read_text()
        print("\n".join(line for line in log.splitlines() if "status=" in line))
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        Path(__file__).resolve().parent.parent / "tests/data/bounces/postfix")
    raise SystemExit(main(target))
