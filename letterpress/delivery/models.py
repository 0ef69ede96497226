"""Tables of delivery: send runs and their per-recipient ledger.

A :class:`SendRun` is one issue sent to one list (or a test send to a few addresses).  Each
recipient has exactly one :class:`Delivery` row in it.  Both ``state`` columns hold the closed
vocabularies of :mod:`letterpress.delivery.lifecycle` (drawn there with their transitions),
kept within them by CHECK constraints.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from .lifecycle import DeliveryState, RunState, sql_check

__all__ = ["DELIVERY_STATES", "RUN_STATES", "Delivery", "SendRun"]

RUN_STATES: tuple[str, ...] = tuple(s.value for s in RunState)
DELIVERY_STATES: tuple[str, ...] = tuple(s.value for s in DeliveryState)


class SendRun(Base):
    """One issue going to one list: identity, content hash, state, lease and timestamps."""

    __tablename__ = "send_runs"
    __table_args__ = (CheckConstraint(sql_check("state", RunState), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100), index=True)
    issue_number: Mapped[int] = mapped_column(Integer)
    issue_path: Mapped[str] = mapped_column(Text)
    issue_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    list_name: Mapped[str] = mapped_column(String(200))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default=RunState.PENDING.value, index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The part of the list this run went to (letterpress.audience.segments); None: all of it.
    segment_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    segment: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def identity(self) -> str:
        """``pvd#42``."""
        return f"{self.publication}#{self.issue_number}"

    def __repr__(self) -> str:
        return f"<SendRun {self.id} {self.identity} → {self.list_name} {self.state}>"


class Delivery(Base):
    """The ledger row of one recipient in one send run."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "subscription_id", name="uq_deliveries_run_subscription"),
        UniqueConstraint("run_id", "email", name="uq_deliveries_run_email"),
        # id last: "the next queued rows of the run" is read in index order (0011).
        Index("ix_deliveries_run_state_id", "run_id", "state", "id"),
        CheckConstraint(sql_check("state", DeliveryState), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("send_runs.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subscriber_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    list_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    bounced: Mapped[bool] = mapped_column(Boolean, default=False)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The sender holding the row while it is "sending" (its lease owner id): after a crash,
    # only the rows of a sender that is gone become uncertain.
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # What came back later by mail or webhook (letterpress.bounces): kind, RFC 3463 status,
    # diagnostic, when it was processed.
    async_outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    async_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    async_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    async_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<Delivery {self.id} run {self.run_id} {self.email} {self.state}>"
