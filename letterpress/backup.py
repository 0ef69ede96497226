"""Consistent backups of the project database, and restores that keep erased people erased.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot
  of the live file while ``serve`` and a send keep writing (WAL readers do not block them).
  The backup is itself a SQLite database file.
* PostgreSQL: ``pg_dump --format=custom`` (one repeatable-read snapshot, the documented way),
  restored with ``pg_restore --clean --if-exists --no-owner``.

A backup taken on Monday holds the people erased on Tuesday.  Restoring it must not bring
them back, so every erasure is also written to the **erasure journal** (``erasures.jsonl`` in
the project directory: one ``{"email_hash", "at"}`` per line, hashes only; ``"retention":
true`` for the people erased at the end of the retention period, whose records are erased
again without an objection, unless created after that erasure).  :func:`restore`
re-applies, after loading the backup, every erasure of the journal and every ``erased``
suppression entry of the database being replaced; the people they name are erased again
(with their copies in the delivery ledger) before anyone can send to them.

After a restore no sender holds a send run of the restored database: leases are released,
and ``letterpress send --resume RUN`` picks the run up where the backup saw it (rows the old
sender had handed to the server become *uncertain*, as after any crash).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from .audience.emails import key_hash
from .audience.gdpr import forget
from .audience.health import erase_for_retention
from .audience.models import ALL_LISTS, Subscriber, Suppression
from .audience.suppression import suppress
from .clock import Clock
from .db import make_engine, open_database
from .errors import LetterpressError

__all__ = ["BackupError", "BackupReport", "ERASURE_JOURNAL", "RestoreReport", "backup",
           "read_journal", "reapply_erasures", "record_erasure", "restore"]

ERASURE_JOURNAL = "erasures.jsonl"


class BackupError(LetterpressError):
    """A backup or restore that could not be done: why, and what to do."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class BackupReport:
    """Where the backup went, how big it is, and how it was made."""

    path: Path
    size: int
    method: str


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did: the backup loaded and the erasures applied again."""

    method: str
    erasures: int
    erased_again: int


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://u@h/db`` → ``postgresql://u@h/db`` for pg_dump/pg_restore."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} not found: install the PostgreSQL client tools "
                          "(Debian: postgresql-client) of the server's major version")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def backup(database_url: str, dest: str | Path) -> BackupReport:
    """Write a consistent copy of the database at ``database_url`` to ``dest``."""
    dest = Path(dest)
    if dest.exists():
        raise BackupError(f"{dest} exists: choose a new file name (a backup never overwrites)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        source_path = _sqlite_path(database_url)
        if not source_path.is_file():
            raise BackupError(f"no database at {source_path}")
        partial = dest.with_name(dest.name + ".partial")
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # one step: a single consistent snapshot
        finally:
            target.close()
            source.close()
        partial.rename(dest)
        method = "sqlite online backup"
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dest}",
              _libpq_url(database_url)])
        method = "pg_dump (custom format)"
    return BackupReport(dest, dest.stat().st_size, method)


# --------------------------------------------------------------------------- erasure journal

def record_erasure(project_dir: str | Path, email_hash: str, at: datetime, *,
                   retention: bool = False) -> None:
    """Append an erasure (hash and time only) to the project's erasure journal.

    ``retention``: the person was erased at the end of the retention period, not at their
    request: a restore erases their record again but adds no objection (they may subscribe
    anew), and keeps a record created after ``at`` (they did).
    """
    entry: dict = {"email_hash": email_hash, "at": at.astimezone(UTC).isoformat()}
    if retention:
        entry["retention"] = True
    path = Path(project_dir) / ERASURE_JOURNAL
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def read_journal(path: str | Path, *, retention: bool = False) -> dict[str, datetime]:
    """The erasures of a journal file: hash -> when (an absent file is an empty journal);
    with ``retention``, those of the retention period instead of those asked for."""
    path = Path(path)
    found: dict[str, datetime] = {}
    if not path.is_file():
        return found
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if bool(entry.get("retention")) == retention:
                found[str(entry["email_hash"])] = datetime.fromisoformat(entry["at"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupError(f"{path} line {number}: not an erasure entry") from None
    return found


def _erased_in(engine: Engine) -> dict[str, datetime]:
    """The ``erased`` suppression entries of a database (none if it has no such table)."""
    if "suppressions" not in inspect(engine).get_table_names():
        return {}
    with Session(engine) as session:
        return dict(session.execute(
            select(Suppression.email_hash, Suppression.created_at)
            .where(Suppression.reason == "erased", Suppression.scope == ALL_LISTS)).all())


def _has_data(engine: Engine) -> bool:
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in ("subscribers", "send_runs", "suppressions"):
            if table in tables and conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first():
                return True
    return False


def reapply_erasures(session: Session, erasures: dict[str, datetime], *, clock: Clock,
                     erasers: Iterable = (), retention: dict[str, datetime] | None = None
                     ) -> int:
    """Erase again everyone whose address hash is in ``erasures`` (hash -> when: erased at
    their request, the objection kept), and, without an objection, the people of
    ``retention`` whose record predates that erasure (one created since is someone who
    subscribed again); returns how many.

    One pass over the subscribers, reading only what the hash and the date need.
    """
    retention = retention or {}
    if not erasures and not retention:
        return 0
    asked: list[str] = []
    expired: list[str] = []
    rows = session.execute(
        select(Subscriber.email, Subscriber.email_key, Subscriber.created_at)
        .order_by(Subscriber.id).execution_options(yield_per=1000))
    for email, key, created_at in rows:
        digest = key_hash(key)
        if digest in erasures:
            asked.append(email)
        elif digest in retention and created_at <= retention[digest]:
            expired.append(email)
    for email in asked:
        # The objection is dated when it was made, not now: added below for every hash.
        forget(session, email, clock=clock, erasers=erasers, objection=False)
    for digest, at in erasures.items():
        suppress(session, digest, scope=ALL_LISTS, reason="erased", at=at)
    for email in expired:
        erase_for_retention(session, email, clock=clock, erasers=erasers)
    return len(asked) + len(expired)


def restore(database_url: str, source: str | Path, *, clock: Clock,
            journal: str | Path | None = None, erasers: Iterable = (),
            force: bool = False) -> RestoreReport:
    """Load the backup ``source`` into the database at ``database_url``.

    The target must hold no subscribers, send runs or suppressions unless ``force``; with
    ``force`` its ``erased`` entries are kept and applied again.  Then the erasures of
    ``journal`` are applied, the schema is upgraded to this version, and run leases released.
    """
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    if database_url.startswith("sqlite"):
        _sqlite_path(database_url).parent.mkdir(parents=True, exist_ok=True)
    current = make_engine(database_url)
    try:
        if _has_data(current) and not force:
            raise BackupError("the target database is not empty: restore into a new project, "
                              "or pass --force to replace it (its erasures are kept)")
        erasures = _erased_in(current)
    finally:
        current.dispose()
    expired: dict[str, datetime] = {}
    if journal is not None:
        for digest, at in read_journal(journal).items():
            erasures.setdefault(digest, at)
        expired = read_journal(journal, retention=True)
    if database_url.startswith("sqlite"):
        try:
            with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as check:
                sound = check.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:  # "file is not a database": a CSV, an archive…
            sound = False
        if not sound:
            raise BackupError(f"{source} is not a letterpress backup (not a sound SQLite "
                              "database); nothing was changed")
        target_path = _sqlite_path(database_url)
        backup_db = sqlite3.connect(source)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
        method = "sqlite online backup"
    else:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={_libpq_url(database_url)}", str(source)])
        method = "pg_restore"
    engine = open_database(database_url)  # a backup of an older version is upgraded
    try:
        with Session(engine) as session:
            erased = reapply_erasures(session, erasures, clock=clock, erasers=erasers,
                                      retention=expired)
            # No sender of this database is running: the leases in the backup are stale.
            session.execute(text("UPDATE send_runs SET lease_owner = NULL, lease_until = NULL"))
            session.commit()
    finally:
        engine.dispose()
    return RestoreReport(method, len(erasures) + len(expired), erased)
