"""A person in the bounce records: erasure (GDPR art. 17) and access (art. 15).

Bounce records keep the failed address, the diagnostic (which often quotes it) and the
subject; the ledger's asynchronous outcome keeps the diagnostic too.  When the audience
erases a person these copies go: the address becomes ``erased:<hash>``, the texts are
cleared.  Kinds, status codes, dates and per-run counts stay.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..delivery.models import Delivery
from .models import BounceRecord

__all__ = ["erase_bounces", "recipient_bounces"]


class _Target(Protocol):
    email: str
    email_hash: str
    subscriber_id: int | None


def recipient_bounces(session: Session, target: _Target) -> dict[str, list[dict[str, Any]]]:
    """``{"bounces": [...]}``: each bounce, complaint or other report received about
    ``target``, oldest first — kind, RFC 3463 status, the receiving server's diagnostic,
    what letterpress did about it."""
    matches = [func.lower(BounceRecord.recipient) == target.email.lower()]
    if target.subscriber_id is not None:
        matches.append(BounceRecord.subscriber_id == target.subscriber_id)
    return {"bounces": [{
        "kind": r.kind, "status": r.status, "address": r.recipient, "diagnostic": r.diagnostic,
        "action": r.action, "run": r.run_id,
        "received_at": r.received_at.isoformat() if r.received_at else None,
    } for r in session.scalars(select(BounceRecord).where(or_(*matches))
                               .order_by(BounceRecord.id))]}


def erase_bounces(session: Session, target: _Target) -> int:
    """Blank every bounce record about ``target``; returns how many records were erased."""
    matches = [func.lower(BounceRecord.recipient) == target.email.lower()]
    if target.subscriber_id is not None:
        matches.append(BounceRecord.subscriber_id == target.subscriber_id)
        session.execute(update(Delivery).where(Delivery.subscriber_id == target.subscriber_id)
                        .values(async_detail="")
                        .execution_options(synchronize_session=False))
    session.execute(update(Delivery).where(func.lower(Delivery.email) == target.email.lower())
                    .values(async_detail="")
                    .execution_options(synchronize_session=False))
    result = session.execute(
        update(BounceRecord).where(or_(*matches))
        .values(recipient=f"erased:{target.email_hash}"[:320], diagnostic="", subject="",
                action="", subscriber_id=None, subscription_id=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0
