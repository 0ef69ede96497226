"""Keeping the list healthy: double opt-in reminders, expiry of unconfirmed sign-ups, retention.

* **Reminder**: a ``pending`` subscription whose consent is older than the publication's
  ``confirm_reminder_hours`` (default 48) gets one reminder with a fresh confirmation link;
  ``subscriptions.reminder_sent_at`` records it, so nobody gets two.
* **Expiry**: a ``pending`` subscription older than ``pending_expiry_days`` (default 30) is
  removed.  Its consent proof (when, how, wording, form, IP, reminder date) is kept in
  ``consent_archive`` with the address hashed — the confirmation mail and its reminder were
  sent on the strength of it — and that archive row is the record of the removal.  The
  person's other subscriptions are untouched; a person left with none is deleted.
* **Retention** (CNIL: about three years after the last contact the person initiated):
  :func:`retention_candidates` lists the people whose last own contact — consent,
  confirmation, or any change they made themselves (event actor ``reader``) — is older than
  ``retention_days``; :func:`erase_for_retention` erases them with the GDPR erasure
  (:func:`letterpress.audience.gdpr.forget`).  Retention is not an objection: an erasure for
  retention keeps the suppressions the person already had (unsubscribe, bounce, complaint)
  but adds none, so they may subscribe again later.

Nothing here sends mail: the reminder is a callable passed in (the web layer composes it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, union_all, update
from sqlalchemy.orm import Session

from ..clock import Clock
from ..settings import Publication, Settings
from .emails import email_key, key_hash
from .gdpr import Eraser, ErasureReport, forget
from .models import (
    ConsentArchive,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionEvent,
)

__all__ = [
    "PendingSubscription",
    "RetentionCandidate",
    "SweepReport",
    "due_reminders",
    "erase_for_retention",
    "expire_pending",
    "mark_reminded",
    "retention_candidates",
    "sweep_pending",
]


@dataclass(frozen=True)
class PendingSubscription:
    """A pending subscription, with what a reminder mail needs."""

    subscription_id: int
    subscriber_id: int
    list_id: int
    list_name: str
    publication: str
    email: str
    consent_at: datetime
    link_key: str = ""  # the subscriber's key, which every link to them carries


@dataclass
class SweepReport:
    """What one sweep did (or would do, in a dry run): addresses reminded and expired."""

    reminded: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, why)
    expired: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``2 reminder(s) sent, 1 failed, 3 pending subscription(s) removed``."""
        text = f"{len(self.reminded)} reminder(s) sent"
        if self.failed:
            text += f", {len(self.failed)} failed (retried next time)"
        return text + f", {len(self.expired)} pending subscription(s) removed"


def _publications_by_list(settings: Settings) -> dict[str, Publication]:
    return {name: pub for pub in settings.publications.values() for name in pub.lists}


def _pending(session: Session, settings: Settings, *, older_than: Callable[[Publication],
             timedelta], now: datetime, reminded: bool | None) -> list[PendingSubscription]:
    out = []
    for list_name, pub in _publications_by_list(settings).items():
        cutoff = now - older_than(pub)
        query = (select(Subscription.id, Subscription.subscriber_id, Subscription.list_id,
                        Subscriber.email, Subscription.consent_at, Subscriber.link_key)
                 .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                 .join(MailingList, MailingList.id == Subscription.list_id)
                 .where(MailingList.name == list_name, Subscription.status == "pending",
                        Subscription.consent_at <= cutoff)
                 .order_by(Subscription.id))
        if reminded is False:
            query = query.where(Subscription.reminder_sent_at.is_(None))
        out += [PendingSubscription(sid, subscriber_id, list_id, list_name, pub.slug, email, at,
                                    key)
                for sid, subscriber_id, list_id, email, at, key in session.execute(query)]
    return out


def _reminder_delay(pub: Publication) -> timedelta:
    return timedelta(hours=pub.confirm_reminder_hours)


def _expiry(pub: Publication) -> timedelta:
    return timedelta(days=pub.pending_expiry_days)


def due_reminders(session: Session, settings: Settings, *, now: datetime
                  ) -> list[PendingSubscription]:
    """Pending subscriptions past their publication's reminder delay, never reminded, and
    not yet old enough to expire."""
    pubs = _publications_by_list(settings)
    return [p for p in _pending(session, settings, older_than=_reminder_delay, now=now,
                                reminded=False)
            if p.consent_at > now - _expiry(pubs[p.list_name])]


