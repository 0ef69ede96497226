"""Recording an issue's click targets when it is sent: the redirect answers only those."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import IssueLink
from .rewrite import TrackedLink

__all__ = ["link_target", "register_links", "register_rendered"]


def register_links(session: Session, publication: str, number: int,
                   links: Iterable[TrackedLink]) -> int:
    """Record the targets of an issue's click URLs (idempotent); returns how many were new.

    A target already recorded for an id is never changed: mail already delivered keeps
    leading where it led.
    """
    links = list(links)
    if not links:
        return 0
    known = set(session.scalars(select(IssueLink.link_id).where(
        IssueLink.publication == publication, IssueLink.issue_number == number)))
    new = [link for link in links if link.link_id not in known]
    base = len(known)
    for i, link in enumerate(new):
        session.add(IssueLink(publication=publication, issue_number=number,
                              link_id=link.link_id, url=link.url, label=link.label,
                              position=base + i))
    session.flush()
    return len(new)


def link_target(session: Session, publication: str, number: int, link_id: str) -> str | None:
    """The target recorded for a click URL, or None (unknown or altered id)."""
    return session.scalar(select(IssueLink.url).where(
        IssueLink.publication == publication, IssueLink.issue_number == number,
        IssueLink.link_id == link_id))


def register_rendered(project, rendered) -> int:
    """Record the click targets of a rendered issue (a no-op when it has none)."""
    if not getattr(rendered, "links", ()):
        return 0
    with project.session() as session:
        return register_links(session, rendered.publication.slug, rendered.issue.number,
                              rendered.links)
