"""One-off scheduled sends: approve, record, decide and fire, with an injected clock.

Every path that sends goes through a compare-and-set on the schedule row (or the insertion of
a uniquely keyed occurrence row), then through delivery's ``prepare_run(..., key=…)``, which
is idempotent on that key.  Whoever loses a race walks away; so a restart, a second scheduler
process or a misfire never produces a second send run, and editors are notified once.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select, update

from .. import content, delivery, render
from ..audience.segments import Segment, resolve_segment
from ..errors import ContentError, RenderError, ScheduleError, ScheduleNotFound
from ..project import Project
from ..settings import Publication
from ..transports import Transport
from . import notify
from .lifecycle import ScheduleState, check_schedule, initial_schedule
from .models import ScheduledSend
from .pipeline import Job, Outcome, send_job
from .rules import month_key, parse_rule, to_utc

__all__ = [
    "ACTIVE_STATES",
    "ATTENTION_STATES",
    "REPLACEABLE_STATES",
    "Decision",
    "Outcome",
    "Upcoming",
    "cancel_scheduled",
    "decide",
    "describe_delay",
    "get_scheduled",
    "grace_of",
    "is_stale",
    "list_scheduled",
    "parse_planned_time",
    "run_scheduled_send",
    "schedule_issue",
    "stored_path",
    "upcoming",
]

log = logging.getLogger("letterpress.schedule")

Decision = Literal["wait", "fire", "missed"]
S = ScheduleState
ACTIVE_STATES = (S.SCHEDULED, S.RUNNING)
# Needing an editor's look: listed with the pending ones.
ATTENTION_STATES = (S.MISSED, S.REFUSED)
# What --replace cancels; a running one cannot be replaced.
REPLACEABLE_STATES = (S.SCHEDULED, S.REFUSED, S.MISSED)


def decide(planned_at: datetime, now: datetime, grace: timedelta) -> Decision:
    """Before the planned time: wait; within the grace period after it: fire; later: missed."""
    if now < planned_at:
        return "wait"
    if now - planned_at <= grace:
        return "fire"
    return "missed"


def grace_of(publication: Publication) -> timedelta:
    """How late a send may still leave after its planned time."""
    return timedelta(hours=publication.grace_period_hours)


def parse_planned_time(text: str, publication: Publication) -> datetime:
    """``YYYY-MM-DD HH:MM`` in the publication's zone (or ISO 8601 with an offset) → aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise ScheduleError(
            f"cannot read the time {text!r}: expected \"YYYY-MM-DD HH:MM\" "
            f"({publication.timezone} time)") from None
    if value.tzinfo is None:
        return to_utc(value, publication.tz)
    return to_utc(value.astimezone(publication.tz).replace(tzinfo=None), publication.tz)


def stored_path(project: Project, path: Path) -> str:
    """Issue paths inside the project are stored relative, so the project can move."""
    path = path.resolve()
    try:
        return str(path.relative_to(project.settings.project_dir))
    except ValueError:
        return str(path)


def _resolve(project: Project, stored: str) -> Path:
    path = Path(stored)
    return path if path.is_absolute() else project.settings.project_dir / path


# --------------------------------------------------------------------------- approving

