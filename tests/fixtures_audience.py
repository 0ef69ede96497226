"""Fixtures for the subscriber database tests (imported by tests/test_audience*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from letterpress.audience import ensure_lists

__all__ = ["csv_dir", "session"]

CSV_DIR = Path(__file__).parent / "data" / "csv"


@pytest.fixture
def session(engine, settings):
    """A session on the migrated test database (SQLite, then PostgreSQL), lists created."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as s:
        ensure_lists(s, settings)
        s.commit()
        yield s
        s.rollback()


@pytest.fixture
def csv_dir() -> Path:
    return CSV_DIR
