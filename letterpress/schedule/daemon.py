"""The scheduler daemon: APScheduler 3 over the project's database, calling the schedule service.

Jobs live in APScheduler's SQLAlchemy job store in the project database, so they survive
restarts; they are picklable references (a module-level function and plain arguments: the
project directory and an id), never closures.  The schedule tables remain the source of
truth: a periodic sweep applies the lateness guard, resumes interrupted runs and re-adds
jobs missing from the store.  Exactly-once is enforced by the service (row compare-and-set
plus delivery's keyed send runs), so two daemons on one database can never send twice.

SIGTERM (or the caller's stop event) asks a send in progress to pause; it resumes from the
ledger on the next start.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from ..project import Project
from . import lateness, recurring, service
from .lifecycle import ScheduleState
from .models import ScheduledSend
from .rules import parse_rule

__all__ = [
    "RuleTrigger",
    "SchedulerDaemon",
    "fire_occurrence",
    "fire_rule",
    "fire_scheduled_send",
    "register_scheduled_send",
    "run_scheduler",
    "start_background",
    "unregister_scheduled_send",
]

log = logging.getLogger("letterpress.schedule")

JOBS_TABLE = "apscheduler_jobs"
DEFAULT_SWEEP_SECONDS = 15.0
LIST_HEALTH_SECONDS = 3600.0  # double opt-in reminders and expiry: hourly is plenty


class SharedJobStore(SQLAlchemyJobStore):
    """The SQLAlchemy job store, tolerant of a second scheduler on the same table.

    When two daemons share a database both may pick up the same due job; the one that
    updates or removes it second must not crash its main loop (the service already makes
    the second execution a no-op).
    """

    def update_job(self, job):
        try:
            super().update_job(job)
        except JobLookupError:
            log.debug("job %s was already handled by another scheduler", job.id)

    def remove_job(self, job_id):
        try:
            super().remove_job(job_id)
        except JobLookupError:
            log.debug("job %s was already removed by another scheduler", job_id)

    def shutdown(self):
        # The engine belongs to the project, which disposes of it itself.
        pass


class RuleTrigger(BaseTrigger):
    """An APScheduler trigger for a publication rule ("third tuesday 10:00") in its zone."""

    def __init__(self, rule: str, timezone: str):
        parse_rule(rule)  # fail now, not at the first wake-up
        self.rule = rule
        self.timezone = timezone

    def get_next_fire_time(self, previous_fire_time, now):
        """The first occurrence after the previous one (or from ``now`` for a new job)."""
        rule, tz = parse_rule(self.rule), ZoneInfo(self.timezone)
        after = previous_fire_time or (now - timedelta(microseconds=1))
        return rule.next_after(after.astimezone(UTC), tz)

    def __getstate__(self):
        return {"version": 1, "rule": self.rule, "timezone": self.timezone}

    def __setstate__(self, state):
        self.rule = state["rule"]
        self.timezone = state["timezone"]

    def __str__(self) -> str:
        return f"rule[{self.rule} {self.timezone}]"


# --------------------------------------------------------------------------- job functions

@dataclass
class _Runtime:
    """What a running daemon lends its jobs: the project, the stop event, a transport factory."""

    project: Project
    stop: threading.Event
    transport_factory: object = None
    busy: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


# Jobs are stored as (function, project directory, id) so they can be pickled; a daemon
# registers its live project here so its jobs share its engine and stop event.  This is
# process-local lookup state, not configuration: without a daemon, a job opens the project
# from its directory.
_RUNTIMES: dict[str, _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _runtime(project_dir: str) -> _Runtime:
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(str(Path(project_dir).resolve()))
    if runtime is None:
        runtime = _Runtime(Project.load(project_dir), threading.Event())
    return runtime


def _exclusively(runtime: _Runtime, key: str, work):
    """Run ``work`` unless this process is already doing ``key`` (the DB guards other processes)."""
    with runtime.lock:
        if key in runtime.busy:
            log.debug("%s already in progress in this process", key)
            return None
        runtime.busy.add(key)
    try:
        return work()
    finally:
        with runtime.lock:
            runtime.busy.discard(key)


def _transport(runtime: _Runtime):
    return runtime.transport_factory() if callable(runtime.transport_factory) else None


def fire_scheduled_send(project_dir: str, schedule_id: int) -> str:
    """Job: fire or resume one scheduled send."""
    runtime = _runtime(project_dir)
    if runtime.stop.is_set():
        return "stopping"

    def work():
        transport = _transport(runtime)
        try:
            outcome = service.run_scheduled_send(runtime.project, schedule_id,
                                                 transport=transport, stop=runtime.stop)
        finally:
            if transport is not None:
                transport.close()
        log.info("schedule %s: %s %s", schedule_id, outcome.state, outcome.detail)
        return outcome.state

    return _exclusively(runtime, f"send:{schedule_id}", work) or "busy"


def fire_occurrence(project_dir: str, publication: str, planned_iso: str) -> str:
    """Job: handle one occurrence of a publication's rule (planned time as ISO UTC)."""
    runtime = _runtime(project_dir)
    if runtime.stop.is_set():
        return "stopping"
    planned = datetime.fromisoformat(planned_iso)

    def work():
        transport = _transport(runtime)
        try:
            outcome = recurring.run_occurrence(runtime.project, publication, planned,
                                             transport=transport, stop=runtime.stop)
        finally:
            if transport is not None:
                transport.close()
        log.info("%s occurrence %s: %s %s", publication, planned_iso, outcome.state,
                 outcome.detail)
        return outcome.state

    return _exclusively(runtime, f"rule:{publication}", work) or "busy"


