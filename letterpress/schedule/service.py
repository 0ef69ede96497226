"""Scheduled sending without APScheduler: approve, record, decide and fire, with an injected clock.

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
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import content, delivery, render
from ..errors import (
    AlreadySent,
    ContentError,
    LetterpressError,
    RenderError,
    ScheduleError,
    ScheduleNotFound,
    SendRunLocked,
)
from ..project import Project
from ..settings import Publication
from . import notify
from .models import ScheduledSend, ScheduleOccurrence
from .rules import month_key, parse_rule, to_utc

__all__ = [
    "Decision",
    "Outcome",
    "Sweep",
    "Upcoming",
    "cancel_scheduled",
    "decide",
    "get_occurrence",
    "get_scheduled",
    "list_occurrences",
    "list_scheduled",
    "occurrence_key",
    "parse_planned_time",
    "run_occurrence",
    "run_scheduled_send",
    "schedule_issue",
    "sweep",
    "upcoming",
]

log = logging.getLogger("letterpress.schedule")

Decision = Literal["wait", "fire", "missed"]
ACTIVE_STATES = ("scheduled", "running")


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


def occurrence_key(publication: Publication, planned_at: datetime) -> str:
    """The key of a recurring rule's occurrence: one per publication and (local) month."""
    return f"{publication.slug}@{month_key(planned_at, publication.tz)}"


def _stored_path(project: Project, path: Path) -> str:
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
                   list_name: str | None = None, replace: bool = False) -> ScheduledSend:
    """Validate and render the issue now, record the approved hashes, and plan its send.

    A broken issue raises ``ContentError``/``RenderError`` here, not at send time.  An issue
    already scheduled raises ``ScheduleError`` unless ``replace`` (which cancels the older one).
    """
    settings, clock = project.settings, project.clock
    path = Path(issue_path)
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).exists() else settings.project_dir / path
    issue = content.load_issue(path, settings)
    if issue.status != "ready":
        raise ScheduleError(f"{path.name} is a draft: set `status: ready` in the issue once it "
                            "is approved, then schedule it")
    rendered = render.render_issue(issue, settings)
    publication = settings.publication(issue.publication)
    list_name = list_name or publication.default_list
    if list_name not in publication.lists:
        raise ScheduleError(f"list {list_name!r} does not belong to {publication.slug} "
                            f"(its lists: {', '.join(publication.lists)})")
    planned = at if isinstance(at, datetime) else parse_planned_time(at, publication)
    if planned.tzinfo is None:
        raise ScheduleError("the planned time must carry a time zone")
    now = clock.now()
    if planned <= now:
        local = planned.astimezone(publication.tz)
        raise ScheduleError(f"{local:%Y-%m-%d %H:%M %Z} is in the past; pick a later time "
                            "(or send it now with `letterpress send`)")

    with project.session() as session:
        earlier = session.scalars(
            select(ScheduledSend).where(
                ScheduledSend.publication == publication.slug,
                ScheduledSend.issue_number == issue.number,
                ScheduledSend.state.in_(("scheduled", "running", "refused", "missed")),
            ).order_by(ScheduledSend.id)
        ).all()
        for row in earlier:
            if row.state == "running":
                raise ScheduleError(f"{issue.identity} is being sent right now (schedule {row.id})")
            if row.state == "scheduled" and not replace:
                local = row.planned_at.astimezone(publication.tz)
                raise ScheduleError(
                    f"{issue.identity} is already scheduled (schedule {row.id}, "
                    f"{local:%Y-%m-%d %H:%M %Z}); use --replace to approve the current file "
                    "and the new time")
        key = (f"{publication.slug}#{issue.number}@{planned:%Y%m%dT%H%MZ}"
               f"-{secrets.token_hex(4)}")
        row = ScheduledSend(
            publication=publication.slug, issue_number=issue.number,
            issue_path=_stored_path(project, path), subject=rendered.subject,
            list_name=list_name, approved_content_hash=rendered.content_hash,
            approved_source_hash=issue.source_hash, planned_at=planned, state="scheduled",
            occurrence_key=key, message="", created_at=now, updated_at=now,
        )
        session.add(row)
        session.flush()
        for old in earlier:
            if replace and old.state in ("scheduled", "refused", "missed"):
                old.state = "cancelled"
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
            query = query.where(ScheduledSend.state.in_(ACTIVE_STATES + ("missed", "refused")))
        return list(session.scalars(query).all())


