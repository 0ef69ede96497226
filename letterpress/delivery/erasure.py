"""Erasure of a person from the delivery ledger (GDPR right to erasure).

The ledger keeps the address and name each message went to.  When the audience erases a
person, these copies go too: the address becomes ``erased:<hash>`` (the same hash as the
suppression entry, which keeps a run's rows unique without being readable), and the name and
the server's reply text (which often quotes the address) are cleared.  Counts, states and
dates stay, so a run's figures do not change.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import func, or_, update
from sqlalchemy.orm import Session

from .models import Delivery

__all__ = ["erase_recipient"]


class _Target(Protocol):
    email: str
    email_hash: str
    subscriber_id: int | None


def erase_recipient(session: Session, target: _Target) -> int:
    """Blank every ledger row about ``target``; returns how many rows were erased."""
    matches = [func.lower(Delivery.email) == target.email.lower()]
    if target.subscriber_id is not None:
        matches.append(Delivery.subscriber_id == target.subscriber_id)
    result = session.execute(
        update(Delivery).where(or_(*matches))
        .values(email=f"erased:{target.email_hash}", name="", detail="", subscriber_id=None,
                subscription_id=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0
