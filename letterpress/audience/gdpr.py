"""GDPR rights: erasure (``forget``) and access (``export_person``).

Erasure deletes the subscriber, every subscription and its event history, and leaves one
suppression entry on every list holding only the hash of the address, so the objection stays
honoured: the address cannot come back through an import or an admin add without an explicit
resubscribe and new consent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import Clock
from ..errors import SubscriberNotFound
from .emails import email_key, key_hash, normalise_email
from .models import ALL_LISTS, Subscriber, Suppression
from .suppression import suppress

__all__ = ["AccessSection", "Eraser", "ErasureReport", "ErasureTarget", "export_person",
           "forget"]


@dataclass(frozen=True)
class ErasureTarget:
    """Who an erasure or access request is about, for the other modules holding copies
    (the delivery ledger, the bounce records)."""

    email: str
    email_key: str
    email_hash: str
    subscriber_id: int | None
    subscription_ids: tuple[int, ...]


Eraser = Callable[[Session, ErasureTarget], int]
# What a module downstream of the audience holds about the person, for the right of access:
# ``{section name: [records as JSON-ready dicts]}``.
AccessSection = Callable[[Session, ErasureTarget], dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed; ``email_hash`` is all that remains."""

    found: bool
    subscriptions: int
    events: int
    email_hash: str
    elsewhere: int = 0  # rows erased by the extra erasers


def forget(session: Session, email: str, *, clock: Clock,
           erasers: Iterable[Eraser] = (), objection: bool = True) -> ErasureReport:
    """Delete everything held about ``email``; keep only its hashed suppression entry.

    ``erasers`` are called first, with the :class:`ErasureTarget`, so modules downstream of
    the audience (which it must not import) erase their own copies in the same transaction.
    An address we never held is still added to the suppression list: the request itself is
    an objection to be honoured (GDPR art. 21).  ``objection=False`` (an erasure at the end
    of the retention period, nobody's request): no entry is added or changed.
    """
    subscriber, target = _person(session, email)
    digest = target.email_hash
    subscriptions = events = elsewhere = 0
    for eraser in erasers:
        elsewhere += eraser(session, target)
    if subscriber is not None:
        subscriptions = len(subscriber.subscriptions)
        events = sum(len(s.events) for s in subscriber.subscriptions)
        session.delete(subscriber)
        session.flush()
    if objection:
        suppress(session, digest, scope=ALL_LISTS, reason="erased", at=clock.now())
    session.flush()
    return ErasureReport(subscriber is not None, subscriptions, events, digest, elsewhere)


def _person(session: Session, email: str) -> tuple[Subscriber | None, ErasureTarget]:
    """The subscriber row of ``email`` (None if none) and what other modules get of them."""
    address = normalise_email(email)
    key = email_key(address)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
    return subscriber, ErasureTarget(
        subscriber.email if subscriber is not None else address, key, key_hash(key),
        subscriber.id if subscriber is not None else None,
        tuple(s.id for s in subscriber.subscriptions) if subscriber is not None else ())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_person(session: Session, email: str, *,
                  sections: Iterable[AccessSection] = ()) -> dict[str, Any]:
    """Everything held about one person, as JSON-ready data (GDPR art. 15, right of access).

    ``sections`` add what modules downstream of the audience hold (the delivery ledger, the
    bounce records), called with the :class:`ErasureTarget` their erasers get.  Raises
    :class:`SubscriberNotFound` when nothing at all is held about ``email``.
    """
    subscriber, target = _person(session, email)
    digest = target.email_hash
    held: dict[str, list[dict[str, Any]]] = {}
    for section in sections:
        held.update(section(session, target))
    suppressions = [
        {"scope": "all lists" if s.scope == ALL_LISTS else s.scope, "reason": s.reason,
         "since": _iso(s.created_at)}
        for s in session.scalars(select(Suppression).where(Suppression.email_hash == digest)
                                 .order_by(Suppression.id))
    ]
    if subscriber is None:
        if suppressions or any(held.values()):
            return {"email": None, "email_sha256": digest, "suppressions": suppressions,
                    **held}
        raise SubscriberNotFound(email)
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "attributes": dict(subscriber.attributes or {}),
        "created_at": _iso(subscriber.created_at),
        "updated_at": _iso(subscriber.updated_at),
        "subscriptions": [
            {
                "list": sub.mailing_list.name,
                "publication": sub.mailing_list.publication,
                "status": sub.status,
                "consent": {"at": _iso(sub.consent_at), "source": sub.consent_source,
                            "text": sub.consent_text, "form_id": sub.consent_form_id,
                            "ip": sub.consent_ip},
                "confirmed_at": _iso(sub.confirmed_at),
                "unsubscribed_at": _iso(sub.unsubscribed_at),
                "unsubscribe_channel": sub.unsubscribe_channel,
                "created_at": _iso(sub.created_at),
                "events": [
                    {"at": _iso(ev.at), "from": ev.old_status, "to": ev.new_status,
                     "by": ev.actor, "channel": ev.channel, "detail": ev.detail,
                     "data": ev.data or {}}
                    for ev in sub.events
                ],
            }
            for sub in sorted(subscriber.subscriptions, key=lambda s: s.id)
        ],
        "email_sha256": digest,
        "suppressions": suppressions,
        **held,
    }