def list_occurrences(project: Project, *, limit: int = 20) -> list[ScheduleOccurrence]:
    """What the recurring rules did, newest first."""
    with project.session() as session:
        query = select(ScheduleOccurrence).where(ScheduleOccurrence.outcome != "armed")
        query = query.order_by(ScheduleOccurrence.planned_at.desc(),
                                                    ScheduleOccurrence.id.desc()).limit(limit)
        return list(session.scalars(query).all())


def cancel_scheduled(project: Project, schedule_id: int) -> ScheduledSend:
    """Cancel a send that has not started; a running send is stopped with the daemon instead."""
    now = project.clock.now()
    with project.session() as session:
        row = session.get(ScheduledSend, schedule_id)
        if row is None:
            raise ScheduleNotFound(schedule_id)
        if row.state == "running":
            raise ScheduleError(f"schedule {schedule_id} is being sent (run {row.run_id}); "
                                "stop it with SIGTERM to the scheduler, it can be resumed")
        if row.state in ("done", "cancelled"):
            raise ScheduleError(f"schedule {schedule_id} is already {row.state}")
        result = session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == schedule_id, ScheduledSend.state == row.state)
            .values(state="cancelled", message="cancelled by an editor", updated_at=now))
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
        for row in list_scheduled(project) if row.state == "scheduled"
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

@dataclass(frozen=True)
class Outcome:
    """What one attempt at a scheduled send or an occurrence did."""

    state: str  # the row's state/outcome afterwards
    run_id: int | None = None
    detail: str = ""
    acted: bool = True  # False when another process had it, or nothing was due


def _set_state(project: Project, schedule_id: int, expected: tuple[str, ...],
               **values: Any) -> bool:
    """Compare-and-set the state of a schedule row; True when this process won."""
    values.setdefault("updated_at", project.clock.now())
    with project.session() as session:
        result = session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == schedule_id, ScheduledSend.state.in_(expected))
            .values(**values))
        return result.rowcount == 1


def _check_approved(project: Project, row: ScheduledSend):
    """Re-load and re-render; the rendered issue when it is what was approved, else a reason."""
    path = _resolve(project, row.issue_path)
    try:
        issue = content.load_issue(path, project.settings)
        rendered = render.render_issue(issue, project.settings)
    except FileNotFoundError:
        return None, f"{row.issue_path} no longer exists"
    except (ContentError, RenderError) as exc:
        return None, f"{row.issue_path} no longer builds:\n{exc}"
    if issue.source_hash != row.approved_source_hash or \
            rendered.content_hash != row.approved_content_hash:
        what = "file" if issue.source_hash != row.approved_source_hash else "rendered email"
        return None, (f"the {what} of {row.issue_path} changed after it was approved "
                      f"(approved {row.approved_content_hash[:12]}, now "
                      f"{rendered.content_hash[:12]}); check it and reschedule with "
                      "`letterpress schedule ISSUE --at … --replace`")
    return rendered, ""


