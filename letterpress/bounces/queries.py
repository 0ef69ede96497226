"""Reading the bounce records: by run, by kind, by subscriber, one by id."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import BounceNotFound
from .models import BounceRecord

__all__ = ["get_record", "list_records", "run_bounce_counts", "subscriber_bounces"]


def list_records(session: Session, *, run_id: int | None = None, kind: str | None = None,
                 limit: int | None = 100) -> list[BounceRecord]:
    """Records newest first, optionally of one send run and/or one kind."""
    query = select(BounceRecord).order_by(BounceRecord.id.desc())
    if run_id is not None:
        query = query.where(BounceRecord.run_id == run_id)
    if kind is not None:
        query = query.where(BounceRecord.kind == kind)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def get_record(session: Session, record_id: int) -> BounceRecord:
    """One record; raises :class:`BounceNotFound`."""
    record = session.get(BounceRecord, record_id)
    if record is None:
        raise BounceNotFound(record_id)
    return record


def run_bounce_counts(session: Session, run_id: int) -> dict[str, int]:
    """Deliveries of a run by asynchronous outcome: ``{"hard": 3, "policy": 1, …}``."""
    rows = session.execute(
        select(BounceRecord.kind, func.count(func.distinct(BounceRecord.delivery_id)))
        .where(BounceRecord.run_id == run_id, BounceRecord.delivery_id.is_not(None))
        .group_by(BounceRecord.kind))
    return {kind: n for kind, n in rows}


def subscriber_bounces(session: Session, subscriber_id: int) -> list[BounceRecord]:
    """Every record about one subscriber, oldest first."""
    return list(session.scalars(select(BounceRecord)
                                .where(BounceRecord.subscriber_id == subscriber_id)
                                .order_by(BounceRecord.id)))