def schedule_issue(project: Project, issue_path: str | Path, at: str | datetime, *,
                   list_name: str | None = None, replace: bool = False,
                   segment: str | None = None, where: str | None = None) -> ScheduledSend:
    """Validate and render the issue now, record the approved hashes, and plan its send.

    ``segment`` (a name from the publication's segments) or ``where`` (an expression) limits
    the send to that part of the list; the expression is approved now and stored.

    A broken issue raises ``ContentError``/``RenderError`` here, not at send time, and one
    whose built email has an error :func:`~letterpress.render.lint_errors` reports raises
    ``ScheduleError``.  An issue
    already scheduled raises ``ScheduleError`` unless ``replace`` (which cancels the older one).
    """
    settings, clock = project.settings, project.clock
    path = content.issue_file_path(issue_path, settings.project_dir)
    issue = content.load_issue(path, settings)
    if issue.status != "ready":
        raise ScheduleError(f"{path.name} is a draft: set `status: ready` in the issue once it "
                            "is approved, then schedule it")
    rendered = render.render_issue(issue, settings)
    errors = render.lint_errors(rendered)
    if errors:
        # What `check` calls an error in the built email is never approved for the list.
        raise ScheduleError(f"{path.name}: the built email has {len(errors)} error(s); fix "
                            f"them (`letterpress check {path.name}` lists them all), then "
                            "schedule it: " + "; ".join(str(p) for p in errors[:5]))
    publication = settings.publication(issue.publication)
    list_name = list_name or publication.default_list
    if list_name not in publication.lists:
        raise ScheduleError(f"list {list_name!r} does not belong to {publication.slug} "
                            f"(its lists: {', '.join(publication.lists)})")
    chosen = resolve_segment(dict(publication.segments), name=segment, where=where)
    planned = at if isinstance(at, datetime) else parse_planned_time(at, publication)
    if planned.tzinfo is None:
        raise ScheduleError("the planned time must carry a time zone")
    now = clock.now()
    if planned <= now:
        local = planned.astimezone(publication.tz)
        raise ScheduleError(f"{local:%Y-%m-%d %H:%M %Z} is in the past; pick a later time "
                            "(or send it now with `letterpress send`)")

    with project.session() as session:
        sent = delivery.find_run(session, publication.slug, issue.number, list_name)
        if sent is not None:
            # prepare_run would refuse it at send time; say so while the editor is here.
            raise ScheduleError(f"{issue.identity} already has send run {sent.id} to list "
                                f"{list_name!r} ({sent.state}); see `letterpress runs`")
        earlier = session.scalars(
            select(ScheduledSend).where(
                ScheduledSend.publication == publication.slug,
                ScheduledSend.issue_number == issue.number,
                ScheduledSend.state.in_((S.RUNNING, *REPLACEABLE_STATES)),
            ).order_by(ScheduledSend.id)
        ).all()
        for row in earlier:
            if row.state == S.RUNNING:
                raise ScheduleError(f"{issue.identity} is being sent right now (schedule {row.id})")
            if row.state == S.SCHEDULED and not replace:
                local = row.planned_at.astimezone(publication.tz)
                raise ScheduleError(
                    f"{issue.identity} is already scheduled (schedule {row.id}, "
                    f"{local:%Y-%m-%d %H:%M %Z}); use --replace to approve the current file "
                    "and the new time")
        key = (f"{publication.slug}#{issue.number}@{planned:%Y%m%dT%H%MZ}"
               f"-{secrets.token_hex(4)}")
        row = ScheduledSend(
            publication=publication.slug, issue_number=issue.number,
            issue_path=stored_path(project, path), subject=rendered.subject,
            list_name=list_name, approved_content_hash=rendered.content_hash,
            approved_source_hash=issue.source_hash, planned_at=planned,
            state=initial_schedule(S.SCHEDULED),
            occurrence_key=key, message="", created_at=now, updated_at=now,
            segment_name=chosen.name if chosen else None,
            segment=chosen.canonical if chosen else None,
        )
        session.add(row)
        session.flush()
        for old in earlier:
            if replace and old.state in REPLACEABLE_STATES:
                old.state = check_schedule(old.state, S.CANCELLED)
                old.message = f"replaced by schedule {row.id}"
                old.updated_at = now
        log.info("scheduled %s to %s at %s (schedule %s)", issue.identity, list_name,
                 planned.isoformat(), row.id)
        return row


def get_scheduled(project: Project, schedule_id: int) -> ScheduledSend:
    """One scheduled send, or ``ScheduleNotFound``."""
    with project.session() as session:
        row = session.get(ScheduledSend, schedule_id)
        if row is None:
            raise ScheduleNotFound(schedule_id)
        return row


def list_scheduled(project: Project, *, include_past: bool = False) -> list[ScheduledSend]:
    """Scheduled sends, soonest first; only pending and running ones unless ``include_past``."""
    with project.session() as session:
        query = select(ScheduledSend).order_by(ScheduledSend.planned_at, ScheduledSend.id)
        if not include_past:
            query = query.where(ScheduledSend.state.in_(ACTIVE_STATES + ATTENTION_STATES))
        return list(session.scalars(query).all())