def run_scheduled_send(project: Project, schedule_id: int, *, transport=None,
                       stop: threading.Event | None = None, manual: bool = False) -> Outcome:
    """Fire (or resume) one scheduled send if it is due and still what was approved.

    ``manual`` is ``schedule run-now``: it ignores the planned time and the grace period and
    may pick up a missed or failed send, but still refuses changed content.
    """
    clock = project.clock
    row = get_scheduled(project, schedule_id)
    publication = project.settings.publication(row.publication)
    rendered = None
    if row.state == "running":
        if row.run_id is None and not _stale(project, row.updated_at):
            # Claimed by another scheduler that is creating the run right now.
            return Outcome(row.state, acted=False)
        # Otherwise paused or interrupted: resume the same run.
    elif row.state == "scheduled" or (manual and row.state in ("missed", "failed")):
        if not manual:
            decision = decide(row.planned_at, clock.now(), grace_of(publication))
            if decision == "wait":
                return Outcome(row.state, acted=False)
            if decision == "missed":
                late = clock.now() - row.planned_at
                detail = (f"the scheduler was not running at the planned time; "
                          f"{_hours(late)} late is beyond the grace period of "
                          f"{publication.grace_period_hours:g} h. Nothing was sent: "
                          f"send it with `letterpress schedule run-now {row.id}`")
                if _set_state(project, row.id, ("scheduled",), state="missed", message=detail):
                    log.warning("schedule %s missed: %s", row.id, detail)
                    notify.notify_schedule(project, row, "missed", detail)
                    return Outcome("missed", detail=detail)
                return Outcome(get_scheduled(project, row.id).state, acted=False)
        rendered, problem = _check_approved(project, row)
        if rendered is None:
            if _set_state(project, row.id, ("scheduled", "missed", "failed"),
                          state="refused", message=problem):
                log.error("schedule %s refused: %s", row.id, problem)
                notify.notify_schedule(project, row, "refused", problem)
                return Outcome("refused", detail=problem)
            return Outcome(get_scheduled(project, row.id).state, acted=False)
        if not _set_state(project, row.id, (row.state,), state="running",
                          message="sending"):
            return Outcome(get_scheduled(project, row.id).state, acted=False)
        log.info("schedule %s: sending %s#%s to %s", row.id, row.publication,
                 row.issue_number, row.list_name)
    else:
        return Outcome(row.state, row.run_id, row.message, acted=False)

    def fail(detail: str) -> Outcome:
        _set_state(project, row.id, ("running",), state="failed", message=detail)
        log.error("schedule %s failed: %s", row.id, detail)
        notify.notify_schedule(project, row, "failed", detail)
        return Outcome("failed", row.run_id, detail)

    run_id = row.run_id
    if run_id is None:
        if rendered is None:  # interrupted between claiming and preparing: check again
            rendered, problem = _check_approved(project, row)
            if rendered is None:
                return fail(problem)
        try:
            run_id = _prepare(project, rendered, row.list_name, row.occurrence_key)
        except AlreadySent as exc:
            return fail(f"nothing sent: {exc}")
        _set_state(project, row.id, ("running",), run_id=run_id)
        row.run_id = run_id
    return _send_and_record(project, row, run_id, transport, stop, publication)


def _prepare(project: Project, rendered, list_name: str, key: str) -> int:
    """The send run of ``key``, created once whoever asks and however often."""
    try:
        with project.session() as session:
            run = delivery.prepare_run(session, rendered, list_name, clock=project.clock,
                                       key=key)
            session.flush()
            return run.id
    except (IntegrityError, OperationalError):
        # Another process created the run of this key between our look-up and our insert
        # (SQLite reports that race as "database is locked"); asking again returns that run.
        with project.session() as session:
            return delivery.prepare_run(session, rendered, list_name, clock=project.clock,
                                        key=key).id


def _send(project: Project, run_id: int, transport, stop, publication: Publication):
    """Run delivery; returns (report, error text or "")."""
    own = transport is None
    if own:
        from ..transports import transport_for

        transport = transport_for(project.settings, publication)
    try:
        return delivery.send_run(project, run_id, transport, stop=stop), ""
    except SendRunLocked as exc:
        return None, f"locked: {exc}"
    except LetterpressError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded as a failure and mailed to the editors
        log.exception("send run %s stopped by an unexpected error", run_id)
        return None, f"unexpected error: {exc.__class__.__name__}: {exc}"
    finally:
        if own:
            transport.close()


def counts_of(report: delivery.RunReport) -> dict[str, int]:
    """The counters worth telling editors: total, then the non-zero outcomes."""
    out = {"total": report.total, "sent": report.sent}
    for name in ("deferred", "failed", "skipped", "uncertain"):
        if getattr(report, name):
            out[name] = getattr(report, name)
    if report.bounced:
        out["hard bounces"] = report.bounced
    return out


def _verdict(report: delivery.RunReport) -> str:
    """done, paused (our stop: resume later) or failed (the run cannot go on by itself)."""
    if report.state == "done":
        return "done"
    if report.state == "paused" and report.stopped:
        return "paused"
    return "failed"


