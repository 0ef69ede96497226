"""The figures of a send run's report, computed from the database in a few grouped queries.

Definitions (docs/reports.md says the same for editors):

* ``sent`` / ``deferred`` / ``failed`` / ``skipped`` / ``uncertain`` / ``pending``: ledger
  rows of the run in that state now (``pending`` = queued or being sent).
* **Attribution window** of a run: from its start (or creation) to the creation of the next
  non-test run to the same list, or now.  An unsubscribe, complaint or asynchronous bounce is
  *attributable to the issue* when it concerns a subscription this run delivered to (state
  ``sent``), happened after that delivery and inside the window.
* ``new_subscriptions``: subscriptions to the run's list that became active (first activation
  — from nothing or from ``pending``) inside the window.
* Rates: complaints / sent (Gmail and Yahoo ask to stay under 0.3 %); bounces / (sent + failed);
  unsubscribes / sent.
* Clicks and opens belong to the issue (every run of it), counted per link and per day only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..audience.models import MailingList, Subscription, SubscriptionEvent
from ..delivery.models import Delivery, SendRun
from ..delivery.runs import get_run
from ..stats.queries import ClickSummary, click_summary, open_summary
from .bounces import BounceCounts, bounce_counts
from .providers import ORDER, provider_of
from .sql import domain_of

__all__ = ["COMPLAINT_LIMIT", "ProviderRow", "RunFigures", "attribution_window", "run_figures"]

COMPLAINT_LIMIT = 0.003
"""Gmail's and Yahoo's bulk-sender ceiling for the spam complaint rate (0.3 %)."""


@dataclass(frozen=True)
class ProviderRow:
    """Outcomes of one run at one receiving provider."""

    provider: str
    total: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0  # synchronous hard bounces (a part of failed)
    other: int = 0  # skipped, uncertain, pending


@dataclass(frozen=True)
class RunFigures:
    """Everything ``letterpress report RUN`` shows (``as_dict()`` is the ``--json`` output)."""

    run_id: int
    publication: str
    issue_number: int
    subject: str
    list_name: str
    state: str
    is_test: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    window_end: datetime
    total: int
    counts: dict[str, int]
    bounces: BounceCounts
    complaints: int
    unsubscribes: int
    unsubscribes_by_channel: dict[str, int]
    unsubscribes_by_day: dict[str, int]
    new_subscriptions: int
    providers: list[ProviderRow]
    clicks: ClickSummary
    opens: dict[str, Any] | None = None
    click_stats: bool = False
    open_stats: bool = False
    notes: list[str] = field(default_factory=list)

    def n(self, state: str) -> int:
        return self.counts.get(state, 0)

    @property
    def sent(self) -> int:
        return self.n("sent")

    @property
    def deferred(self) -> int:
        return self.n("deferred")

    @property
    def failed(self) -> int:
        return self.n("failed")

    @property
    def pending(self) -> int:
        return self.n("queued") + self.n("sending")

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.sent if self.sent else None

    @property
    def bounce_rate(self) -> float | None:
        attempted = self.sent + self.failed
        return self.bounces.total / attempted if attempted else None

    @property
    def unsubscribe_rate(self) -> float | None:
        return self.unsubscribes / self.sent if self.sent else None

    @property
    def complaint_over_limit(self) -> bool:
        rate = self.complaint_rate
        return rate is not None and rate >= COMPLAINT_LIMIT

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates in ISO 8601 (UTC), rates as fractions (0.003 = 0.3 %)."""
        def iso(value):
            return value.isoformat() if value is not None else None

        return {
            "run": {"id": self.run_id, "publication": self.publication,
                    "issue": self.issue_number, "subject": self.subject,
                    "list": self.list_name, "state": self.state, "test": self.is_test,
                    "created_at": iso(self.created_at), "started_at": iso(self.started_at),
                    "finished_at": iso(self.finished_at),
                    "attribution_until": iso(self.window_end)},
            "deliveries": {"total": self.total, "sent": self.sent, "deferred": self.deferred,
                           "failed": self.failed, "skipped": self.n("skipped"),
                           "uncertain": self.n("uncertain"), "pending": self.pending},
            "bounces": {"total": self.bounces.total, "synchronous": self.bounces.synchronous,
                        "asynchronous": self.bounces.asynchronous},
            "async_outcomes": {"hard": self.bounces.outcomes.get("hard", 0),
                               "soft": self.bounces.soft,
                               "complaint": self.bounces.outcomes.get("complaint", 0),
                               "sender_policy": self.bounces.sender_rejections},
            "complaints": self.complaints,
            "unsubscribes": {"total": self.unsubscribes, "by_channel": self.unsubscribes_by_channel,
                             "by_day": self.unsubscribes_by_day},
            "new_subscriptions": self.new_subscriptions,
            "rates": {"complaints": self.complaint_rate, "complaint_limit": COMPLAINT_LIMIT,
                      "complaints_over_limit": self.complaint_over_limit,
                      "bounces": self.bounce_rate, "unsubscribes": self.unsubscribe_rate},
            "providers": [asdict(row) for row in self.providers],
            "clicks": self.clicks.as_dict() if self.click_stats or self.clicks.total else None,
            "opens": self.opens,
            "notes": self.notes,
        }