def mark_reminded(session: Session, subscription_id: int, *, now: datetime) -> bool:
    """Record the reminder; False if it was already recorded or the person confirmed since."""
    result = session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.status == "pending",
               Subscription.reminder_sent_at.is_(None))
        .values(reminder_sent_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def expire_pending(session: Session, settings: Settings, *, clock: Clock,
                   dry_run: bool = False) -> list[str]:
    """Remove the pending subscriptions past their publication's limit; returns addresses.

    Each one's consent proof goes to ``consent_archive`` (address hashed) first.
    """
    now = clock.now()
    expired = _pending(session, settings, older_than=_expiry, now=now, reminded=None)
    if dry_run or not expired:
        return [p.email for p in expired]
    for p in expired:
        sub = session.get(Subscription, p.subscription_id)
        if sub is None or sub.status != "pending":
            continue
        session.add(ConsentArchive(
            email_hash=key_hash(email_key(p.email)), list_name=p.list_name,
            consent_at=sub.consent_at, consent_source=sub.consent_source,
            consent_text=sub.consent_text or "", consent_form_id=sub.consent_form_id,
            consent_ip=sub.consent_ip, reminder_sent_at=sub.reminder_sent_at, removed_at=now,
            reason="pending-expired"))
        session.delete(sub)
        session.flush()
        left = session.scalar(select(func.count()).select_from(Subscription)
                              .where(Subscription.subscriber_id == p.subscriber_id))
        if not left:
            session.execute(delete(Subscriber).where(Subscriber.id == p.subscriber_id))
    session.flush()
    return [p.email for p in expired]


def sweep_pending(open_session: Callable[[], object], settings: Settings, *, clock: Clock,
                  remind: Callable[[PendingSubscription], None],
                  dry_run: bool = False) -> SweepReport:
    """Send the due reminders (one short transaction each), then expire the old ones.

    ``open_session()`` is a context manager giving a committing session (``project.session``).
    ``remind`` sends one reminder and raises on failure: a failed one is reported and tried
    again at the next sweep.  The mail goes out before the reminder is recorded, and no
    database lock is held while the mail server answers.
    """
    report = SweepReport()
    now = clock.now()
    with open_session() as session:  # type: ignore[attr-defined]
        due = due_reminders(session, settings, now=now)
    for pending in due:
        if dry_run:
            report.reminded.append(pending.email)
            continue
        with open_session() as session:  # type: ignore[attr-defined]
            still = session.scalar(select(Subscription.id).where(
                Subscription.id == pending.subscription_id, Subscription.status == "pending",
                Subscription.reminder_sent_at.is_(None)))
        if still is None:
            continue  # confirmed (or reminded by another process) meanwhile
        try:
            remind(pending)
        except Exception as exc:  # noqa: BLE001 - reported; the next sweep tries again
            report.failed.append((pending.email, f"{exc.__class__.__name__}: {exc}"))
            continue
        with open_session() as session:  # type: ignore[attr-defined]
            mark_reminded(session, pending.subscription_id, now=clock.now())
        report.reminded.append(pending.email)
    with open_session() as session:  # type: ignore[attr-defined]
        report.expired = expire_pending(session, settings, clock=clock, dry_run=dry_run)
    return report


# --------------------------------------------------------------------------- retention

@dataclass(frozen=True)
class RetentionCandidate:
    """A person whose last own contact is older than the retention period; ``known_since``:
    when their row was created here (an import's date for people moved in from a file)."""

    email: str
    last_contact: datetime
    lists: tuple[str, ...]
    known_since: datetime


def retention_candidates(session: Session, *, now: datetime, days: int
                         ) -> list[RetentionCandidate]:
    """People whose last own contact is more than ``days`` days before ``now``, oldest first.

    Own contact: giving consent, confirming, or an event they caused (actor ``reader``:
    unsubscribing, resubscribing, changing their lists).
    """
    cutoff = now - timedelta(days=days)
    contacts = union_all(
        select(Subscription.subscriber_id.label("sid"), Subscription.consent_at.label("at")),
        select(Subscription.subscriber_id, Subscription.confirmed_at)
        .where(Subscription.confirmed_at.is_not(None)),
        select(Subscription.subscriber_id, SubscriptionEvent.at)
        .join(SubscriptionEvent, SubscriptionEvent.subscription_id == Subscription.id)
        .where(SubscriptionEvent.actor == "reader"),
    ).subquery()
    last = (select(contacts.c.sid, func.max(contacts.c.at).label("last"))
            .group_by(contacts.c.sid).having(func.max(contacts.c.at) < cutoff).subquery())
    rows = session.execute(
        select(Subscriber.id, Subscriber.email, last.c.last, Subscriber.created_at)
        .join(last, last.c.sid == Subscriber.id).order_by(last.c.last, Subscriber.id)).all()
    lists: dict[int, list[str]] = {}
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 1000):
        for sid, name in session.execute(
                select(Subscription.subscriber_id, MailingList.name)
                .join(MailingList, MailingList.id == Subscription.list_id)
                .where(Subscription.subscriber_id.in_(ids[start:start + 1000]))
                .order_by(MailingList.name)):
            lists.setdefault(sid, []).append(name)
    out = []
    for sid, email, at, created in rows:
        if at.tzinfo is None:  # SQLite through a union loses the column type
            at = datetime.fromisoformat(str(at)).replace(tzinfo=now.tzinfo)
        out.append(RetentionCandidate(email, at, tuple(lists.get(sid, ())), created))
    return out


def erase_for_retention(session: Session, email: str, *, clock: Clock,
                        erasers: Iterable[Eraser] = ()) -> ErasureReport:
    """Erase ``email`` with the GDPR erasure, without turning it into an objection; what
    :func:`~letterpress.audience.gdpr.forget` reports.

    The suppressions the person already had stay as they were (a bounce stays a bounce);
    none is added, so they can subscribe anew later.
    """
    return forget(session, email, clock=clock, erasers=erasers, objection=False)
