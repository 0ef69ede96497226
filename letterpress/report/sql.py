"""The few SQL expressions whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Integer, cast, func
from sqlalchemy.orm import Session

__all__ = ["domain_of", "epoch_of", "month_of"]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def domain_of(session: Session, column):
    """The part of an address after the last ``@``, lower-cased ('' when there is none)."""
    if _dialect(session) == "postgresql":
        return func.lower(func.split_part(column, "@", 2))
    return func.lower(func.substr(column, func.instr(column, "@") + 1))


def epoch_of(session: Session, column):
    """Seconds since 1970 (UTC) of a UTC datetime column, as an integer."""
    if _dialect(session) == "postgresql":
        return cast(func.extract("epoch", column), Integer)
    return cast(func.strftime("%s", column), Integer)


def month_of(session: Session, column):
    """``'2026-03'``: the UTC month of a datetime column."""
    if _dialect(session) == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)
