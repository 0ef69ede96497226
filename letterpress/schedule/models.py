"""Tables of the schedule module: one-off scheduled sends and recurring-rule occurrences.

Their ``state`` / ``outcome`` columns hold the values of the closed vocabularies of
:mod:`letterpress.schedule.lifecycle` (plain strings in the database).  Both carry a unique ``occurrence_key``: the key under
which delivery creates the send run, so a restart, a second scheduler or a misfire can never
produce a second run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from .lifecycle import OccurrenceOutcome, ScheduleState

__all__ = ["OCCURRENCE_OUTCOMES", "SCHEDULE_STATES", "ScheduleOccurrence", "ScheduledSend",
           "UTCDateTime"]

# These columns were created naive (UTC) by migration 0003.
_NaiveUTC = UTCDateTime(timezone=False)

SCHEDULE_STATES = tuple(s.value for s in ScheduleState)
OCCURRENCE_OUTCOMES = tuple(o.value for o in OccurrenceOutcome)


class ScheduledSend(Base):
    """One issue approved to go out at one planned instant."""

    __tablename__ = "scheduled_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100), index=True)
    issue_number: Mapped[int] = mapped_column(Integer)
    issue_path: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text, default="")
    list_name: Mapped[str] = mapped_column(String(200))
    approved_content_hash: Mapped[str] = mapped_column(String(64))
    approved_source_hash: Mapped[str] = mapped_column(String(64))
    planned_at: Mapped[datetime] = mapped_column(_NaiveUTC, index=True)
    state: Mapped[str] = mapped_column(String(20), default=ScheduleState.SCHEDULED.value,
                                       index=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    occurrence_key: Mapped[str] = mapped_column(String(200), unique=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(_NaiveUTC)
    updated_at: Mapped[datetime] = mapped_column(_NaiveUTC)
    # Send to this segment of the list only (letterpress.audience.segments); None: all of it.
    segment_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    segment: Mapped[str | None] = mapped_column(Text, nullable=True)

    def __repr__(self) -> str:
        return f"<ScheduledSend {self.id} {self.publication}#{self.issue_number} {self.state}>"


class ScheduleOccurrence(Base):
    """What happened at one occurrence of a publication's recurring rule (one per month)."""

    __tablename__ = "schedule_occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100), index=True)
    occurrence_key: Mapped[str] = mapped_column(String(200), unique=True)
    planned_at: Mapped[datetime] = mapped_column(_NaiveUTC)
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    issue_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(_NaiveUTC)
    updated_at: Mapped[datetime] = mapped_column(_NaiveUTC)

    def __repr__(self) -> str:
        return f"<ScheduleOccurrence {self.occurrence_key} {self.outcome}>"
