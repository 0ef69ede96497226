"""Reading the aggregate counts back: per link, per day, for one issue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import IssueLink, LinkClick, OpenCount

__all__ = ["ClickSummary", "LinkCount", "click_summary", "open_summary"]


@dataclass(frozen=True)
class LinkCount:
    """One link of an issue with its clicks by people and by scanners."""

    link_id: str
    url: str
    clicks: int
    scanner: int


@dataclass(frozen=True)
class ClickSummary:
    """The clicks of an issue: the headline excludes scanners, which are counted apart."""

    total: int = 0
    scanner: int = 0
    links: list[LinkCount] = field(default_factory=list)  # most clicked first
    by_day: dict[str, int] = field(default_factory=dict)  # ISO day (UTC) → clicks by people

    def top(self, n: int = 10) -> list[LinkCount]:
        return self.links[:n]

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "scanner": self.scanner,
                "links": [{"link": c.link_id, "url": c.url, "clicks": c.clicks,
                           "scanner": c.scanner} for c in self.links],
                "by_day": self.by_day}


def click_summary(session: Session, publication: str, issue_number: int) -> ClickSummary:
    """Clicks on the links of issue ``publication#issue_number``, every run together."""
    where = (LinkClick.publication == publication, LinkClick.issue_number == issue_number)
    per_link = {link_id: (c, s) for link_id, c, s in session.execute(
        select(LinkClick.link_id, func.sum(LinkClick.clicks), func.sum(LinkClick.scanner))
        .where(*where).group_by(LinkClick.link_id)).all()}
    targets = session.execute(
        select(IssueLink.link_id, IssueLink.url).where(
            IssueLink.publication == publication, IssueLink.issue_number == issue_number)
        .order_by(IssueLink.position)).all()
    links = [LinkCount(link_id, url, int(per_link.get(link_id, (0, 0))[0] or 0),
                       int(per_link.get(link_id, (0, 0))[1] or 0)) for link_id, url in targets]
    links.sort(key=lambda c: (-c.clicks, -c.scanner))
    by_day = {day.isoformat(): int(n) for day, n in session.execute(
        select(LinkClick.day, func.sum(LinkClick.clicks)).where(*where)
        .group_by(LinkClick.day).order_by(LinkClick.day)).all()}
    return ClickSummary(total=sum(c.clicks for c in links), scanner=sum(c.scanner for c in links),
                        links=links, by_day=by_day)


def open_summary(session: Session, publication: str, issue_number: int) -> dict[str, Any]:
    """Pixel loads of an issue: ``{"total", "scanner", "by_day"}`` — a rough indicator only."""
    rows = session.execute(
        select(OpenCount.day, OpenCount.opens, OpenCount.scanner).where(
            OpenCount.publication == publication, OpenCount.issue_number == issue_number)
        .order_by(OpenCount.day)).all()
    return {"total": sum(r[1] for r in rows), "scanner": sum(r[2] for r in rows),
            "by_day": {r[0].isoformat(): r[1] for r in rows}}