def fire_rule(project_dir: str, publication: str) -> str:
    """Job of the recurring rule: handle the occurrence that has just come due."""
    runtime = _runtime(project_dir)
    pub = runtime.project.settings.publication(publication)
    planned = parse_rule(pub.schedule).latest_until(runtime.project.clock.now(), pub.tz)
    return fire_occurrence(project_dir, publication, planned.isoformat())


# --------------------------------------------------------------------------- the job store

def _job_defaults(grace_seconds: int | None = None) -> dict:
    return {"coalesce": True, "max_instances": 1,
            "misfire_grace_time": grace_seconds}


def _send_job_kwargs(project: Project, row: ScheduledSend) -> dict:
    publication = project.settings.publication(row.publication)
    return {
        "func": fire_scheduled_send,
        "trigger": "date",
        "run_date": row.planned_at,
        "args": [str(project.settings.project_dir), row.id],
        "id": f"send:{row.id}",
        "name": f"{row.publication}#{row.issue_number} to {row.list_name}",
        "replace_existing": True,
        "jobstore": "default",
        **_job_defaults(int(service.grace_of(publication).total_seconds())),
    }


def _scheduler(project: Project) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SharedJobStore(engine=project.engine, tablename=JOBS_TABLE),
                   "local": MemoryJobStore()},
        executors={"default": {"type": "threadpool", "max_workers": 4}},
        job_defaults=_job_defaults(),
        timezone=UTC,
    )


def register_scheduled_send(project: Project, row: ScheduledSend) -> None:
    """Put a scheduled send in the persistent job store (from the CLI, no daemon needed)."""
    scheduler = _scheduler(project)
    scheduler.start(paused=True)  # paused: only writes the job, runs nothing
    try:
        scheduler.add_job(**_send_job_kwargs(project, row))
    finally:
        scheduler.shutdown(wait=False)


def unregister_scheduled_send(project: Project, schedule_id: int) -> None:
    """Remove a scheduled send's job from the store (cancelled or replaced)."""
    store = SharedJobStore(engine=project.engine, tablename=JOBS_TABLE)
    store.remove_job(f"send:{schedule_id}")


# --------------------------------------------------------------------------- the daemon

