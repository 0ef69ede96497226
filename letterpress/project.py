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
from .settings import Settings, load_settings

__all__ = ["Project"]


@dataclass
class Project:
    """Settings, clock and a lazily opened database engine for one project directory."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    _engine: Engine | None = None

    @classmethod
    def load(cls, project_dir: str | Path = ".", env=None, clock: Clock | None = None) -> Project:
        return cls(load_settings(project_dir, env), clock or SystemClock())

    @property
    def engine(self) -> Engine:
        """The database, upgraded to the current schema on first use."""
        if self._engine is None:
            self._engine = open_database(self.settings.database_url)
        return self._engine

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with session_scope(self.sessionmaker) as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for long reads (exports, listings): on SQLite it never holds the write
        lock, so a running send and the unsubscribe pages go on meanwhile.  Never write with it."""
        session = Session(read_only(self.engine), expire_on_commit=False)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