def _send_and_record(project: Project, row: ScheduledSend, run_id: int, transport, stop,
                     publication: Publication) -> Outcome:
    report, error = _send(project, run_id, transport, stop, publication)
    if report is None:
        if error.startswith("locked:"):  # another scheduler holds this run: not ours to record
            return Outcome("running", run_id, error, acted=False)
        detail = f"send run {run_id}: {error}"
        _set_state(project, row.id, ("running",), state="failed", message=detail)
        notify.notify_schedule(project, row, "failed", detail)
        return Outcome("failed", run_id, detail)
    counts = counts_of(report)
    verdict = _verdict(report)
    if verdict == "done":
        detail = "sent: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        if _set_state(project, row.id, ("running",), state="done", message=detail):
            log.info("schedule %s done (run %s): %s", row.id, run_id, detail)
            notify.notify_schedule(project, row, "done", detail, counts=counts)
        return Outcome("done", run_id, detail)
    if verdict == "failed":
        detail = (f"{report.summary()}. Once the cause is fixed, continue it with "
                  f"`letterpress schedule run-now {row.id}`")
        if _set_state(project, row.id, ("running",), state="failed", message=detail):
            log.error("schedule %s failed: %s", row.id, detail)
            notify.notify_schedule(project, row, "failed", detail, counts=counts)
        return Outcome("failed", run_id, detail)
    detail = (f"paused in run {run_id} ({report.sent}/{report.total} sent); "
              "it resumes when the scheduler starts again")
    _set_state(project, row.id, ("running",), message=detail)
    log.warning("schedule %s %s", row.id, detail)
    return Outcome("running", run_id, detail)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"


# --------------------------------------------------------------------------- recurring rules

def _claim_occurrence(project: Project, publication: Publication, planned_at: datetime,
                      outcome: str, detail: str = "", manual: bool = False):
    """Insert the occurrence row (the claim); returns (row, won)."""
    return _claim_occurrence_key(project, publication, occurrence_key(publication, planned_at),
                                 planned_at, outcome, detail, manual)


def _claim_occurrence_key(project: Project, publication: Publication, key: str,
                          planned_at: datetime, outcome: str, detail: str = "",
                          manual: bool = False):
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
        if manual and row.outcome in ("missed", "failed"):
            won = session.execute(
                update(ScheduleOccurrence)
                .where(ScheduleOccurrence.id == row.id,
                       ScheduleOccurrence.outcome == row.outcome)
                .values(outcome="running", detail="sending (run-now)", updated_at=now)
            ).rowcount == 1
            session.refresh(row)
            return row, won
        return row, False


def _update_occurrence(project: Project, occurrence_id: int, **values: Any) -> None:
    values.setdefault("updated_at", project.clock.now())
    with project.session() as session:
        session.execute(update(ScheduleOccurrence)
                        .where(ScheduleOccurrence.id == occurrence_id).values(**values))


STALE_CLAIM = timedelta(minutes=10)


def _stale(project: Project, updated_at: datetime) -> bool:
    """A claim nobody followed up for a while: its process died before creating the run.

    Taking it over is safe: the run is created under the occurrence key, at most once.
    """
    return project.clock.now() - updated_at > STALE_CLAIM


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
        return None, f"several issues are marked ready for {month} ({names}); leave one"
    detail = f"no issue of {publication.slug} dated {month} is marked `status: ready`"
    if others:
        detail += " (drafts: " + ", ".join(i.source_path.name for i in others) + ")"
    if broken:
        detail += "; files that do not load: " + "; ".join(
            f"{p.name}: {len(e.problems)} problem(s)" for p, e in broken)
    return None, detail