def cancel_scheduled(project: Project, schedule_id: int) -> ScheduledSend:
    """Cancel a send that has not started; a running send is stopped with the daemon instead."""
    now = project.clock.now()
    with project.session() as session:
        row = session.get(ScheduledSend, schedule_id)
        if row is None:
            raise ScheduleNotFound(schedule_id)
        if row.state == S.RUNNING:
            raise ScheduleError(f"schedule {schedule_id} is being sent (run {row.run_id}); "
                                "stop it with SIGTERM to the scheduler, it can be resumed")
        if row.state in (S.DONE, S.CANCELLED):
            raise ScheduleError(f"schedule {schedule_id} is already {row.state}")
        result = session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == schedule_id, ScheduledSend.state == row.state)
            .values(state=check_schedule(row.state, S.CANCELLED),
                    message="cancelled by an editor", updated_at=now))
        if result.rowcount != 1:
            raise ScheduleError(f"schedule {schedule_id} changed meanwhile; look again")
        session.refresh(row)
        return row


@dataclass(frozen=True)
class Upcoming:
    """One future send, for ``schedule list``."""

    when: datetime  # UTC
    publication: str
    what: str  # "schedule 3: pvd#42 → pvd" or "rule 'third tuesday 10:00'"
    schedule_id: int | None = None


def upcoming(project: Project, *, per_rule: int = 3) -> list[Upcoming]:
    """Pending scheduled sends and the next occurrences of each publication's rule."""
    now = project.clock.now()
    items = [
        Upcoming(row.planned_at, row.publication,
                 f"{row.publication}#{row.issue_number} to list {row.list_name} "
                 f"({row.subject})", row.id)
        for row in list_scheduled(project) if row.state == S.SCHEDULED
    ]
    for pub in project.settings.publications.values():
        if pub.schedule:
            rule = parse_rule(pub.schedule)
            for when in rule.upcoming(now, pub.tz, per_rule):
                items.append(Upcoming(when, pub.slug,
                                      f"rule {pub.schedule!r}: the issue marked ready for "
                                      f"{month_key(when, pub.tz)}"))
    return sorted(items, key=lambda u: (u.when, u.publication))


# --------------------------------------------------------------------------- firing

def _set_state(project: Project, schedule_id: int, expected: tuple[str, ...],
               **values: Any) -> bool:
    """Compare-and-set the state of a schedule row; True when this process won.

    The row is updated only while its state is one of ``expected``; a ``state`` among the
    values must be reachable from each of them (else ``ScheduleTransitionError``, before
    anything is written).  Without one, the row keeps its state (progress, run id).
    """
    if "state" in values:
        values["state"] = check_schedule(expected, values["state"])
    values.setdefault("updated_at", project.clock.now())
    with project.session() as session:
        result = session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == schedule_id, ScheduledSend.state.in_(expected))
            .values(**values))
        return result.rowcount == 1


def _check_approved(project: Project, row: ScheduledSend):
    """Re-load and re-render: (rendered, "", "") when it is what was approved, else
    (None, why, "broken" | "changed")."""
    path = _resolve(project, row.issue_path)
    try:
        issue = content.load_issue(path, project.settings)
        rendered = render.render_issue(issue, project.settings)
    except FileNotFoundError:
        return None, f"{row.issue_path} no longer exists", "broken"
    except (ContentError, RenderError) as exc:
        return None, f"{row.issue_path} no longer builds:\n{exc}", "broken"
    if issue.source_hash != row.approved_source_hash or \
            rendered.content_hash != row.approved_content_hash:
        what = "file" if issue.source_hash != row.approved_source_hash else "rendered email"
        return None, (f"the {what} of {row.issue_path} changed after it was approved "
                      f"(approved {row.approved_content_hash[:12]}, now "
                      f"{rendered.content_hash[:12]}); check it and reschedule with "
                      "`letterpress schedule ISSUE --at … --replace`"), "changed"
    return rendered, "", ""


