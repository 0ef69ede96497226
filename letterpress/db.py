"""Database engine, sessions and schema migrations.

SQLite (the default ``subscribers.db``) runs in WAL mode with foreign keys on and a busy
timeout, so the web server and a running send share the file without "database is locked".
PostgreSQL is used when ``LETTERPRESS_DATABASE_URL`` points at one.  The schema is owned by
Alembic migrations (``letterpress/migrations``); :func:`open_database` upgrades an empty or
older database on first use.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .errors import DatabaseUnavailable

__all__ = [
    "Base",
    "UTCDateTime",
    "current_revision",
    "head_revision",
    "make_engine",
    "open_database",
    "read_only",
    "session_scope",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Stable constraint names, so migrations can refer to them on both SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every letterpress table."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes in and out, on both databases.

    ``UTCDateTime()`` maps to a ``timestamp with time zone`` column; ``UTCDateTime(timezone=False)``
    to a naive one holding UTC.  SQLite has no time zones: it always stores naive UTC.  A naive
    datetime given to such a column is a bug, and is refused.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True):
        super().__init__(timezone=timezone)

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        keep_zone = self.impl.timezone and dialect.name != "sqlite"
        return value if keep_zone else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


SQLITE_BUSY_SECONDS = 30.0


def _sqlite_begin(raw, mode: str) -> None:
    """BEGIN on the raw sqlite3 connection, waiting up to SQLITE_BUSY_SECONDS for the lock.

    SQLite's own busy handler sleeps up to 100 ms between tries, so a writer waiting on a
    busy send run (which frees the lock only for the few milliseconds of each SMTP batch)
    keeps missing its turn: one-click unsubscribes then took seconds at p99.  Trying again
    every millisecond gives every writer a fair chance at each free window.
    """
    if mode != "IMMEDIATE":
        raw.execute(f"BEGIN {mode}")  # takes no lock: never waits
        return
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    raw.execute("PRAGMA busy_timeout=0")  # only for this attempt; restored below
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(0.001)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over
        # so a transaction starts when SQLAlchemy says so.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        # IMMEDIATE takes the write lock when the transaction starts.  A deferred transaction
        # that reads and then writes fails at once with "database is locked" if another
        # connection committed in between (WAL snapshot rule; the busy timeout cannot help),
        # which is exactly what a send run meets while readers unsubscribe.  Long read-only
        # streams (exports, listings, pages) opt out with ``read_only(engine)`` and never wait.
        @event.listens_for(engine, "begin")
        def _begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            _sqlite_begin(conn.connection.dbapi_connection, mode)

        return engine
    ping_after = kwargs.pop("ping_after_idle", PING_AFTER_IDLE)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_after)
    return engine


# A pooled connection that sat unused longer than this is pinged before it is handed out: the
# server restarted overnight, or a firewall dropped the idle socket.  One in steady use is not
# (SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per request, a fifth of a
# one-click's time on PostgreSQL).  If the server dies under load, the statement that meets the
# dead connection fails, SQLAlchemy invalidates the whole pool, and the next checkouts connect
# afresh — only the requests in flight at that moment see the error, as with pool_pre_ping.
PING_AFTER_IDLE = 2.0  # seconds


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("the pooled connection is gone") from exc
        if not alive:
            raise DisconnectionError("the pooled connection is gone")


def read_only(engine: Engine) -> Engine:
    """The same database for a long read-only stream: on SQLite its transactions do not take
    the write lock, so senders and unsubscribes go on while it reads.  Never write with it."""
    return engine.execution_options(sqlite_begin="DEFERRED")


def _alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: the newest)."""
    from alembic import command

    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str | None:
    """The newest migration shipped with this version of letterpress."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_database(url: str, *, auto_upgrade: bool = True, **kwargs) -> Engine:
    """An engine for ``url``, with the schema upgraded when it is empty or behind.

    Raises :class:`~letterpress.errors.DatabaseUnavailable` (the URL without its password,
    and the reason in a line) for a URL SQLAlchemy cannot use, a missing driver, or a
    database that cannot be reached or opened.
    """
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "(not a URL)"
    try:
        engine = make_engine(url, **kwargs)
    except ArgumentError as exc:  # NoSuchModuleError (unknown scheme) is one too
        raise DatabaseUnavailable(shown, f"not a database URL SQLAlchemy knows ({exc})") \
            from None
    except ImportError as exc:
        raise DatabaseUnavailable(shown, f"its driver is not installed ({exc.name})") from None
    try:
        if auto_upgrade and current_revision(engine) != head_revision():
            upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = " ".join(str(exc.orig or exc).split())[:300]
        raise DatabaseUnavailable(shown, reason) from None
    return engine


@contextmanager
def session_scope(engine_or_factory) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = (engine_or_factory if isinstance(engine_or_factory, sessionmaker)
               else sessionmaker(engine_or_factory, expire_on_commit=False))
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()
