"""Recurring publication rules at work: each occurrence sends the month's ready issue, once.

An occurrence is claimed by inserting its row, whose ``occurrence_key`` (``pvd@2025-03``) is
unique; the send run is created under the same key.  So the occurrence of a month is
handled once, whichever scheduler gets there first and however often it is retried.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import content, render
from ..errors import ContentError, RenderError, ScheduleNotFound
from ..project import Project
from ..settings import Publication
from ..transports import Transport
from . import notify
from .lifecycle import OccurrenceOutcome, check_occurrence, initial_occurrence
from .models import ScheduledSend, ScheduleOccurrence
from .pipeline import WAITING, Job, Outcome, send_job
from .rules import month_key
from .service import (
    ACTIVE_STATES,
    decide,
    describe_delay,
    grace_of,
    is_stale,
    stored_path,
)

__all__ = [
    "armed_at",
    "find_ready_issue",
    "get_occurrence",
    "list_occurrences",
    "occurrence_key",
    "run_occurrence",
]

log = logging.getLogger("letterpress.schedule")

Occ = OccurrenceOutcome

AMBIGUOUS = "several issues are marked ready"


def occurrence_key(publication: Publication, planned_at: datetime) -> str:
    """The key of a recurring rule's occurrence: one per publication and (local) month."""
    return f"{publication.slug}@{month_key(planned_at, publication.tz)}"


def list_occurrences(project: Project, *, limit: int = 20) -> list[ScheduleOccurrence]:
    """What the recurring rules did, newest first."""
    with project.session() as session:
        query = select(ScheduleOccurrence).where(ScheduleOccurrence.outcome != Occ.ARMED)
        query = query.order_by(ScheduleOccurrence.planned_at.desc(),
                               ScheduleOccurrence.id.desc()).limit(limit)
        return list(session.scalars(query).all())


def _claim_occurrence(project: Project, publication: Publication, planned_at: datetime,
                      outcome: OccurrenceOutcome, detail: str = "", manual: bool = False):
    """Insert the occurrence row (the claim); returns (row, won)."""
    return _claim_occurrence_key(project, publication, occurrence_key(publication, planned_at),
                                 planned_at, outcome, detail, manual)


