"""Reading the subscriber database: the recipient stream, counts and filtered listings.

Nothing here loads a whole list: :func:`iter_recipients` pages through it by subscription
id (keyset pagination, one short query per batch), so memory stays flat at any list size.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from .models import MailingList, Subscriber, Subscription
from .service import get_list

__all__ = [
    "Recipient",
    "count_by_status",
    "count_recipients",
    "count_subscriptions",
    "get_subscription",
    "inactive_among",
    "iter_recipients",
    "iter_subscriptions",
]

IN_CHUNK = 1000  # ids per IN (...) clause: well under every database's parameter limit


@dataclass(frozen=True)
class Recipient:
    """One person to send an issue to: just what a message needs."""

    subscription_id: int
    subscriber_id: int
    list_id: int
    email: str
    name: str


def iter_recipients(session: Session, list_name: str, *, status: str = "active",
                    batch_size: int = 1000, after_id: int = 0,
                    where: ColumnElement[bool] | None = None) -> Iterator[Recipient]:
    """Every subscription of ``list_name`` with ``status``, in subscription id order.

    Pages of ``batch_size`` rows; resume after a given subscription with ``after_id``.
    ``where`` narrows it to a segment (a clause over ``subscribers``, see ``segments.py``).
    """
    list_id = get_list(session, list_name).id
    last = after_id
    while True:
        rows = session.execute(
            select(Subscription.id, Subscription.subscriber_id, Subscription.list_id,
                   Subscriber.email, Subscriber.name)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscription.list_id == list_id, Subscription.status == status,
                   Subscription.id > last)
            .where(*([] if where is None else [where]))
            .order_by(Subscription.id)
            .limit(batch_size)
        ).all()
        for row in rows:
            yield Recipient(row[0], row[1], row[2], row[3], row[4] or "")
        if len(rows) < batch_size:
            return
        last = rows[-1][0]


def count_recipients(session: Session, list_name: str, status: str = "active") -> int:
    """How many subscriptions of ``list_name`` have ``status`` (one SQL count)."""
    list_id = get_list(session, list_name).id
    return session.scalar(
        select(func.count()).select_from(Subscription)
        .where(Subscription.list_id == list_id, Subscription.status == status)) or 0


def inactive_among(session: Session, subscription_ids: Collection[int]) -> set[int]:
    """Which of these subscriptions are no longer active (or no longer exist)."""
    ids = list(dict.fromkeys(subscription_ids))
    active: set[int] = set()
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start:start + IN_CHUNK]
        active.update(session.scalars(
            select(Subscription.id).where(Subscription.id.in_(chunk),
                                          Subscription.status == "active")))
    return set(ids) - active


def get_subscription(session: Session, subscription_id: int) -> Subscription | None:
    """A subscription with its subscriber and list loaded, or None."""
    return session.scalar(
        select(Subscription)
        .options(selectinload(Subscription.subscriber), selectinload(Subscription.mailing_list))
        .where(Subscription.id == subscription_id))


def count_by_status(session: Session) -> dict[str, dict[str, int]]:
    """Per list name, the number of subscriptions in each status (lists with none included)."""
    counts: dict[str, dict[str, int]] = {
        name: {} for name in session.scalars(select(MailingList.name).order_by(MailingList.name))
    }
    rows = session.execute(
        select(MailingList.name, Subscription.status, func.count())
        .join(Subscription, Subscription.list_id == MailingList.id)
        .group_by(MailingList.name, Subscription.status))
    for name, status, n in rows:
        counts.setdefault(name, {})[status] = n
    return counts


def _filtered(query: Select, *, list_name: str | None, status: str | None,
              attributes: Mapping[str, str] | None) -> Select:
    if list_name is not None:
        query = query.where(Subscription.list_id == select(MailingList.id).where(
            MailingList.name == list_name).scalar_subquery())
    if status is not None:
        query = query.where(Subscription.status == status)
    for key, value in (attributes or {}).items():
        query = query.where(Subscriber.attributes[key].as_string() == value)
    return query


def iter_subscriptions(session: Session, *, list_name: str | None = None,
                       status: str | None = None, attributes: Mapping[str, str] | None = None,
                       batch_size: int = 1000) -> Iterator[tuple[Subscription, Subscriber, str]]:
    """Subscriptions matching the filters as (subscription, subscriber, list name), id order.

    ``attributes`` filters on exact attribute values (``{"departement": "29"}``).
    """
    if list_name is not None:
        get_list(session, list_name)
    last = 0
    while True:
        query = (select(Subscription, Subscriber, MailingList.name)
                 .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                 .join(MailingList, MailingList.id == Subscription.list_id)
                 .where(Subscription.id > last).order_by(Subscription.id).limit(batch_size))
        rows = session.execute(_filtered(query, list_name=list_name, status=status,
                                         attributes=attributes)).all()
        yield from ((sub, subscriber, name) for sub, subscriber, name in rows)
        if len(rows) < batch_size:
            return
        last = rows[-1][0].id


def count_subscriptions(session: Session, *, list_name: str | None = None,
                        status: str | None = None,
                        attributes: Mapping[str, str] | None = None) -> int:
    """How many subscriptions match the same filters as :func:`iter_subscriptions`."""
    if list_name is not None:
        get_list(session, list_name)
    query = (select(func.count()).select_from(Subscription)
             .join(Subscriber, Subscriber.id == Subscription.subscriber_id))
    return session.scalar(_filtered(query, list_name=list_name, status=status,
                                    attributes=attributes)) or 0
