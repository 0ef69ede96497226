"""Bounce processing benchmark: ingest returned messages from a Maildir.

    .venv/bin/python bench/bench_bounces.py [--messages 10000] [--memory-large 100000]
                                            [--postgres]

* rate: N real-Postfix-shaped DSNs (70% unknown user via VERP, 20% over quota, 5% DMARC
  policy, 5% out-of-office) in a Maildir, each for its own delivery of a sent run.
  ``letterpress bounces ingest`` (detect, match, record, act, one transaction per message)
  against the detector alone (parse + :func:`letterpress.bounces.detect` on the same files,
  in the same run): the ratio is the overhead of the ledger and the audience work.
* memory: the same ingest at N and at --memory-large messages, each in its own subprocess;
  the peak RSS growth during the ingest must stay flat (messages are streamed one by one).

SQLite by default (the database most installs use); --postgres runs the rate on the local
PostgreSQL too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = "fixture-key"
DATA = ROOT / "tests" / "data" / "bounces"
PG_ADMIN = os.environ.get("LETTERPRESS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def make_project(folder: Path) -> Path:
    project = folder / "project"
    project.mkdir()
    shutil.copy(ROOT / "letterpress.toml", project / "letterpress.toml")
    return project


def make_world(db_url: str, n: int) -> None:
    """n active subscribers of pvd, a done run and one sent delivery each (bulk inserts)."""
    from sqlalchemy import insert

    from letterpress.audience.emails import email_key
    from letterpress.audience.models import MailingList, Subscriber, Subscription
    from letterpress.db import open_database
    from letterpress.delivery.models import Delivery, SendRun

    engine = open_database(db_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        list_id = conn.execute(insert(MailingList).values(
            name="pvd", publication="pvd", created_at=now)).inserted_primary_key[0]
        run_id = conn.execute(insert(SendRun).values(
            publication="pvd", issue_number=42, issue_path="x", subject="n°42",
            content_hash="0" * 64, list_name="pvd", is_test=False, state="done", total=n,
            message="", created_at=now)).inserted_primary_key[0]
        for start in range(1, n + 1, 5000):
            ids = range(start, min(n, start + 4999) + 1)
            conn.execute(insert(Subscriber), [
                {"id": i, "email": f"lecteur{i}@lettres.example.org",
                 "email_key": email_key(f"lecteur{i}@lettres.example.org"), "name": "",
                 "attributes": {}, "created_at": now, "updated_at": now} for i in ids])
            conn.execute(insert(Subscription), [
                {"id": i, "subscriber_id": i, "list_id": list_id, "status": "active",
                 "consent_at": now, "consent_source": "import", "consent_text": "",
                 "created_at": now, "updated_at": now} for i in ids])
            conn.execute(insert(Delivery), [
                {"id": i, "run_id": run_id, "subscription_id": i, "subscriber_id": i,
                 "list_id": list_id, "email": f"lecteur{i}@lettres.example.org", "name": "",
                 "state": "sent", "attempts": 1, "message_id": f"<fixture-{i}@lettres>",
                 "detail": "", "bounced": False} for i in ids])
    engine.dispose()


def make_maildir(path: Path, n: int, seed: int = 7) -> None:
    """n DSNs built from the real Postfix fixtures, one per delivery."""
    from letterpress.bounces import verp_address

    templates = {
        "hard": (DATA / "postfix" / "unknown-user-verp.eml").read_bytes(),
        "soft": (DATA / "postfix" / "over-quota-verp.eml").read_bytes(),
        "policy": (DATA / "samples" / "policy-dmarc.eml").read_bytes(),
        "auto": (DATA / "samples" / "autoreply-rfc3834.eml").read_bytes(),
    }
    olds = {"hard": (b"bounces+1-fd3dd7e0e0cb@bounces.example.org",
                     b"nobody-here@lettres.example.org"),
            "soft": (b"bounces+3-6f8817f97310@bounces.example.org",
                     b"full@quota.example.org"),
            "policy": (b"bounces@bounces.example.org", b"lectrice@gmail.example.org"),
            "auto": (b"bounces@bounces.example.org", b"claire.martin@example.org")}
    rng = random.Random(seed)
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True)
    for i in range(1, n + 1):
        r = rng.random()
        kind = "hard" if r < .7 else "soft" if r < .9 else "policy" if r < .95 else "auto"
        verp, rcpt = olds[kind]
        data = (templates[kind]
                .replace(verp, verp_address("bounces@bounces.example.org", i, KEY).encode())
                .replace(rcpt, f"lecteur{i}@lettres.example.org".encode())
                .replace(b"Message-Id: <", f"Message-Id: <{i}.".encode())
                .replace(b"Message-ID: <", f"Message-ID: <{i}.".encode()))
        (path / "new" / f"{i:07d}.bench:2,").write_bytes(data)


def detector_alone(maildir: Path) -> tuple[int, float]:
    from email import message_from_bytes

    from letterpress.bounces.detect import detect
    from letterpress.bounces.sources import MaildirMailbox

    started = time.perf_counter()
    n = 0
    for _, raw in MaildirMailbox(maildir, delete=False).messages():
        detect(message_from_bytes(raw))
        n += 1
    return n, time.perf_counter() - started


def ingest_all(project_dir: Path, db_url: str, maildir: Path
               ) -> tuple[dict, float, float, float]:
    """(counts, seconds, peak RSS growth, peak RSS, in MB) of ingesting the Maildir."""
    from letterpress.bounces import ingest
    from letterpress.project import Project

    project = Project.load(project_dir, env={"LETTERPRESS_DATABASE_URL": db_url,
                                             "LETTERPRESS_SECRET_KEY": KEY})
    with project.session():
        pass  # schema and connection before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = ingest(project, maildir)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    project.close()
    return dict(report.counts), seconds, (after - before) / 1024, after / 1024


def measure(folder: Path, n: int, db_url: str, with_baseline: bool) -> dict:
    """In a fresh process (its own peak RSS): the detector alone, then the ingest."""
    result = {"n": n}
    if with_baseline:
        count, seconds = detector_alone(folder / "Maildir")
        result["detect_rate"] = count / seconds
    counts, seconds, growth, peak = ingest_all(folder / "project", db_url, folder / "Maildir")
    result.update(counts=counts, ingest_rate=n / seconds, rss_growth_mb=growth,
                  rss_peak_mb=peak)
    return result


def _pg_database() -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    name = f"bench_bounces_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _drop_pg(name: str) -> None:
    from sqlalchemy import create_engine, text
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def child(args) -> None:
    print(json.dumps(measure(Path(args.folder), args.child, args.db_url, args.baseline)))


def run_child(n: int, db_url: str | None = None, baseline: bool = False) -> dict:
    """Build the world and the Maildir here, measure in a child process."""
    with tempfile.TemporaryDirectory(prefix="bench-bounces-") as tmp:
        folder = Path(tmp)
        make_project(folder)
        url = db_url or f"sqlite:///{folder / 'bench.db'}"
        make_world(url, n)
        make_maildir(folder / "Maildir", n)
        command = [sys.executable, __file__, "--child", str(n), "--folder", str(folder),
                   "--db-url", url]
        if baseline:
            command.append("--baseline")
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--memory-large", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    n = args.messages
    small = run_child(n, baseline=True)
    print(f"ingest {n:,} bounces from a Maildir (SQLite): {small['counts']}")
    print(f"  detector alone (same files, same run): {small['detect_rate']:8.0f} msg/s")
    print(f"  letterpress bounces ingest:            {small['ingest_rate']:8.0f} msg/s")
    print(f"  ratio ingest / detector alone: {small['ingest_rate'] / small['detect_rate']:.2f}"
          " (the ledger and audience work costs the rest)")
    if args.postgres:
        name, url = _pg_database()
        try:
            pg = run_child(n, db_url=url)
        finally:
            _drop_pg(name)
        print(f"  PostgreSQL ingest:                     {pg['ingest_rate']:8.0f} msg/s "
              f"(ratio {pg['ingest_rate'] / small['detect_rate']:.2f})")
    alone = run_child(n)  # the same size without the detector pass: the ingest's memory alone
    large = run_child(args.memory_large)
    print(f"peak memory of the ingest process: {alone['rss_peak_mb']:.1f} MB at {n:,} "
          f"(+{alone['rss_growth_mb']:.1f} MB during the ingest), "
          f"{large['rss_peak_mb']:.1f} MB at {args.memory_large:,} "
          f"(+{large['rss_growth_mb']:.1f} MB; {large['ingest_rate']:.0f} msg/s)")
    flat = large["rss_peak_mb"] <= alone["rss_peak_mb"] * 1.1 + 8
    print("  flat" if flat else "  NOT flat: memory grows with the number of messages")
    return 0 if flat else 1


if __name__ == "__main__":
    raise SystemExit(main())
