"""The lateness guard: what is due, what was missed, what was interrupted.

Run by the daemon at start and every few seconds; it takes the project's clock, so its
decisions are tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..project import Project
from .lifecycle import OccurrenceOutcome, ScheduleState
from .models import ScheduledSend, ScheduleOccurrence
from .recurring import armed_at, occurrence_key, run_occurrence
from .rules import parse_rule
from .service import ACTIVE_STATES, decide, grace_of, run_scheduled_send

__all__ = ["Sweep", "sweep"]


@dataclass
class Sweep:
    """What is due now: scheduled sends to fire or resume, rule occurrences to handle."""

    sends: list[int]
    occurrences: list[tuple[str, datetime]]
    missed: list[str]


def sweep(project: Project) -> Sweep:
    """The lateness guard, run at start and periodically.

    Scheduled sends past their grace period are recorded missed (and editors told); those
    within it, and runs left paused or interrupted, are returned to be fired.  For each
    recurring rule, the latest occurrence that has no record is returned when within the
    grace period, else recorded missed.
    """
    now = project.clock.now()
    result = Sweep([], [], [])
    with project.session() as session:
        rows = session.scalars(select(ScheduledSend).where(
            ScheduledSend.state.in_(ACTIVE_STATES), ScheduledSend.planned_at <= now)
            .order_by(ScheduledSend.planned_at)).all()
    for row in rows:
        if row.state == ScheduleState.RUNNING:
            result.sends.append(row.id)
            continue
        publication = project.settings.publication(row.publication)
        if decide(row.planned_at, now, grace_of(publication)) == "missed":
            outcome = run_scheduled_send(project, row.id)
            if outcome.state == ScheduleState.MISSED and outcome.acted:
                result.missed.append(f"schedule {row.id}")
        else:
            result.sends.append(row.id)
    for publication in project.settings.publications.values():
        if not publication.schedule:
            continue
        rule = parse_rule(publication.schedule)
        planned = rule.latest_until(now, publication.tz)
        with project.session() as session:
            existing = session.scalars(select(ScheduleOccurrence).where(
                ScheduleOccurrence.occurrence_key == occurrence_key(publication, planned))
            ).one_or_none()
        if existing is None:  # an occurrence nobody has handled yet
            if decide(planned, now, grace_of(publication)) == "missed":
                if planned < armed_at(project, publication):
                    continue  # before this rule was first watched: nobody expected it
                outcome = run_occurrence(project, publication.slug, planned)
                if outcome.acted:
                    result.missed.append(occurrence_key(publication, planned))
            else:
                result.occurrences.append((publication.slug, planned))
    with project.session() as session:
        interrupted = session.scalars(select(ScheduleOccurrence).where(
            ScheduleOccurrence.outcome == OccurrenceOutcome.RUNNING)).all()
    for occurrence in interrupted:
        if occurrence.publication in project.settings.publications:
            item = (occurrence.publication, occurrence.planned_at)
            if item not in result.occurrences:
                result.occurrences.append(item)
    return result