def run_scheduled_send(project: Project, schedule_id: int, *, transport: Transport | None = None,
                       stop: threading.Event | None = None, manual: bool = False) -> Outcome:
    """Fire (or resume) one scheduled send if it is due and still what was approved.

    ``manual`` is ``schedule run-now``: it ignores the planned time and the grace period and
    may pick up a missed or failed send, but still refuses changed content.
    """
    clock = project.clock
    row = get_scheduled(project, schedule_id)
    publication = project.settings.publication(row.publication)
    rendered = None
    if row.state == S.RUNNING:
        if row.run_id is None and not is_stale(project, row.updated_at):
            # Claimed by another scheduler that is creating the run right now.
            return Outcome(row.state, acted=False)
        # Otherwise paused or interrupted: resume the same run.
    elif row.state == S.SCHEDULED or (manual and row.state in (S.MISSED, S.FAILED)):
        if not manual:
            decision = decide(row.planned_at, clock.now(), grace_of(publication))
            if decision == "wait":
                return Outcome(row.state, acted=False)
            if decision == "missed":
                late = clock.now() - row.planned_at
                detail = (f"the scheduler was not running at the planned time; "
                          f"{describe_delay(late)} late is beyond the grace period of "
                          f"{publication.grace_period_hours:g} h. Nothing was sent: "
                          f"send it with `letterpress schedule run-now {row.id}`")
                if _set_state(project, row.id, (S.SCHEDULED,), state=S.MISSED, message=detail):
                    log.warning("schedule %s missed: %s", row.id, detail)
                    notify.notify_schedule(project, row, S.MISSED, detail, reason="late",
                                           params={"late": describe_delay(late),
                                                   "grace": f"{publication.grace_period_hours:g}"})
                    return Outcome(S.MISSED, detail=detail)
                return Outcome(get_scheduled(project, row.id).state, acted=False)
        rendered, problem, reason = _check_approved(project, row)
        if rendered is None:
            if _set_state(project, row.id, (S.SCHEDULED, S.MISSED, S.FAILED),
                          state=S.REFUSED, message=problem):
                log.error("schedule %s refused: %s", row.id, problem)
                notify.notify_schedule(project, row, S.REFUSED, problem, reason=reason)
                return Outcome(S.REFUSED, detail=problem)
            return Outcome(get_scheduled(project, row.id).state, acted=False)
        if not _set_state(project, row.id, (row.state,), state=S.RUNNING,
                          message="sending"):
            return Outcome(get_scheduled(project, row.id).state, acted=False)
        log.info("schedule %s: sending %s#%s to %s", row.id, row.publication,
                 row.issue_number, row.list_name)
    else:
        return Outcome(row.state, row.run_id, row.message, acted=False)
    if row.run_id is None and rendered is None:
        # Interrupted between claiming and preparing: check the content again.
        rendered, problem, reason = _check_approved(project, row)
        if rendered is None:
            return _job_of(project, row).finish(S.FAILED, problem, reason)
    return send_job(project, _job_of(project, row), publication, transport=transport,
                    stop=stop, rendered=rendered)


def _job_of(project: Project, row: ScheduledSend) -> Job:
    """The pipeline's view of a claimed scheduled send."""

    def set_run(run_id: int) -> None:
        _set_state(project, row.id, (S.RUNNING,), run_id=run_id)
        row.run_id = run_id

    def finish(state: ScheduleState, detail: str, reason: str, counts=None, run_id=None,
               **params: object) -> Outcome:
        won = _set_state(project, row.id, (S.RUNNING,), state=state, message=detail)
        if won:
            level = logging.INFO if state == S.DONE else logging.ERROR
            log.log(level, "schedule %s %s: %s", row.id, state, detail)
            notify.notify_schedule(project, row, state, detail, counts=counts, reason=reason,
                                   params=params)
        return Outcome(state, run_id or row.run_id, detail, acted=won)

    return Job(key=row.occurrence_key, list_name=row.list_name, run_id=row.run_id,
               ref=str(row.id), running_state=S.RUNNING, done_state=S.DONE,
               failed_state=S.FAILED, already_sent_state=S.FAILED,
               set_run=set_run, finish=finish,
               note=lambda detail: _set_state(project, row.id, (S.RUNNING,), message=detail),
               segment=Segment.parse(row.segment, row.segment_name) if row.segment else None)


STALE_CLAIM = timedelta(minutes=10)


def is_stale(project: Project, updated_at: datetime) -> bool:
    """A claim nobody followed up for a while: its process died before creating the run.

    Taking it over is safe: the run is created under the occurrence key, at most once.
    """
    return project.clock.now() - updated_at > STALE_CLAIM


def describe_delay(delta: timedelta) -> str:
    """How late, for people (in hours: the same in every language)."""
    return f"{delta.total_seconds() / 3600:.1f} h"