def run_occurrence(project: Project, publication_slug: str, planned_at: datetime, *,
                   transport=None, stop: threading.Event | None = None,
                   manual: bool = False) -> Outcome:
    """Handle one occurrence of a publication's recurring rule, exactly once."""
    publication = project.settings.publication(publication_slug)
    now = project.clock.now()
    if not manual:
        decision = decide(planned_at, now, grace_of(publication))
        if decision == "wait":
            return Outcome("waiting", acted=False)
        if decision == "missed":
            detail = (f"the scheduler was not running at "
                      f"{planned_at.astimezone(publication.tz):%Y-%m-%d %H:%M %Z} and the "
                      f"grace period of {publication.grace_period_hours:g} h is over; "
                      "nothing was sent")
            row, won = _claim_occurrence(project, publication, planned_at, "missed", detail)
            if won:
                log.warning("%s missed: %s", row.occurrence_key, detail)
                notify.notify_occurrence(project, publication, row, "missed", detail)
                return Outcome("missed", detail=detail)
            return Outcome(row.outcome, row.run_id, row.detail, acted=False)
    row, won = _claim_occurrence(project, publication, planned_at, "running", "sending",
                                 manual=manual)
    if not won and not (row.outcome == "running"
                        and (row.run_id is not None or _stale(project, row.updated_at))):
        return Outcome(row.outcome, row.run_id, row.detail, acted=False)

    def finish(outcome: str, detail: str, counts=None, run_id=None) -> Outcome:
        _update_occurrence(project, row.id, outcome=outcome, detail=detail, run_id=run_id)
        level = logging.INFO if outcome == "sent" else logging.WARNING
        log.log(level, "%s %s: %s", row.occurrence_key, outcome, detail)
        notify.notify_occurrence(project, publication, row, outcome, detail, counts=counts)
        return Outcome(outcome, run_id, detail)

    run_id = row.run_id
    if run_id is None:
        issue, why = find_ready_issue(project, publication, planned_at)
        if issue is None:
            return finish("missed" if "several" not in why else "failed", why)
        try:
            rendered = render.render_issue(issue, project.settings)
        except RenderError as exc:
            return finish("failed", f"{issue.source_path.name} does not build: {exc}")
        _update_occurrence(project, row.id, issue_path=_stored_path(project, issue.source_path))
        try:
            run_id = _prepare(project, rendered, publication.default_list, row.occurrence_key)
        except AlreadySent as exc:
            return finish("skipped", f"nothing sent: {exc}", run_id=exc.run_id)
        _update_occurrence(project, row.id, run_id=run_id)
    report, error = _send(project, run_id, transport, stop, publication)
    if report is None:
        if error.startswith("locked:"):
            return Outcome("running", run_id, error, acted=False)
        return finish("failed", f"send run {run_id}: {error}", run_id=run_id)
    counts = counts_of(report)
    verdict = _verdict(report)
    if verdict == "done":
        return finish("sent", "sent: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
                      counts=counts, run_id=run_id)
    if verdict == "failed":
        return finish("failed", f"{report.summary()}. Once the cause is fixed, continue it "
                      f"with `letterpress schedule run-now R{row.id}`", counts=counts,
                      run_id=run_id)
    detail = (f"paused in run {run_id} ({report.sent}/{report.total} sent); "
              "it resumes when the scheduler starts again")
    _update_occurrence(project, row.id, detail=detail)
    return Outcome("running", run_id, detail)


def get_occurrence(project: Project, occurrence_id: int) -> ScheduleOccurrence:
    """One occurrence of a recurring rule, or ``ScheduleNotFound``."""
    with project.session() as session:
        row = session.get(ScheduleOccurrence, occurrence_id)
        if row is None:
            raise ScheduleNotFound(f"R{occurrence_id}")
        return row


# --------------------------------------------------------------------------- the sweep

@dataclass
class Sweep:
    """What is due now: scheduled sends to fire or resume, rule occurrences to handle."""

    sends: list[int]
    occurrences: list[tuple[str, datetime]]
    missed: list[str]


def _armed_at(project: Project, publication: Publication) -> datetime:
    """When a scheduler first watched this publication's rule (recorded on first sight).

    Without it, the very first start would report last month's occurrence as missed.
    """
    key = f"{publication.slug}@armed"
    with project.session() as session:
        row = session.scalars(select(ScheduleOccurrence)
                              .where(ScheduleOccurrence.occurrence_key == key)).one_or_none()
    if row is None:
        row, _ = _claim_occurrence_key(project, publication, key, project.clock.now(), "armed",
                                       f"rule {publication.schedule!r} first watched")
    return row.planned_at


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
        if row.state == "running":
            result.sends.append(row.id)
            continue
        publication = project.settings.publication(row.publication)
        if decide(row.planned_at, now, grace_of(publication)) == "missed":
            outcome = run_scheduled_send(project, row.id)
            if outcome.state == "missed" and outcome.acted:
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
                if planned < _armed_at(project, publication):
                    continue  # before this rule was first watched: nobody expected it
                outcome = run_occurrence(project, publication.slug, planned)
                if outcome.acted:
                    result.missed.append(occurrence_key(publication, planned))
            else:
                result.occurrences.append((publication.slug, planned))
    with project.session() as session:
        interrupted = session.scalars(select(ScheduleOccurrence).where(
            ScheduleOccurrence.outcome == "running")).all()
    for occurrence in interrupted:
        if occurrence.publication in project.settings.publications:
            item = (occurrence.publication, occurrence.planned_at)
            if item not in result.occurrences:
                result.occurrences.append(item)
    return result