def attribution_window(session: Session, run: SendRun, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) of the period whose list events are attributed to ``run``."""
    start = run.started_at or run.created_at
    following = session.scalar(
        select(func.min(SendRun.created_at)).where(
            SendRun.list_name == run.list_name, SendRun.is_test.is_(False),
            SendRun.id != run.id, SendRun.created_at > run.created_at))
    return start, (following if following is not None and following < now else now)


def _providers(session: Session, run_id: int) -> list[ProviderRow]:
    domain = domain_of(session, Delivery.email)
    rows = session.execute(
        select(domain, Delivery.state, Delivery.bounced, func.count())
        .where(Delivery.run_id == run_id)
        .group_by(domain, Delivery.state, Delivery.bounced)).all()
    acc: dict[str, Counter] = {name: Counter() for name in ORDER}
    for dom, state, bounced, n in rows:
        c = acc[provider_of(dom or "")]
        c["total"] += n
        if state in ("sent", "deferred", "failed"):
            c[state] += n
        else:
            c["other"] += n
        if bounced:
            c["bounced"] += n
    return [ProviderRow(name, **dict(c)) for name, c in acc.items() if c["total"]]


def _attributed_events(session: Session, run_id: int, until: datetime):
    """(new_status, channel, at) of status changes of subscriptions delivered by the run,
    after their delivery and before ``until``."""
    return session.execute(
        select(SubscriptionEvent.new_status, SubscriptionEvent.channel, SubscriptionEvent.at)
        .select_from(Delivery)
        .join(SubscriptionEvent, and_(SubscriptionEvent.subscription_id == Delivery.subscription_id,
                                      SubscriptionEvent.at >= Delivery.sent_at,
                                      SubscriptionEvent.at < until))
        .where(Delivery.run_id == run_id, Delivery.state == "sent",
               or_(SubscriptionEvent.new_status.in_(("unsubscribed", "complained")),
                   SubscriptionEvent.channel == "complaint"))).all()


def _new_subscriptions(session: Session, list_name: str, start: datetime, end: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(SubscriptionEvent)
        .join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(MailingList.name == list_name, SubscriptionEvent.new_status == "active",
               or_(SubscriptionEvent.old_status.is_(None),
                   SubscriptionEvent.old_status == "pending"),
               SubscriptionEvent.at >= start, SubscriptionEvent.at < end)) or 0


def run_figures(session: Session, run_id: int, *, now: datetime, tz: ZoneInfo | None = None,
                click_stats: bool = False, open_stats: bool = False) -> RunFigures:
    """The figures of run ``run_id`` as of ``now``; days are counted in ``tz`` (default UTC).

    Raises :class:`~letterpress.errors.SendRunNotFound` for an unknown run.
    """
    run = get_run(session, run_id)
    start, end = attribution_window(session, run, now)
    counts = {state: n for state, n in session.execute(
        select(Delivery.state, func.count()).where(Delivery.run_id == run_id)
        .group_by(Delivery.state)).all()}
    unsub_channels: Counter[str] = Counter()
    unsub_days: Counter[str] = Counter()
    complaints = 0
    for status, channel, at in _attributed_events(session, run_id, end):
        if status == "complained" or channel == "complaint":
            complaints += 1
        elif status == "unsubscribed":
            unsub_channels[channel] += 1
            day: date = (at.astimezone(tz) if tz else at).date()
            unsub_days[day.isoformat()] += 1
    notes = []
    if run.is_test:
        notes.append("test send: not counted as an issue of the list")
    return RunFigures(
        run_id=run.id, publication=run.publication, issue_number=run.issue_number,
        subject=run.subject, list_name=run.list_name, state=run.state, is_test=run.is_test,
        created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        window_end=end, total=sum(counts.values()), counts=counts,
        bounces=bounce_counts(session, run_id, end), complaints=complaints,
        unsubscribes=sum(unsub_channels.values()),
        unsubscribes_by_channel=dict(sorted(unsub_channels.items())),
        unsubscribes_by_day=dict(sorted(unsub_days.items())),
        new_subscriptions=int(_new_subscriptions(session, run.list_name, start, end)),
        providers=_providers(session, run_id),
        clicks=click_summary(session, run.publication, run.issue_number),
        opens=open_summary(session, run.publication, run.issue_number) if open_stats else None,
        click_stats=click_stats, open_stats=open_stats, notes=notes)
