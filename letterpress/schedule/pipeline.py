"""The one pipeline of scheduled sending: a claimed job → delivery's ``send`` → its record.

One-off scheduled sends (:mod:`.service`) and recurring occurrences (:mod:`.recurring`) claim
their row differently, then hand a :class:`Job` to :func:`send_job`, which calls
:func:`letterpress.delivery.send` and turns its typed outcome into the row's end and the
editors' notification.  Only the process that moves the row out of ``running`` records and
announces the end (the job's ``finish`` is a compare-and-set).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import delivery
from ..delivery import SendOutcome
from ..errors import AlreadySent
from ..transports import Transport
from .lifecycle import OccurrenceOutcome, ScheduleState

if TYPE_CHECKING:
    from ..audience.segments import Segment
    from ..project import Project
    from ..settings import Publication

__all__ = ["WAITING", "Job", "Outcome", "counts_of", "send_job"]

log = logging.getLogger("letterpress.schedule")

State = ScheduleState | OccurrenceOutcome

# An occurrence whose time has not come: no row, so no state of the lifecycle.
WAITING = "waiting"


@dataclass(frozen=True)
class Outcome:
    """What one attempt at a scheduled send or an occurrence did."""

    # The row's state afterwards (a ScheduleState or OccurrenceOutcome value), or WAITING.
    state: str
    run_id: int | None = None
    detail: str = ""
    acted: bool = True  # False when another process had it, or nothing was due


@dataclass
class Job:
    """A claimed scheduled send or occurrence, as the pipeline sees it.

    ``finish(state, detail, reason, counts=None, run_id=None, **params)`` ends the row (a
    compare-and-set from ``running_state`` that notifies the editors when it wins);
    ``note(detail)`` records progress on a row that stays running; ``set_run(run_id)``
    records the send run.  The states are members of the row's lifecycle
    (:mod:`letterpress.schedule.lifecycle`).
    """

    key: str  # the occurrence key: the send run's key
    list_name: str
    run_id: int | None
    ref: str  # what `letterpress schedule run-now` takes: "7" or "R3"
    running_state: State  # the claimed row's state while it sends
    done_state: State  # DONE (scheduled sends) or SENT (occurrences)
    failed_state: State  # the send could not finish
    already_sent_state: State  # what an issue already sent to the list makes of the row
    set_run: Callable[[int], None]
    finish: Callable[..., Outcome]
    note: Callable[[str], None]
    segment: Segment | None = None  # the part of the list the send goes to (None: all of it)


def counts_of(report: delivery.RunReport) -> dict[str, int]:
    """The counters worth telling editors: total, then the non-zero outcomes."""
    out = {"total": report.total, "sent": report.sent}
    for name in ("deferred", "failed", "skipped", "uncertain"):
        if getattr(report, name):
            out[name] = getattr(report, name)
    if report.bounced:
        out["hard bounces"] = report.bounced
    return out


def send_job(project: Project, job: Job, publication: Publication, *,
             transport: Transport | None, stop: threading.Event | None,
             rendered=None) -> Outcome:
    """Send (or resume) the job's run and record what became of it."""
    own = transport is None
    if own:
        from ..transports import transport_for

        transport = transport_for(project.settings, publication)
    try:
        # Handing over the issue rendered for the approval check saves rendering it twice.
        # share: on PostgreSQL, `letterpress send --resume RUN --share` on other machines
        # can join a scheduled send (SQLite keeps one sender; the flag changes nothing there).
        result = delivery.send(project, transport, run_id=job.run_id, rendered=rendered,
                               list_name=job.list_name, key=job.key, segment=job.segment,
                               stop=stop, share=True,
                               on_prepared=job.set_run if job.run_id is None else None)
    except AlreadySent as exc:
        return job.finish(job.already_sent_state, f"nothing sent: {exc}", "already_sent",
                          run_id=exc.run_id)
    finally:
        if own:
            transport.close()
    run_id, report = result.run_id, result.report
    if result.outcome is SendOutcome.LOCKED:  # another sender has it: not ours to record
        return Outcome(job.running_state, run_id, result.detail, acted=False)
    if report is None:
        return job.finish(job.failed_state, f"send run {run_id}: {result.detail}", "failed",
                          run_id=run_id)
    counts = counts_of(report)
    if result.outcome is SendOutcome.DONE:
        detail = "sent: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        if report.uncertain:
            return job.finish(job.done_state, detail, "sent_uncertain", counts=counts,
                              run_id=run_id, uncertain=report.uncertain, run=run_id)
        return job.finish(job.done_state, detail, "sent", counts=counts, run_id=run_id)
    if result.outcome is SendOutcome.STOPPED:
        detail = (f"paused in run {run_id} ({report.sent}/{report.total} sent); "
                  "it resumes when the scheduler starts again")
        job.note(detail)
        log.warning("%s %s", job.key, detail)
        return Outcome(job.running_state, run_id, detail)
    return job.finish(job.failed_state, f"{report.summary()}. Once the cause is fixed, continue it "
                      f"with `letterpress schedule run-now {job.ref}`", "failed",
                      counts=counts, run_id=run_id)
