"""Bounces of a send run, from what the database holds — behind one function.

Today two sources exist: the ledger's synchronous hard bounces (a 5.1.x refusal during the
SMTP dialogue, ``deliveries.bounced``) and later status changes of a delivered subscription to
``bounced`` (a DSN processed after the run, or an administrator).  When asynchronous bounce
processing records more (soft bounces, DSN status codes), it is counted here and the report
follows without other changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..audience.models import SubscriptionEvent
from ..delivery.models import Delivery

__all__ = ["BounceCounts", "bounce_counts"]


@dataclass(frozen=True)
class BounceCounts:
    """Hard bounces of one run: refused during the dialogue, or reported after it."""

    synchronous: int
    asynchronous: int

    @property
    def total(self) -> int:
        return self.synchronous + self.asynchronous


def bounce_counts(session: Session, run_id: int, until: datetime) -> BounceCounts:
    """Bounces of run ``run_id``: ledger hard bounces, plus delivered subscriptions that moved
    to ``bounced`` after their delivery and before ``until`` (the end of the attribution window)."""
    synchronous = session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.run_id == run_id, Delivery.bounced.is_(True))) or 0
    asynchronous = session.scalar(
        select(func.count(func.distinct(Delivery.id)))
        .select_from(Delivery)
        .join(SubscriptionEvent, and_(SubscriptionEvent.subscription_id == Delivery.subscription_id,
                                      SubscriptionEvent.at >= Delivery.sent_at,
                                      SubscriptionEvent.at < until))
        .where(Delivery.run_id == run_id, Delivery.state == "sent",
               Delivery.bounced.is_(False), SubscriptionEvent.new_status == "bounced")) or 0
    return BounceCounts(int(synchronous), int(asynchronous))