def _claim_occurrence_key(project: Project, publication: Publication, key: str,
                          planned_at: datetime, outcome: OccurrenceOutcome, detail: str = "",
                          manual: bool = False):
    """Insert the row of ``key``; a manual run-now may also take over a missed/failed one.

    ``outcome`` must be a first outcome of the lifecycle (``ScheduleTransitionError``).
    """
    outcome = initial_occurrence(outcome)
    now = project.clock.now()
    try:
        with project.session() as session:
            row = ScheduleOccurrence(publication=publication.slug, occurrence_key=key,
                                     planned_at=planned_at, outcome=outcome, detail=detail,
                                     created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            return row, True
    except IntegrityError:
        pass
    with project.session() as session:
        row = session.scalars(select(ScheduleOccurrence)
                              .where(ScheduleOccurrence.occurrence_key == key)).one()
        if manual and row.outcome in (Occ.MISSED, Occ.FAILED):
            won = session.execute(
                update(ScheduleOccurrence)
                .where(ScheduleOccurrence.id == row.id,
                       ScheduleOccurrence.outcome == row.outcome)
                .values(outcome=check_occurrence(row.outcome, Occ.RUNNING),
                        detail="sending (run-now)", updated_at=now)
            ).rowcount == 1
            session.refresh(row)
            return row, won
        return row, False


def _update_occurrence(project: Project, occurrence_id: int, **values: Any) -> None:
    """Record progress on an occurrence row (issue path, run id, detail), not its outcome."""
    if "outcome" in values:
        raise TypeError("an occurrence's outcome changes by a compare-and-set (finish)")
    values.setdefault("updated_at", project.clock.now())
    with project.session() as session:
        session.execute(update(ScheduleOccurrence)
                        .where(ScheduleOccurrence.id == occurrence_id).values(**values))


def find_ready_issue(project: Project, publication: Publication, planned_at: datetime):
    """The issue of ``publication`` dated in the occurrence's month and marked ready.

    Returns (issue or None, explanation).  Two ready issues for one month is an error: we
    would rather send nothing than the wrong one.
    """
    settings = project.settings
    month = month_key(planned_at, publication.tz)
    ready, others, broken = [], [], []
    files = sorted(p for p in settings.issues_dir.rglob("*") if p.suffix in (".yaml", ".yml"))
    for path in files:
        try:
            issue = content.load_issue(path, settings)
        except ContentError as exc:
            broken.append((path, exc))
            continue
        if issue.publication != publication.slug or issue.date.strftime("%Y-%m") != month:
            continue
        (ready if issue.status == "ready" else others).append(issue)
    if len(ready) == 1:
        return ready[0], ""
    if len(ready) > 1:
        names = ", ".join(i.source_path.name for i in ready)
        return None, f"{AMBIGUOUS} for {month} ({names}); leave one"
    detail = f"no issue of {publication.slug} dated {month} is marked `status: ready`"
    if others:
        detail += " (drafts: " + ", ".join(i.source_path.name for i in others) + ")"
    if broken:
        detail += "; files that do not load: " + "; ".join(
            f"{p.name}: {len(e.problems)} problem(s)" for p, e in broken)
    return None, detail


def _explicitly_scheduled(project: Project, issue) -> ScheduledSend | None:
    """A pending or running one-off schedule of this issue, if an editor made one."""
    with project.session() as session:
        return session.scalars(select(ScheduledSend).where(
            ScheduledSend.publication == issue.publication,
            ScheduledSend.issue_number == issue.number,
            ScheduledSend.state.in_(ACTIVE_STATES))).first()


def run_occurrence(project: Project, publication_slug: str, planned_at: datetime, *,
                   transport: Transport | None = None, stop: threading.Event | None = None,
                   manual: bool = False) -> Outcome:
    """Handle one occurrence of a publication's recurring rule, exactly once."""
    publication = project.settings.publication(publication_slug)
    now = project.clock.now()
    month = month_key(planned_at, publication.tz)
    if not manual:
        decision = decide(planned_at, now, grace_of(publication))
        if decision == "wait":
            return Outcome(WAITING, acted=False)
        if decision == "missed":
            detail = (f"the scheduler was not running at "
                      f"{planned_at.astimezone(publication.tz):%Y-%m-%d %H:%M %Z} and the "
                      f"grace period of {publication.grace_period_hours:g} h is over; "
                      "nothing was sent")
            row, won = _claim_occurrence(project, publication, planned_at, Occ.MISSED, detail)
            if won:
                log.warning("%s missed: %s", row.occurrence_key, detail)
                notify.notify_occurrence(
                    project, publication, row, Occ.MISSED, detail, reason="late",
                    params={"late": describe_delay(now - planned_at),
                            "grace": f"{publication.grace_period_hours:g}"})
                return Outcome(Occ.MISSED, detail=detail)
            return Outcome(row.outcome, row.run_id, row.detail, acted=False)
    row, won = _claim_occurrence(project, publication, planned_at, Occ.RUNNING, "sending",
                                 manual=manual)
    if not won and not (row.outcome == Occ.RUNNING
                        and (row.run_id is not None or is_stale(project, row.updated_at))):
        return Outcome(row.outcome, row.run_id, row.detail, acted=False)

    def finish(outcome: OccurrenceOutcome, detail: str, reason: str, counts=None, run_id=None,
               **params: object) -> Outcome:
        # Compare-and-set: if two schedulers end up finishing the same occurrence, only one
        # records it and tells the editors.
        outcome = check_occurrence(Occ.RUNNING, outcome)
        with project.session() as session:
            won = session.execute(
                update(ScheduleOccurrence)
                .where(ScheduleOccurrence.id == row.id, ScheduleOccurrence.outcome == Occ.RUNNING)
                .values(outcome=outcome, detail=detail, run_id=run_id,
                        updated_at=project.clock.now())).rowcount == 1
        if won:
            level = logging.INFO if outcome == Occ.SENT else logging.WARNING
            log.log(level, "%s %s: %s", row.occurrence_key, outcome, detail)
            notify.notify_occurrence(project, publication, row, outcome, detail, counts=counts,
                                     reason=reason, params={"month": month, **params})
        return Outcome(outcome, run_id, detail, acted=won)

    rendered = None
    if row.run_id is None:
        issue, why = find_ready_issue(project, publication, planned_at)
        if issue is None:
            # Two ready issues is an editorial mistake to fix, not an absent letter.
            if why.startswith(AMBIGUOUS):
                return finish(Occ.FAILED, why, "ambiguous")
            return finish(Occ.MISSED, why, "no_ready")
        explicit = _explicitly_scheduled(project, issue)
        if explicit is not None:
            local = explicit.planned_at.astimezone(publication.tz)
            return finish(Occ.SKIPPED, f"{issue.identity} has its own schedule ({explicit.id}, "
                          f"{local:%Y-%m-%d %H:%M %Z}), which takes precedence over the rule",
                          "own_schedule", when=f"{local:%Y-%m-%d %H:%M %Z}")
        try:
            rendered = render.render_issue(issue, project.settings)
        except RenderError as exc:
            return finish(Occ.FAILED, f"{issue.source_path.name} does not build: {exc}",
                          "broken", path=issue.source_path.name)
        _update_occurrence(project, row.id, issue_path=stored_path(project, issue.source_path))
    job = Job(key=row.occurrence_key, list_name=publication.default_list, run_id=row.run_id,
              ref=f"R{row.id}", running_state=Occ.RUNNING, done_state=Occ.SENT,
              failed_state=Occ.FAILED, already_sent_state=Occ.SKIPPED,
              set_run=lambda run_id: _update_occurrence(project, row.id, run_id=run_id),
              finish=finish, note=lambda detail: _update_occurrence(project, row.id,
                                                                    detail=detail))
    return send_job(project, job, publication, transport=transport, stop=stop,
                    rendered=rendered)


def get_occurrence(project: Project, occurrence_id: int) -> ScheduleOccurrence:
    """One occurrence of a recurring rule, or ``ScheduleNotFound``."""
    with project.session() as session:
        row = session.get(ScheduleOccurrence, occurrence_id)
        if row is None:
            raise ScheduleNotFound(f"R{occurrence_id}")
        return row


def armed_at(project: Project, publication: Publication) -> datetime:
    """When a scheduler first watched this publication's rule (recorded on first sight).

    Without it, the very first start would report last month's occurrence as missed.
    """
    key = f"{publication.slug}@armed"
    with project.session() as session:
        row = session.scalars(select(ScheduleOccurrence)
                              .where(ScheduleOccurrence.occurrence_key == key)).one_or_none()
    if row is None:
        row, _ = _claim_occurrence_key(project, publication, key, project.clock.now(), Occ.ARMED,
                                       f"rule {publication.schedule!r} first watched")
    return row.planned_at
