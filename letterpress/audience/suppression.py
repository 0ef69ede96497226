"""The suppression list: hashes of addresses that must not be re-activated silently.

An unsubscribe suppresses the address on that list; a hard bounce, a complaint or an erasure
suppresses it on every list (scope ``*``).  Only the hash is kept (see :mod:`.emails`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from .bulk import among, insert_rows
from .models import ALL_LISTS, Suppression

__all__ = ["ALL_LISTS", "add_suppression", "add_suppressions", "clear_suppression",
           "raise_suppression", "suppress", "suppression_for", "suppressions_for"]


def suppress(session: Session, email_hash: str, *, scope: str, reason: str,
             at: datetime) -> Suppression:
    """Add (or keep) the suppression entry of ``email_hash`` on ``scope``."""
    entry = session.scalar(
        select(Suppression).where(Suppression.email_hash == email_hash,
                                  Suppression.scope == scope))
    if entry is None:
        entry = Suppression(email_hash=email_hash, scope=scope, reason=reason, created_at=at)
        session.add(entry)
    elif reason in STRONGER_REASONS and entry.reason != reason:
        entry.reason = reason  # the stronger reason wins; the entry stays
    session.flush()
    return entry


def add_suppression(session: Session, email_hash: str, *, scope: str, reason: str,
                    at: datetime) -> None:
    """Add the entry unless one exists for ``email_hash`` on ``scope``: one statement.

    The lean form of :func:`suppress` for the hot path (one-click unsubscribe): no read
    first, no ORM object, and two concurrent requests cannot collide on the unique key.
    """
    _upsert(_ADD, session, email_hash, scope=scope, reason=reason, at=at)


def add_suppressions(session: Session, email_hashes: Sequence[str], *, scopes: Sequence[str],
                     reason: str, at: datetime) -> None:
    """:func:`add_suppression` for many entries (``email_hashes[i]`` on ``scopes[i]``): one
    statement for all of them (:func:`~letterpress.audience.bulk.insert_rows`)."""
    if session.get_bind().dialect.name not in _ADD:
        for email_hash, scope in zip(email_hashes, scopes, strict=True):
            suppress(session, email_hash, scope=scope, reason=reason, at=at)
        return
    # In key order: two transactions adding some of the same entries (two server processes on
    # PostgreSQL) wait for each other in the same order, never in a deadlock.
    insert_rows(session.connection(), Suppression.__table__, [
        {"email_hash": email_hash, "scope": scope, "reason": reason, "created_at": at}
        for email_hash, scope in sorted(set(zip(email_hashes, scopes, strict=True)))],
        skip_existing=("email_hash", "scope"))


def _upsert(statements: dict, session: Session, email_hash: str, *, scope: str, reason: str,
            at: datetime) -> None:
    """Run this dialect's prebuilt statement, or :func:`suppress` where there is none."""
    statement = statements.get(session.get_bind().dialect.name)
    if statement is None:
        suppress(session, email_hash, scope=scope, reason=reason, at=at)
        return
    session.connection().execute(statement, {"email_hash": email_hash, "scope": scope,
                                             "reason": reason, "created_at": at})


def _add_statements() -> dict:
    from sqlalchemy.dialects import postgresql, sqlite

    table = Suppression.__table__
    return {name: module.insert(table).on_conflict_do_nothing(
        index_elements=["email_hash", "scope"]) for name, module in
        (("postgresql", postgresql), ("sqlite", sqlite))}


_ADD = _add_statements()  # built once: see audience.service.unsubscribe

STRONGER_REASONS = ("erased", "complained")  # replace the reason of an existing entry


def raise_suppression(session: Session, email_hash: str, *, scope: str, reason: str,
                      at: datetime) -> None:
    """What :func:`suppress` does, in one statement and without an ORM object: add the entry,
    or keep it — with ``reason`` when that is a stronger one (erased, complained)."""
    statements = _RAISE if reason in STRONGER_REASONS else _ADD
    _upsert(statements, session, email_hash, scope=scope, reason=reason, at=at)


def _raise_statements() -> dict:
    from sqlalchemy.dialects import postgresql, sqlite

    table = Suppression.__table__
    statements = {}
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite)):
        statement = module.insert(table)
        statements[name] = statement.on_conflict_do_update(
            index_elements=["email_hash", "scope"], set_={"reason": statement.excluded.reason},
            where=table.c.reason != statement.excluded.reason)
    return statements


_RAISE = _raise_statements()


def suppression_for(session: Session, email_hash: str, list_name: str) -> Suppression | None:
    """The entry that blocks ``email_hash`` on ``list_name``, if any (global entries first)."""
    rows = session.scalars(
        select(Suppression).where(Suppression.email_hash == email_hash,
                                  or_(Suppression.scope == list_name,
                                      Suppression.scope == ALL_LISTS))).all()
    rows = sorted(rows, key=lambda s: s.scope != ALL_LISTS)
    return rows[0] if rows else None


def suppressions_for(session: Session, email_hashes: Collection[str],
                     list_name: str) -> dict[str, Suppression]:
    """Batch form of :func:`suppression_for`: hash -> blocking entry, one query."""
    found: dict[str, Suppression] = {}
    if not email_hashes:
        return found
    dialect = session.get_bind().dialect.name
    rows = session.scalars(
        select(Suppression).where(among(Suppression.email_hash, list(email_hashes), dialect),
                                  or_(Suppression.scope == list_name,
                                      Suppression.scope == ALL_LISTS)))
    for row in rows:
        if row.email_hash not in found or row.scope == ALL_LISTS:
            found[row.email_hash] = row
    return found


def clear_suppression(session: Session, email_hash: str, list_name: str) -> list[str]:
    """Remove the entry of ``email_hash`` on ``list_name`` (explicit resubscribe).

    Entries on every list (bounce, complaint, erasure) stay: the new consent is for this list
    only, and they keep blocking the others.  Returns the reasons removed.
    """
    rows = session.scalars(
        select(Suppression).where(Suppression.email_hash == email_hash,
                                  Suppression.scope == list_name)).all()
    if rows:
        session.execute(delete(Suppression).where(Suppression.id.in_([r.id for r in rows])))
    return [r.reason for r in rows]