class SchedulerDaemon:
    """APScheduler wired to the schedule service for one project."""

    def __init__(self, project: Project, stop: threading.Event, *,
                 sweep_seconds: float = DEFAULT_SWEEP_SECONDS, transport_factory=None):
        self.project = project
        self.stop = stop
        self.sweep_seconds = sweep_seconds
        self.project_dir = str(project.settings.project_dir)
        self.runtime = _Runtime(project, stop, transport_factory)
        self.scheduler = _scheduler(project)
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs; a
        # sweep calling back into the scheduler at that moment would wait forever.  The
        # sweep runs under this lock, which shutdown takes first.
        self._sweeping = threading.Lock()

    def start(self) -> None:
        """Register with this process, add the rule and sweep jobs, and start."""
        for pub in self.project.settings.publications.values():
            if pub.schedule:
                parse_rule(pub.schedule)  # a bad rule stops the start, with its reason
        with _RUNTIMES_LOCK:
            _RUNTIMES[self.project_dir] = self.runtime
        self.scheduler.start()
        ruled = {f"rule:{p.slug}" for p in self.project.settings.publications.values()
                 if p.schedule}
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id.startswith("rule:") and job.id not in ruled:
                # The rule was removed from letterpress.toml: forget its stored job.
                self.scheduler.remove_job(job.id, jobstore="default")
        for pub in self.project.settings.publications.values():
            if not pub.schedule:
                continue
            self.scheduler.add_job(
                fire_rule, RuleTrigger(pub.schedule, pub.timezone),
                args=[self.project_dir, pub.slug], id=f"rule:{pub.slug}",
                name=f"{pub.slug} rule {pub.schedule!r}", replace_existing=True,
                jobstore="default",
                **_job_defaults(int(service.grace_of(pub).total_seconds())))
            log.info("%s: recurring rule %r (%s)", pub.slug, pub.schedule, pub.timezone)
        self.scheduler.add_job(self.list_health, "interval", seconds=LIST_HEALTH_SECONDS,
                               id="list-health", jobstore="local",
                               next_run_time=datetime.now(UTC), **_job_defaults(None))
        self.scheduler.add_job(self.sweep, "interval", seconds=self.sweep_seconds,
                               id="sweep", jobstore="local", next_run_time=datetime.now(UTC),
                               **_job_defaults(None))
        if self.project.settings.bounce_url:
            minutes = max(0.1, self.project.settings.bounce_poll_minutes)
            self.scheduler.add_job(self.poll_bounces, "interval", seconds=minutes * 60,
                                   id="bounces", jobstore="local", **_job_defaults(None))
            log.info("bounce mailbox polled every %g min", minutes)
        log.info("scheduler started for %s (sweep every %gs)", self.project_dir,
                 self.sweep_seconds)

    def poll_bounces(self) -> str:
        """Read the bounce mailbox (letterpress.bounces); errors are logged, never fatal."""
        from ..bounces import fetch
        from ..errors import LetterpressError

        def work():
            try:
                report = fetch(self.project, self.project.settings.bounce_url)
            except LetterpressError as exc:
                log.warning("bounce mailbox: %s", exc)
                return "error"
            if report.total:
                log.info("bounce mailbox: %s", report.summary())
            return "done"

        if self.stop.is_set():
            return "stopping"
        return _exclusively(self.runtime, "bounces", work) or "busy"

    def list_health(self) -> None:
        """Double opt-in reminders and expiry of unconfirmed sign-ups (letterpress.audience.health)."""
        if self.stop.is_set():
            return
        try:
            from ..web.reminders import sweep_pending_subscriptions

            factory = self.runtime.transport_factory
            report = sweep_pending_subscriptions(
                self.project, transport_factory=(lambda _pub: factory()) if factory else None)
            if report.reminded or report.expired or report.failed:
                log.info("pending subscriptions: %s", report.summary())
        except Exception:  # noqa: BLE001 - the daemon must outlive it; the next run retries
            log.exception("pending-subscription sweep failed")

    def sweep(self) -> None:
        """Apply the lateness guard and hand due work to the executor."""
        with self._sweeping:
            if not self.stop.is_set():
                self._sweep()

    def _sweep(self) -> None:
        try:
            due = lateness.sweep(self.project)
            for name in due.missed:
                log.warning("missed: %s (waits for `letterpress schedule run-now`)", name)
            now = datetime.now(UTC)
            for schedule_id in due.sends:
                self.scheduler.add_job(
                    fire_scheduled_send, "date", run_date=now,
                    args=[self.project_dir, schedule_id], id=f"due:send:{schedule_id}",
                    replace_existing=True, jobstore="local", **_job_defaults(None))
            for slug, planned in due.occurrences:
                self.scheduler.add_job(
                    fire_occurrence, "date", run_date=now,
                    args=[self.project_dir, slug, planned.isoformat()],
                    id=f"due:rule:{slug}", replace_existing=True, jobstore="local",
                    **_job_defaults(None))
            self._ensure_jobs()
        except Exception:  # noqa: BLE001 - the daemon must outlive a bad sweep; it retries
            log.exception("sweep failed; retrying in %gs", self.sweep_seconds)

    def _ensure_jobs(self) -> None:
        """Every pending scheduled send has its job (added by another process, or lost)."""
        for row in service.list_scheduled(self.project):
            if row.state != ScheduleState.SCHEDULED:
                continue
            job = self.scheduler.get_job(f"send:{row.id}", jobstore="default")
            if job is None and row.planned_at > datetime.now(UTC):
                self.scheduler.add_job(**_send_job_kwargs(self.project, row))
                log.info("schedule %s: job added for %s", row.id, row.planned_at.isoformat())

    def shutdown(self) -> None:
        """Stop taking jobs; a send in progress pauses (stop event) and this waits for it."""
        self.stop.set()
        log.info("scheduler stopping: pausing any send in progress")
        with self._sweeping:
            pass  # a sweep in progress has finished; later ones see the stop event
        try:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
        finally:
            with _RUNTIMES_LOCK:
                if _RUNTIMES.get(self.project_dir) is self.runtime:
                    del _RUNTIMES[self.project_dir]
        log.info("scheduler stopped")


def run_scheduler(project: Project, stop_event: threading.Event, *,
                  sweep_seconds: float = DEFAULT_SWEEP_SECONDS, transport_factory=None,
                  handle_signals: bool = True) -> None:
    """Run the daemon until ``stop_event`` is set (SIGTERM/SIGINT set it in the main thread)."""
    previous = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        def on_signal(signum, _frame):
            log.info("received %s", signal.Signals(signum).name)
            stop_event.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        daemon = SchedulerDaemon(project, stop_event, sweep_seconds=sweep_seconds,
                                 transport_factory=transport_factory)
        try:
            daemon.start()
            while not stop_event.wait(1.0):
                pass
        finally:
            daemon.shutdown()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def start_background(project: Project, stop_event: threading.Event, *,
                     sweep_seconds: float = DEFAULT_SWEEP_SECONDS) -> threading.Thread:
    """The daemon in a thread (for ``letterpress serve --with-scheduler``); set the event to stop."""
    thread = threading.Thread(
        target=run_scheduler, args=(project, stop_event),
        kwargs={"sweep_seconds": sweep_seconds, "handle_signals": False},
        name="letterpress-scheduler", daemon=True)
    thread.start()
    return thread
