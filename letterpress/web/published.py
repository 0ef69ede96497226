"""Which issues the online archive shows: those actually sent, plus those published explicitly.

An issue appears once a non-test send run of it has started, or once an editor ran
``letterpress publish ISSUE.yaml`` (for issues sent by another tool, or published on the web
only).  The ``published_issues`` table (migration 0004_web) records the latter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Date, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..clock import Clock
from ..db import Base

__all__ = ["ArchivedIssue", "PublishedIssue", "archived_issues", "find_archived", "publish_issue"]


class PublishedIssue(Base):
    """An issue an editor published on the web archive by hand."""

    __tablename__ = "published_issues"
    __table_args__ = (UniqueConstraint("publication", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)
    issue_date: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(500))
    issue_path: Mapped[str] = mapped_column(String(1000))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class ArchivedIssue:
    """One entry of the archive: enough to list it and to render it again."""

    publication: str
    number: int
    issue_date: date
    subject: str
    path: Path
    published_at: datetime | None
    # Names of the segments it went to, when it went to part of the list only.
    segments: tuple[str, ...] = ()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def publish_issue(session: Session, issue, *, clock: Clock) -> PublishedIssue:
    """Show ``issue`` (a loaded content ``Issue``) in the archive; publishing again updates it."""
    row = session.scalars(select(PublishedIssue).where(
        PublishedIssue.publication == issue.publication,
        PublishedIssue.number == issue.number)).first()
    if row is None:
        row = PublishedIssue(publication=issue.publication, number=issue.number,
                             published_at=clock.now())
        session.add(row)
    row.issue_date = issue.date
    row.subject = issue.subject
    row.issue_path = str(Path(issue.source_path).resolve())
    session.flush()
    return row


def _sent_issues(session: Session, publication: str) -> list[ArchivedIssue]:
    try:
        from ..delivery.models import SendRun
    except ImportError:  # delivery tables not installed: only explicit publications count
        return []
    query = select(SendRun).where(SendRun.publication == publication,
                                  SendRun.is_test.is_(False))
    started = getattr(SendRun, "started_at", None)
    if started is not None:
        query = query.where(started.is_not(None))
    entries = []
    for run in session.scalars(query):
        entries.append(ArchivedIssue(
            publication=run.publication, number=run.issue_number, issue_date=run.issue_date,
            subject=run.subject, path=Path(run.issue_path),
            published_at=_aware(getattr(run, "started_at", None)),
            segments=((run.segment_name or run.segment,) if getattr(run, "segment", None)
                      else ())))
    return entries


def archived_issues(session: Session, publication: str) -> list[ArchivedIssue]:
    """Every archived issue of ``publication``, newest first, one entry per issue number."""
    by_number: dict[int, ArchivedIssue] = {}
    published = session.scalars(select(PublishedIssue).where(
        PublishedIssue.publication == publication))
    candidates = [ArchivedIssue(p.publication, p.number, p.issue_date, p.subject,
                                Path(p.issue_path), _aware(p.published_at)) for p in published]
    candidates += _sent_issues(session, publication)
    for entry in candidates:
        known = by_number.get(entry.number)
        # The first time an issue went out is its publication date; the latest file is the
        # one to render (a later publish may point at a corrected file).
        if known is None:
            by_number[entry.number] = entry
            continue
        # Part of the list only if every send of it went to a segment.
        segments = (tuple(dict.fromkeys(known.segments + entry.segments))
                    if known.segments and entry.segments else ())
        if entry.published_at and known.published_at and entry.published_at < known.published_at:
            by_number[entry.number] = ArchivedIssue(
                entry.publication, entry.number, entry.issue_date, entry.subject,
                known.path, entry.published_at, segments)
        else:
            by_number[entry.number] = replace(known, segments=segments)
    return sorted(by_number.values(), key=lambda e: (e.issue_date, e.number), reverse=True)


def find_archived(session: Session, publication: str, number: int) -> ArchivedIssue | None:
    """The archived issue ``number`` of ``publication``, or None when it was never sent."""
    for entry in archived_issues(session, publication):
        if entry.number == number:
            return entry
    return None
