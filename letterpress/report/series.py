"""Time series behind the charts: deliveries during a run, a list's growth month by month."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audience.models import MailingList, Subscription, SubscriptionEvent
from ..delivery.models import Delivery
from .sql import epoch_of, month_of

__all__ = ["ListGrowth", "delivery_timeline", "list_growth", "last_months"]


def delivery_timeline(session: Session, run_id: int, *, points: int = 40
                      ) -> list[tuple[datetime, int]]:
    """(start of interval, messages accepted in it) across the run, about ``points`` intervals
    of a whole number of minutes; empty when nothing was sent."""
    epoch = epoch_of(session, Delivery.sent_at)
    where = (Delivery.run_id == run_id, Delivery.sent_at.is_not(None))
    first, last = session.execute(select(func.min(epoch), func.max(epoch)).where(*where)).one()
    if first is None:
        return []
    first, last = int(first), int(last)
    step = max(60, math.ceil((last - first + 1) / points / 60) * 60)
    start = first - first % 60
    bucket = (epoch - start) // step
    counts = Counter({int(b): int(n) for b, n in session.execute(
        select(bucket, func.count()).where(*where).group_by(bucket)).all()})
    top = max(counts)
    return [(datetime.fromtimestamp(start + i * step, UTC), counts.get(i, 0))
            for i in range(top + 1)]


def last_months(now: datetime, n: int = 12) -> list[str]:
    """``['2025-06', …, '2026-05']``: the ``n`` months up to ``now``'s, oldest first."""
    y, m = now.year, now.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


@dataclass(frozen=True)
class ListGrowth:
    """A list month by month: active size at the end of the month, arrivals and departures."""

    list_name: str
    months: list[str]
    size: list[int]
    subscribes: list[int]  # became active (new, confirmed or resubscribed)
    unsubscribes: list[int]  # active → unsubscribed
    other_departures: list[int]  # active → bounced or complained


def list_growth(session: Session, list_name: str, *, now: datetime, months: int = 12) -> ListGrowth:
    """The last ``months`` months of ``list_name`` (UTC months), sizes rebuilt from the
    event log backwards from today's active count (erased people's history is gone)."""
    keys = last_months(now, months)
    month = month_of(session, SubscriptionEvent.at)
    rows = session.execute(
        select(month, SubscriptionEvent.old_status, SubscriptionEvent.new_status, func.count())
        .join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(MailingList.name == list_name, SubscriptionEvent.at >= _month_start(keys[0]))
        .group_by(month, SubscriptionEvent.old_status, SubscriptionEvent.new_status)).all()
    ins: Counter[str] = Counter()
    unsubs: Counter[str] = Counter()
    others: Counter[str] = Counter()
    for key, old, new, n in rows:
        if new == "active" and old != "active":
            ins[key] += n
        elif old == "active" and new != "active":
            (unsubs if new == "unsubscribed" else others)[key] += n
    active_now = session.scalar(
        select(func.count()).select_from(Subscription)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(MailingList.name == list_name, Subscription.status == "active")) or 0
    sizes = []
    size = int(active_now)
    for key in reversed(keys):
        sizes.append(size)
        size -= ins[key] - unsubs[key] - others[key]
    return ListGrowth(list_name, keys, sizes[::-1], [ins[k] for k in keys],
                      [unsubs[k] for k in keys], [others[k] for k in keys])


def _month_start(key: str) -> datetime:
    y, m = key.split("-")
    return datetime(int(y), int(m), 1, tzinfo=UTC)
