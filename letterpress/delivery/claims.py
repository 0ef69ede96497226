"""Several senders on one run (PostgreSQL): batches claimed with ``FOR UPDATE SKIP LOCKED``.

Each sender of a shared run claims its next batch of queued (or due deferred) rows with
``SELECT … FOR UPDATE SKIP LOCKED`` and marks them ``sending`` with its id in
``deliveries.claimed_by``, in the same transaction: two senders never claim the same row,
and no state lives outside the database.  A sender announces that it is alive by holding a
session-level advisory lock keyed on its id for as long as it runs; PostgreSQL releases it
when the process dies (``kill -9``, a lost machine), so the rows a dead sender left
``sending`` — its in-flight batch only — are found and marked uncertain by the others.

SQLite has a single writer: a run there has a single sender (the run's lease).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.orm import Session

from .lifecycle import DeliveryState
from .models import Delivery

__all__ = ["SenderPresence", "claim_query", "recover_dead_senders", "supports_sharing"]

_LOCK_SPACE = 0x6C70  # "lp": the first key of our advisory locks
_LOCK = text("SELECT pg_advisory_lock(:space, hashtext(:owner))")
_UNLOCK = text("SELECT pg_advisory_unlock(:space, hashtext(:owner))")
_TRY = text("SELECT pg_try_advisory_lock(:space, hashtext(:owner))")


def supports_sharing(engine: Engine) -> bool:
    """True on PostgreSQL, where several senders can share a run."""
    return engine.dialect.name == "postgresql"


class SenderPresence:
    """Holds "sender ``owner`` is alive" as an advisory lock on a connection of its own."""

    def __init__(self, engine: Engine, owner: str):
        self.owner = owner
        self._connection: Connection | None = engine.connect()
        self._connection.execute(_LOCK, {"space": _LOCK_SPACE, "owner": owner})
        self._connection.commit()

    def close(self) -> None:
        """Give the lock up (the sender is leaving in good order)."""
        if self._connection is not None:
            self._connection.execute(_UNLOCK, {"space": _LOCK_SPACE, "owner": self.owner})
            self._connection.commit()
            self._connection.close()
            self._connection = None


def _alive(session: Session, owner: str) -> bool:
    got = session.execute(_TRY, {"space": _LOCK_SPACE, "owner": owner}).scalar()
    if got:
        session.execute(_UNLOCK, {"space": _LOCK_SPACE, "owner": owner})
        return False
    return True


def recover_dead_senders(session: Session, run_id: int, me: str) -> tuple[int, int]:
    """Mark uncertain the ``sending`` rows of senders that are gone.

    Returns (rows recovered, rows still held by live senders other than ``me``).
    """
    owners = session.execute(
        select(Delivery.claimed_by, func.count()).where(
            Delivery.run_id == run_id, Delivery.state == DeliveryState.SENDING.value)
        .group_by(Delivery.claimed_by)).all()
    recovered = held = 0
    for owner, n in owners:
        if owner == me:
            continue
        if owner is not None and _alive(session, owner):
            held += n
            continue
        condition = (Delivery.claimed_by.is_(None) if owner is None
                     else Delivery.claimed_by == owner)
        recovered += session.execute(
            update(Delivery).where(Delivery.run_id == run_id, condition,
                                   Delivery.state == DeliveryState.SENDING.value)
            .values(state=DeliveryState.UNCERTAIN.value,
                    detail="handed to the server when its sender died; it may have arrived")
            .execution_options(synchronize_session=False)).rowcount or 0
    return recovered, held


def claim_query(columns, run_id: int, now, limit: int, *, deferred: bool = False):
    """The next ``limit`` claimable rows of the run, locked, skipping rows others lock:
    queued rows, or (``deferred``) deferred rows whose retry time has come.

    One state per query, so that PostgreSQL reads the rows in the order of the
    (run_id, state, id) index instead of walking the run from its first row (migration 0011).
    """
    t = Delivery.__table__
    if deferred:
        claimable = ((t.c.state == DeliveryState.DEFERRED.value)
                     & (t.c.next_attempt_at <= now))
    else:
        claimable = t.c.state == DeliveryState.QUEUED.value
    return (select(*columns).where(t.c.run_id == run_id, claimable)
            .order_by(t.c.id).limit(limit).with_for_update(skip_locked=True, of=t))
