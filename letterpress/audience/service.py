"""Subscribing, confirming, unsubscribing, bounces and complaints.

Every status change goes through :func:`change_status`, which refuses transitions the
status machine does not allow and appends a :class:`SubscriptionEvent`::

    (new) ──> pending ──confirm──> active ──> unsubscribed
                 │                   │   └──> bounced
                 └──> unsubscribed   └──────> complained
                      bounced, complained

Leaving ``unsubscribed``, ``bounced`` or ``complained`` needs an explicit resubscribe with a
new consent record.  Functions take a session and flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..clock import Clock
from ..errors import InvalidTransition, SubscriberNotFound, Suppressed, UnknownList
from ..settings import Settings
from .emails import email_key, key_hash, normalise_email, sendable_email
from .models import ALL_LISTS, MailingList, Subscriber, Subscription, SubscriptionEvent
from .suppression import (
    clear_suppression,
    raise_suppression,
    suppression_for,
)

__all__ = [
    "ACTIVE_STATUSES",
    "Consent",
    "STOPPED_STATUSES",
    "change_status",
    "confirm",
    "ensure_lists",
    "find_subscriber",
    "get_list",
    "mark_bounced",
    "mark_complained",
    "subscribe",
    "update_profile",
]

ACTIVE_STATUSES = ("pending", "active")
STOPPED_STATUSES = ("unsubscribed", "bounced", "complained")

# Ordinary transitions; leaving a stopped status needs ``resubscribe=True``.
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"pending", "active"}),
    "pending": frozenset({"active", "unsubscribed", "bounced", "complained"}),
    "active": frozenset({"unsubscribed", "bounced", "complained"}),
    "unsubscribed": frozenset({"complained"}),
    "bounced": frozenset({"complained"}),
    "complained": frozenset(),
}
RESUBSCRIBE_TARGETS = frozenset({"pending", "active"})

ConsentSource = Literal["form", "import", "admin", "api"]
UnsubscribeChannel = Literal["one-click", "page", "mailto", "admin", "preferences"]

_ACTOR_FOR_SOURCE = {"form": "reader", "import": "import", "admin": "admin", "api": "api"}


@dataclass(frozen=True)
class Consent:
    """Proof of consent: how it was given, the wording or form shown, and the IP if web."""

    source: ConsentSource
    text: str = ""
    ip: str | None = None
    form_id: str | None = None

    def __post_init__(self) -> None:
        if self.source not in _ACTOR_FOR_SOURCE:
            raise ValueError(f"unknown consent source {self.source!r}")


def ensure_lists(session: Session, settings: Settings) -> None:
    """Create the ``mailing_lists`` rows of every list named in the settings."""
    existing = set(session.scalars(select(MailingList.name)))
    now = datetime.now(UTC)
    for publication in settings.publications.values():
        for name in publication.lists:
            if name not in existing:
                session.add(MailingList(name=name, publication=publication.slug, created_at=now))
                existing.add(name)
    session.flush()


def get_list(session: Session, name: str) -> MailingList:
    """The list called ``name``; raises :class:`UnknownList`."""
    found = session.scalar(select(MailingList).where(MailingList.name == name))
    if found is None:
        known = list(session.scalars(select(MailingList.name).order_by(MailingList.name)))
        raise UnknownList(name, known)
    return found


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    """The subscriber with this address (any case), or None; raises InvalidEmail."""
    key = email_key(normalise_email(email))
    return session.scalar(select(Subscriber).where(Subscriber.email_key == key))


def _subscription(session: Session, subscription_id: int) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise SubscriberNotFound(f"subscription {subscription_id}")
    return sub


def change_status(session: Session, sub: Subscription, new_status: str, *, clock: Clock,
                  actor: str, channel: str, detail: str = "",
                  data: Mapping[str, Any] | None = None, resubscribe: bool = False,
                  ) -> SubscriptionEvent:
    """Move ``sub`` to ``new_status`` and log it; raises :class:`InvalidTransition`."""
    old = sub.status
    allowed = TRANSITIONS[old]
    if resubscribe and old in STOPPED_STATUSES:
        allowed = allowed | RESUBSCRIBE_TARGETS
    if new_status not in allowed:
        raise InvalidTransition(str(old), new_status)
    now = clock.now()
    sub.status = new_status
    sub.updated_at = now
    event = SubscriptionEvent(at=now, old_status=old, new_status=new_status, actor=actor,
                              channel=channel, detail=detail, data=dict(data or {}))
    if sub.id is None or "events" in sub.__dict__:
        sub.events.append(event)  # new, or its events already read: keep that list whole
    else:
        # An INSERT at the next flush; reading every past event of the subscription first
        # (what appending to the unloaded collection does) cost a query and one object per
        # event on every status change.
        event.subscription_id = sub.id
        session.add(event)
    return event


def _merge_profile(subscriber: Subscriber, name: str | None,
                   attributes: Mapping[str, Any] | None) -> bool:
    """Fill in the name and merge attributes; True if anything changed."""
    changed = False
    if name is not None and name.strip() and name.strip() != subscriber.name:
        subscriber.name = name.strip()
        changed = True
    if attributes:
        merged = dict(subscriber.attributes or {})
        for key, value in attributes.items():
            if value not in (None, "") and merged.get(key) != value:
                merged[key] = value
                changed = True
        if changed:
            subscriber.attributes = merged
    return changed


def subscribe(session: Session, email: str, *, list_name: str, consent: Consent, clock: Clock,
              name: str | None = None, attributes: Mapping[str, Any] | None = None,
              status: Literal["active", "pending"] = "active", resubscribe: bool = False,
              actor: str | None = None) -> Subscription:
    """Subscribe ``email`` to ``list_name`` with the given consent; returns the subscription.

    ``status="pending"`` starts a double opt-in.  An address that unsubscribed, bounced,
    complained or was erased raises :class:`Suppressed` unless ``resubscribe=True``, which
    records the new consent.  Subscribing an already active address only updates its profile.
    """
    if status not in RESUBSCRIBE_TARGETS:
        raise ValueError(f"a new subscription is pending or active, not {status!r}")
    kwargs = dict(list_name=list_name, consent=consent, clock=clock, name=name,
                  attributes=attributes, status=status, resubscribe=resubscribe, actor=actor)
    try:
        with session.begin_nested():
            return _subscribe(session, email, **kwargs)
    except IntegrityError:
        # A concurrent request (a double-clicked form) created the same subscriber or
        # subscription between our lookup and our insert: look again, it exists now.
        return _subscribe(session, email, **kwargs)


def _subscribe(session: Session, email: str, *, list_name: str, consent: Consent, clock: Clock,
               name: str | None, attributes: Mapping[str, Any] | None, status: str,
               resubscribe: bool, actor: str | None) -> Subscription:
    address = sendable_email(email)
    key = email_key(address)
    digest = key_hash(key)
    mailing_list = get_list(session, list_name)
    actor = actor or _ACTOR_FOR_SOURCE[consent.source]
    now = clock.now()

    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
    sub = None
    if subscriber is not None:
        sub = session.scalar(select(Subscription).where(
            Subscription.subscriber_id == subscriber.id,
            Subscription.list_id == mailing_list.id))

    if sub is not None and sub.status in ACTIVE_STATUSES:
        if _merge_profile(subscriber, name, attributes):
            subscriber.updated_at = now
        if sub.status == "pending" and status == "active":
            _record_consent(sub, consent, now)
            change_status(session, sub, "active", clock=clock, actor=actor,
                          channel=consent.source, detail="consent given again",
                          data=_consent_data(consent))
        session.flush()
        return sub

    blocker = suppression_for(session, digest, mailing_list.name)
    if not resubscribe:
        if sub is not None:
            raise Suppressed(address, sub.status)
        if blocker is not None:
            raise Suppressed(address, blocker.reason)

    if subscriber is None:
        subscriber = Subscriber(email=address, email_key=key, name=(name or "").strip(),
                                attributes={k: v for k, v in (attributes or {}).items()
                                            if v not in (None, "")},
                                created_at=now, updated_at=now)
        session.add(subscriber)
        session.flush()
    elif _merge_profile(subscriber, name, attributes):
        subscriber.updated_at = now

    data = _consent_data(consent)
    if resubscribe:
        cleared = clear_suppression(session, digest, mailing_list.name)
        if cleared:
            data["cleared_suppression"] = cleared
    if sub is None:
        sub = Subscription(subscriber=subscriber, mailing_list=mailing_list, status=status,
                           created_at=now, updated_at=now)
        _record_consent(sub, consent, now)
        session.add(sub)
        detail = ""
        if blocker is not None:  # resubscribe of an address suppressed before (e.g. erased)
            detail = f"resubscribed with new consent (was suppressed: {blocker.reason})"
        sub.events.append(SubscriptionEvent(at=now, old_status=None, new_status=status,
                                            actor=actor, channel=consent.source,
                                            detail=detail, data=data))
    else:
        _record_consent(sub, consent, now)
        sub.unsubscribed_at = None
        sub.unsubscribe_channel = None
        change_status(session, sub, status, clock=clock, actor=actor, channel=consent.source,
                      detail="resubscribed with new consent", data=data, resubscribe=True)
    session.flush()
    return sub


def _consent_data(consent: Consent) -> dict[str, Any]:
    return {"consent": {k: v for k, v in asdict(consent).items() if v not in (None, "")}}


def _record_consent(sub: Subscription, consent: Consent, now) -> None:
    sub.consent_at = now
    sub.consent_source = consent.source
    sub.consent_text = consent.text
    sub.consent_form_id = consent.form_id
    sub.consent_ip = consent.ip
    if consent.source == "form":
        sub.confirmed_at = None


def confirm(session: Session, subscription_id: int, *, clock: Clock,
            ip: str | None = None) -> bool:
    """Double opt-in confirmation: pending → active.  False if it was already active.

    Raises :class:`InvalidTransition` for a subscription that was stopped since (a late
    click on an old confirmation link must not re-activate it) and
    :class:`SubscriberNotFound` when it no longer exists.
    """
    sub = _subscription(session, subscription_id)
    if sub.status == "active":
        return False
    if sub.status != "pending":
        raise InvalidTransition(sub.status, "active")
    data = {"ip": ip} if ip else {}
    change_status(session, sub, "active", clock=clock, actor="reader", channel="confirm",
                  detail="double opt-in confirmed", data=data)
    sub.confirmed_at = clock.now()
    if ip and not sub.consent_ip:
        sub.consent_ip = ip
    session.flush()
    return True


_SUBSCRIPTIONS = Subscription.__table__
_AT = _SUBSCRIPTIONS.c.updated_at.type
_EVENTS = SubscriptionEvent.__table__
_INSERT_EVENT = insert(_EVENTS)


def mark_bounced(session: Session, subscription_id: int, *, clock: Clock, detail: str,
                 actor: str = "delivery") -> bool:
    """A hard bounce: stop this subscription and suppress the address on every list.

    False (and nothing changed) when the subscription was already stopped.
    """
    held, status, person = _current(session, subscription_id)
    if status in STOPPED_STATUSES:
        return False
    if not _stop_everywhere(session, subscription_id, held, status, person, "bounced",
                            clock=clock, actor=actor, channel="bounce", detail=detail):
        return mark_bounced(session, subscription_id, clock=clock, detail=detail, actor=actor)
    return True


def mark_complained(session: Session, subscription_id: int, *, clock: Clock, detail: str = "",
                    actor: str = "delivery") -> bool:
    """A spam complaint: stop and suppress on every list.  False if already recorded."""
    held, status, person = _current(session, subscription_id)
    if status == "complained":
        return False
    if not _stop_everywhere(session, subscription_id, held, status, person, "complained",
                            clock=clock, actor=actor, channel="complaint", detail=detail):
        return mark_complained(session, subscription_id, clock=clock, detail=detail,
                               actor=actor)
    return True


_SUBSCRIBERS = Subscriber.__table__
_STATUS = (select(_SUBSCRIPTIONS.c.status, _SUBSCRIPTIONS.c.subscriber_id,
                  _SUBSCRIBERS.c.email_key)
           .join_from(_SUBSCRIPTIONS, _SUBSCRIBERS,
                      _SUBSCRIBERS.c.id == _SUBSCRIPTIONS.c.subscriber_id)
           .where(_SUBSCRIPTIONS.c.id == bindparam("sid")))
_SET_STATUS = (
    update(_SUBSCRIPTIONS)
    .where(_SUBSCRIPTIONS.c.id == bindparam("sid"), _SUBSCRIPTIONS.c.status == bindparam("old"))
    .values(status=bindparam("new"), updated_at=bindparam("now", type_=_AT)))
_EMAIL_KEY = select(_SUBSCRIBERS.c.email_key).where(_SUBSCRIBERS.c.id == bindparam("id"))


def _current(session: Session, subscription_id: int
             ) -> tuple[Subscription | None, str, tuple[int, str | None]]:
    """(the copy the session holds or None, status, (subscriber id, email key or None when
    not read)) of a subscription, read with one plain query when the session holds no copy;
    raises SubscriberNotFound."""
    held = session.identity_map.get((Subscription, (subscription_id,), None))
    if held is not None:
        session.flush()  # what the caller changed on it counts
        return held, held.status, (held.subscriber_id, None)
    row = session.connection().execute(_STATUS, {"sid": subscription_id}).first()
    if row is None:
        raise SubscriberNotFound(f"subscription {subscription_id}")
    return None, row.status, (row.subscriber_id, row.email_key)


def _stop_everywhere(session: Session, subscription_id: int, held: Subscription | None,
                     old: str, person: tuple[int, str | None], new_status: str, *, clock: Clock, actor: str,
                     channel: str, detail: str) -> bool:
    """Bounced or complained, suppressed on every list, in plain statements (status, event,
    suppression) like :func:`unsubscribe`: neither the subscription nor its past events are
    loaded as objects.  A copy the session holds gets the new status.

    False when someone else changed the subscription since it was read (call once more).
    Raises :class:`InvalidTransition`.
    """
    if new_status not in TRANSITIONS[old]:
        raise InvalidTransition(str(old), new_status)
    now = clock.now()
    done = session.connection().execute(_SET_STATUS, {"sid": subscription_id, "old": old,
                                         "new": new_status, "now": now}).rowcount
    if done != 1:
        if held is not None:
            session.refresh(held)
        return False
    session.connection().execute(_INSERT_EVENT, {
        "subscription_id": subscription_id, "at": now, "old_status": old,
        "new_status": new_status, "actor": actor, "channel": channel, "detail": detail,
        "data": {}})
    person_id, key = person
    loaded = held.__dict__.get("subscriber") if held is not None else None
    if loaded is not None:
        key = loaded.email_key
    elif key is None:
        key = session.connection().scalar(_EMAIL_KEY, {"id": person_id})
    raise_suppression(session, key_hash(key), scope=ALL_LISTS, reason=new_status, at=now)
    if held is not None:
        set_committed_value(held, "status", new_status)
        set_committed_value(held, "updated_at", now)
        if "events" in held.__dict__:
            session.expire(held, ["events"])
    return True


def update_profile(session: Session, subscriber_id: int, *, clock: Clock,
                   name: str | None = None,
                   attributes: Mapping[str, Any] | None = None) -> Subscriber:
    """Change a subscriber's name and attributes (preferences page, admin); empty values clear."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise SubscriberNotFound(subscriber_id)
    if name is not None:
        subscriber.name = name.strip()
    if attributes is not None:
        merged = dict(subscriber.attributes or {})
        for key, value in attributes.items():
            if value in (None, ""):
                merged.pop(key, None)
            else:
                merged[key] = value
        subscriber.attributes = merged
    subscriber.updated_at = clock.now()
    session.flush()
    return subscriber
