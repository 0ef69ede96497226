"""Tables of the subscriber database.

    subscribers          one row per person (normalised address, unique on its case-folded key)
    mailing_lists        the lists publications send to (one publication, one or more lists)
    subscriptions        subscriber x list: status, consent proof, unsubscribe date and channel
    subscription_events  append-only log of every status change (who, how, when, old -> new)
    suppressions         hashes of addresses that must not be re-activated silently
    consent_archive      consent proof of pending subscriptions removed unconfirmed (hashed)
    segment_attributes   the attribute names segments use (what segment_values copies)
    segment_values       those attributes of a subscriber beside each subscription's list and
                         status, kept by triggers (``0010_segment_values``): segment counts

The schema is created by migration ``0001_audience`` (link keys and never-reused ids:
``0007_links``); keep both in step.  Ids of people, lists and subscriptions are never reused
(AUTOINCREMENT on SQLite, sequences on PostgreSQL): a token names a row by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..db import Base, UTCDateTime
from .text import clean_attributes, clean_text
from .tokens import new_link_key

__all__ = [
    "CHANNELS",
    "CONSENT_SOURCES",
    "STATUSES",
    "ConsentArchive",
    "SegmentAttribute",
    "SegmentValue",
    "MailingList",
    "Subscriber",
    "Subscription",
    "SubscriptionEvent",
    "Suppression",
    "UTCDateTime",
]

STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
CONSENT_SOURCES = ("form", "import", "admin", "api")
CHANNELS = ("one-click", "page", "mailto", "admin", "preferences", "form", "import", "api",
            "confirm", "bounce", "complaint", "erasure")
# Suppression entries that apply to every list (bounces, complaints, erasure).
ALL_LISTS = "*"


class Subscriber(Base):
    """A person: one normalised address, a display name and free attributes."""

    __tablename__ = "subscribers"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Random key every link of this person is bound to (see letterpress.audience.links);
    # "" for people created before keys existed (their legacy tokens keep working).
    link_key: Mapped[str] = mapped_column(String(32), default=new_link_key, server_default="")

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True)

    @validates("name")
    def _clean_name(self, _key: str, value: str | None) -> str:
        # One line of printable text whatever path it came by (form, CLI, import, API).
        return clean_text(value or "")

    @validates("attributes")
    def _clean_attributes(self, _key: str, value: dict[str, Any] | None) -> dict[str, Any]:
        return clean_attributes(value)

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.email}>"


class MailingList(Base):
    """A list a publication sends to; its name is unique across the project."""

    __tablename__ = "mailing_lists"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    publication: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<MailingList {self.name} ({self.publication})>"


class Subscription(Base):
    """One subscriber on one list, with its status and the proof of consent."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "list_id", name="uq_subscriptions_subscriber_list"),
        CheckConstraint(
            "status IN ('pending','active','unsubscribed','bounced','complained')",
            name="status"),
        # The recipient stream walks (list, status) in id order.
        Index("ix_subscriptions_list_status_id", "list_id", "status", "id"),
        # A segment count checks each matching subscriber's subscription: index-only.
        Index("ix_subscriptions_subscriber_list_status", "subscriber_id", "list_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_source: Mapped[str] = mapped_column(String(20))
    consent_text: Mapped[str] = mapped_column(Text, default="")
    consent_form_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    consent_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribe_channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the one double opt-in reminder went out (letterpress.audience.health).
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    mailing_list: Mapped[MailingList] = relationship()
    events: Mapped[list[SubscriptionEvent]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SubscriptionEvent.id")

    @property
    def list_name(self) -> str:
        return self.mailing_list.name

    def __repr__(self) -> str:
        return f"<Subscription {self.id} subscriber={self.subscriber_id} list={self.list_id} {self.status}>"


class SubscriptionEvent(Base):
    """One status change (or consent renewal); rows are only ever inserted."""

    __tablename__ = "subscription_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    old_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    new_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    subscription: Mapped[Subscription] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<SubscriptionEvent {self.id} {self.old_status}->{self.new_status} by {self.actor}>"


class Suppression(Base):
    """An address (by hash only) that must not be re-activated without new consent.

    ``scope`` is a list name, or ``*`` for every list (bounce, complaint, erasure).
    """

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("email_hash", "scope", name="uq_suppressions_hash_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Suppression {self.email_hash[:12]} {self.scope} {self.reason}>"


class ConsentArchive(Base):
    """The consent proof of a pending subscription removed unconfirmed (address hashed).

    Kept because the confirmation mail and its reminder were sent on the strength of it.
    """

    __tablename__ = "consent_archive"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    list_name: Mapped[str] = mapped_column(String(100))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_source: Mapped[str] = mapped_column(String(20))
    consent_text: Mapped[str] = mapped_column(Text)
    consent_form_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    consent_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"<ConsentArchive {self.email_hash[:12]} {self.list_name} {self.reason}>"


class SegmentAttribute(Base):
    """An attribute name segments use: ``segment_values`` holds copies of these only."""

    __tablename__ = "segment_attributes"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)

    def __repr__(self) -> str:
        return f"<SegmentAttribute {self.name}>"


class SegmentValue(Base):
    """One attribute of a subscriber (named in ``segment_attributes``), copied beside one of
    its subscriptions' list and status.

    Written only by the triggers of migration ``0010_segment_values`` (never by the
    application), read by segment counts: ``(list_id, status, name, value)`` is one index
    range, whatever the size of the segment.  ``value`` is the attribute as text (as
    PostgreSQL's ``->>`` writes it), cut to ``segments.MAX_VALUE_CHARS + 1`` characters.
    """

    __tablename__ = "segment_values"
    __table_args__ = (
        Index("ix_segment_values_list_status_name_value",
              "list_id", "status", "name", "value", "subscription_id"),
        {"sqlite_with_rowid": False},
    )

    subscription_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    # In the key so that checking one subscription's value reads the key alone.
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    list_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))

    def __repr__(self) -> str:
        return f"<SegmentValue {self.subscription_id} {self.name}={self.value!r}>"
