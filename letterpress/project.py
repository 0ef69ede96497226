"""A project: its settings plus the resources opened from them (database, clock).

The CLI and the web app each build one and pass it down; nothing in letterpress reaches for
global state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .clock import Clock, SystemClock
from .db import open_database, read_only, session_scope
from .errors import ConfigError
from .settings import SECRET_FILE, Settings, load_settings

__all__ = ["Project"]


@dataclass
class Project:
    """Settings, clock and a lazily opened database engine for one project directory."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    # Connections kept open by the engine's pool; None: SQLAlchemy's default (5).  A server
    # sizes it to its threads (see :meth:`size_pool`).
    pool_size: int | None = None
    _engine: Engine | None = None
    _read_engine: Engine | None = None
    _lookup_engine: Engine | None = None
    _sessionmaker: sessionmaker[Session] | None = None

    @classmethod
    def load(cls, project_dir: str | Path = ".", env=None, clock: Clock | None = None) -> Project:
        return cls(load_settings(project_dir, env), clock or SystemClock())

    @property
    def engine(self) -> Engine:
        """The database, upgraded to the current schema on first use."""
        if self._engine is None:
            options = {}
            if self.pool_size:
                # Kept open: a connection opened past the pool is closed again on return, and
                # the next request pays for connecting anew.  The overflow (SQLAlchemy's
                # default) is for the rare request that holds two at once.
                options = {"pool_size": self.pool_size, "max_overflow": 10}
            self._engine = open_database(self.settings.database_url, **options)
            if self.settings.secret_key_generated:
                self._refuse_a_new_key_for_old_mail()
        return self._engine

    def _refuse_a_new_key_for_old_mail(self) -> None:
        """The key file was missing and a new key was just written: if this database has
        already sent mail, every unsubscribe link in it would answer 404 from now on (a
        legal obligation broken without a word).  Remove the new key and say what to do."""
        from sqlalchemy import text

        with self._engine.connect() as conn:
            sent = conn.execute(text(
                "SELECT count(*) FROM send_runs WHERE is_test = :no"), {"no": False}).scalar()
        if not sent:
            return
        path = self.settings.project_dir / SECRET_FILE
        path.unlink(missing_ok=True)
        self._engine.dispose()
        self._engine = None
        raise ConfigError(
            f"{path.name} is missing, but this database has sent {sent} run(s): a new key "
            "would break the unsubscribe and preferences links of every mail already sent. "
            f"Copy {path.name} from the old project's files (`letterpress db backup` copies "
            "the database only) or set LETTERPRESS_SECRET_KEY to the old key; if it is lost "
            "for good, "
            f"write a new key into {path.name} yourself (the links already mailed will then "
            "answer 404)", source=str(path))

    @property
    def is_open(self) -> bool:
        """Whether the database engine was opened (first use of :attr:`engine`)."""
        return self._engine is not None

    def size_pool(self, connections: int) -> None:
        """Keep ``connections`` database connections open (one per server thread, plus the
        writer's); must be called before the engine is first used."""
        if self._engine is not None:
            raise RuntimeError("the database is already open; size its pool before")
        self.pool_size = connections

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        if self._sessionmaker is None:
            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessionmaker

    @property
    def lookup_engine(self) -> Engine:
        """The engine for a lookup of one statement: on PostgreSQL without a transaction
        around it (no BEGIN and ROLLBACK round trips — one statement needs none); on SQLite
        :attr:`read_engine`, whose transactions cost no round trip."""
        if self._lookup_engine is None:
            self._lookup_engine = (
                self.read_engine if self.engine.dialect.name == "sqlite"
                else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        return self._lookup_engine

    @property
    def read_engine(self) -> Engine:
        """The engine for reads that never take SQLite's write lock (:func:`read_only`), built
        once: building it per request cost more CPU than the query it ran."""
        if self._read_engine is None:
            self._read_engine = read_only(self.engine)
        return self._read_engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with session_scope(self.sessionmaker) as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for long reads (exports, listings): on SQLite it never holds the write
        lock, so a running send and the unsubscribe pages go on meanwhile.  Never write with it."""
        session = Session(self.read_engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._read_engine = self._lookup_engine = self._sessionmaker = None
