"""Tables of the bounce processing: one row per outcome read from a returned message, and
the soft-bounce score of each subscription.

A :class:`BounceRecord` is written in the same transaction as what it caused (the delivery's
asynchronous outcome, the subscription's status change), so a message is processed exactly
once: its ``fingerprint`` (SHA-256 of the raw bytes, or of a webhook event) is unique per
``position`` (the n-th failed recipient of one DSN).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

__all__ = ["BOUNCE_KINDS", "BounceRecord", "BounceScore"]

BOUNCE_KINDS = ("hard", "soft", "policy", "complaint", "ignored", "unparsed")
"""hard: the mailbox does not exist; soft: temporary (4.x.x, 5.2.2 over quota); policy: the
receiving side refused the *sender* (5.7.x); complaint: an ARF abuse report; ignored:
auto-replies, success notices, unknown or forged VERP ids; unparsed: not understood."""


class BounceRecord(Base):
    """One outcome read from a returned message (or a relay's webhook event)."""

    __tablename__ = "bounce_records"
    __table_args__ = (
        UniqueConstraint("fingerprint", "position", name="uq_bounce_records_fingerprint"),
        Index("ix_bounce_records_run_kind", "run_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20))  # imap | pop3 | maildir | mbox | file | ...
    source_ref: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="")  # RFC 3463 code, e.g. 5.1.1
    recipient: Mapped[str] = mapped_column(String(320), default="")
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")  # what letterpress did about it
    message_id: Mapped[str] = mapped_column(String(500), default="")  # of the returned message
    subject: Mapped[str] = mapped_column(Text, default="")
    delivery_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subscription_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subscriber_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<BounceRecord {self.id} {self.kind} {self.recipient} {self.status}>"


class BounceScore(Base):
    """The soft-bounce score of one subscription (Mailman's model: decays when stale)."""

    __tablename__ = "bounce_scores"

    subscription_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    last_bounce_at: Mapped[datetime] = mapped_column(UTCDateTime)
