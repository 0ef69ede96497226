"""Bounces of a send run, from what the database holds — behind one function.

Three sources: the ledger's synchronous hard bounces (a 5.1.x refusal during the SMTP
dialogue, ``deliveries.bounced``); the asynchronous outcome bounce processing records on each
delivery (``deliveries.async_outcome``: hard, soft, policy, complaint — the latest one read
from a DSN, an ARF report or a relay's webhook, see :mod:`letterpress.bounces`); and later
status changes of a delivered subscription to ``bounced`` (a DSN processed after the run, or
an administrator).

A *policy* outcome (5.7.x: the receiving side refused the sender — SPF, DKIM, DMARC,
reputation) is a problem of the sender, not of the reader: it is counted apart and never as
a bounce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..audience.models import SubscriptionEvent
from ..delivery.models import Delivery

__all__ = ["ASYNC_OUTCOMES", "BounceCounts", "bounce_counts"]

ASYNC_OUTCOMES = ("hard", "soft", "complaint", "policy")
"""The asynchronous outcomes a delivery can carry (``deliveries.async_outcome``)."""


@dataclass(frozen=True)
class BounceCounts:
    """Hard bounces of one run (refused during the dialogue, or reported after it) and its
    deliveries by asynchronous outcome (``{"hard": 2, "soft": 1, "complaint": 1,
    "policy": 1}``, every key present)."""

    synchronous: int
    asynchronous: int
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ASYNC_OUTCOMES, 0))

    @property
    def total(self) -> int:
        return self.synchronous + self.asynchronous

    @property
    def soft(self) -> int:
        """Deliveries whose latest returned message was a soft bounce (temporary)."""
        return self.outcomes.get("soft", 0)

    @property
    def sender_rejections(self) -> int:
        """Deliveries refused by the receiver's policy about the sender (5.7.x): a sender
        problem, never a reader's bounce."""
        return self.outcomes.get("policy", 0)


def bounce_counts(session: Session, run_id: int, until: datetime) -> BounceCounts:
    """Bounces of run ``run_id``.

    * synchronous: ledger hard bounces;
    * asynchronous: delivered (``sent``) deliveries not bounced during the dialogue whose
      recorded asynchronous outcome is ``hard`` — a DSN names its delivery, so it counts
      whenever it came — or whose subscription moved to ``bounced`` after the delivery and
      before ``until`` (the end of the attribution window); each delivery once;
    * outcomes: every delivery of the run by its recorded asynchronous outcome.
    """
    synchronous = session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.run_id == run_id, Delivery.bounced.is_(True))) or 0
    asynchronous = session.scalar(
        select(func.count(func.distinct(Delivery.id)))
        .select_from(Delivery)
        .outerjoin(SubscriptionEvent,
                   and_(SubscriptionEvent.subscription_id == Delivery.subscription_id,
                        SubscriptionEvent.at >= Delivery.sent_at,
                        SubscriptionEvent.at < until,
                        SubscriptionEvent.new_status == "bounced"))
        .where(Delivery.run_id == run_id, Delivery.state == "sent",
               Delivery.bounced.is_(False),
               or_(Delivery.async_outcome == "hard", SubscriptionEvent.id.is_not(None)))) or 0
    outcomes = dict.fromkeys(ASYNC_OUTCOMES, 0)
    for outcome, n in session.execute(
            select(Delivery.async_outcome, func.count())
            .where(Delivery.run_id == run_id, Delivery.async_outcome.in_(ASYNC_OUTCOMES))
            .group_by(Delivery.async_outcome)):
        outcomes[outcome] = int(n)
    return BounceCounts(int(synchronous), int(asynchronous), outcomes)
