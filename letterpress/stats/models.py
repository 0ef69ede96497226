"""Tables of the aggregate reader statistics: no row names or identifies a reader.

    issue_links   the links of an issue's HTML part, fixed when the issue is sent:
                  (publication, issue number, link id) → target URL
    link_clicks   clicks per link and per day (UTC): a count for people, one for scanners
    open_counts   loads of the open pixel per issue and per day: the same two counts

There is no subscriber, subscription, address, IP address or user agent column anywhere:
the click URL carries none, so none can be stored.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

__all__ = ["IssueLink", "LinkClick", "OpenCount"]


class IssueLink(Base):
    """One distinct link target of one issue's HTML part."""

    __tablename__ = "issue_links"
    __table_args__ = (
        UniqueConstraint("publication", "issue_number", "link_id",
                         name="uq_issue_links_issue_link"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100))
    issue_number: Mapped[int] = mapped_column(Integer)
    link_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)  # order of first appearance
    url: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text, default="")


class LinkClick(Base):
    """Clicks on one link on one day: people (``clicks``) and mail scanners (``scanner``)."""

    __tablename__ = "link_clicks"
    __table_args__ = (
        UniqueConstraint("publication", "issue_number", "link_id", "day",
                         name="uq_link_clicks_link_day"),
        Index("ix_link_clicks_issue", "publication", "issue_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100))
    issue_number: Mapped[int] = mapped_column(Integer)
    link_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    scanner: Mapped[int] = mapped_column(Integer, default=0)


class OpenCount(Base):
    """Loads of an issue's open pixel on one day (a rough indicator, see docs/reports.md)."""

    __tablename__ = "open_counts"
    __table_args__ = (
        UniqueConstraint("publication", "issue_number", "day", name="uq_open_counts_issue_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication: Mapped[str] = mapped_column(String(100))
    issue_number: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    opens: Mapped[int] = mapped_column(Integer, default=0)
    scanner: Mapped[int] = mapped_column(Integer, default=0)
