"""Erasure of a person from the bounce records (GDPR right to erasure).

Bounce records keep the failed address, the diagnostic (which often quotes it) and the
subject; the ledger's asynchronous outcome keeps the diagnostic too.  When the audience
erases a person these copies go: the address becomes ``erased:<hash>``, the texts are
cleared.  Kinds, status codes, dates and per-run counts stay.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import func, or_, update
from sqlalchemy.orm import Session

from ..delivery.models import Delivery
from .models import BounceRecord

__all__ = ["erase_bounces"]


class _Target(Protocol):
    email: str
    email_hash: str
    subscriber_id: int | None


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
