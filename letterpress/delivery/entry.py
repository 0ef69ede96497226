"""The one way to send: prepare or resume a run, take the lease, send, judge the outcome.

    result = send(project, transport, rendered=rendered, list_name="pvd")
    if result.outcome is SendOutcome.DONE: ...

``letterpress send``, ``runs retry``, one-off scheduled sends and recurring occurrences all
call :func:`send`; none of them interprets error texts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError, OperationalError

from ..dkim import DkimSigner
from ..errors import LetterpressError, SendRunLocked
from ..transports.base import Transport
from .claims import supports_sharing
from .lifecycle import RunState, SendOutcome
from .progress import ProgressSnapshot
from .report import RunReport
from .runs import prepare_run
from .sender import send_run

if TYPE_CHECKING:
    from ..audience.segments import Segment
    from ..project import Project
    from ..render import RenderedIssue

__all__ = ["SendResult", "send"]

log = logging.getLogger("letterpress.delivery")


@dataclass(frozen=True)
class SendResult:
    """What one call of :func:`send` did: its verdict, the run and its report.

    ``report`` is None when the run could not be sent at all (``LOCKED``, ``FAILED`` before
    the loop); ``detail`` then says why.
    """

    outcome: SendOutcome
    run_id: int
    report: RunReport | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """The run is done."""
        return self.outcome is SendOutcome.DONE


def _prepare(project: Project, rendered: RenderedIssue, list_name: str, **kwargs: Any) -> int:
    try:
        with project.session() as session:
            run = prepare_run(session, rendered, list_name, clock=project.clock, **kwargs)
            session.flush()
            return run.id
    except (IntegrityError, OperationalError):
        if kwargs.get("key") is None:
            raise
        # Another process created the run of this key between our look-up and our insert
        # (SQLite reports that race as "database is locked"); asking again returns that run.
        with project.session() as session:
            return prepare_run(session, rendered, list_name, clock=project.clock, **kwargs).id


def send(project: Project, transport: Transport, *, run_id: int | None = None,
         rendered: RenderedIssue | None = None, list_name: str | None = None,
         key: str | None = None, again: bool = False, segment: Segment | None = None,
         test_recipients: Sequence[str] | None = None,
         stop: threading.Event | None = None,
         progress: Callable[[ProgressSnapshot], None] | None = None,
         resend_uncertain: bool = False,
         return_path: Callable[[int], str] | None = None,
         on_prepared: Callable[[int], None] | None = None,
         wait_for_retries: bool = True, share: bool = False, **tuning: Any) -> SendResult:
    """Send ``rendered`` to ``list_name`` (or resume run ``run_id``) through ``transport``.

    ``segment`` limits a new run to that part of the list (stored on the run).  Preparing
    is idempotent (see :func:`~letterpress.delivery.prepare_run`): with ``key`` the
    run of that key, else an unfinished run of the same issue and list, is resumed.  Errors
    of preparation (``AlreadySent``, ``UnknownList``, ``RunContentChanged``, a DKIM key that
    cannot be read: ``ConfigError``) are raised, as nothing was sent; everything after
    becomes the result's ``outcome``:

    * ``DONE`` — every row settled (uncertain ones are listed in the report);
    * ``STOPPED`` — ``stop`` was set: the batch in flight was awaited and recorded;
    * ``WAITING`` — ``wait_for_retries=False`` and only deferred rows are left;
    * ``PAUSED`` — the server, the sender's reputation or the bounce breaker paused it;
    * ``LOCKED`` — another sender holds the run;
    * ``FAILED`` — an error stopped it (its text in ``detail``; the run stays resumable).

    ``return_path(delivery_id)`` gives the envelope sender (MAIL FROM, the future Return-Path)
    of each delivery — e.g. a VERP address ``bounces+<signed id>@domain``; by default every
    row uses the publication's sender address.  ``on_prepared(run_id)`` is called once the
    run exists, before anything is sent (a scheduler records it).  ``share`` lets several
    senders send one run together on PostgreSQL (each claims batches with ``SELECT … FOR
    UPDATE SKIP LOCKED``); SQLite keeps one sender per run and a second one gets ``LOCKED``
    with a detail that says so.  ``tuning`` goes to
    :func:`~letterpress.delivery.send_run` (``pause_after``, ``retry_horizon``,
    ``bounce_rate``, ``bounce_window``, ``batch_size``, ``lease_seconds``).
    """
    if run_id is None:
        if rendered is None:
            raise ValueError("send() needs rendered (a new run) or run_id (a resume)")
        if rendered.publication.dkim is not None:
            # A key that cannot be read fails here, before a run exists to be left paused.
            DkimSigner.from_config(rendered.publication.dkim)
        run_id = _prepare(project, rendered, list_name or rendered.publication.default_list,
                          key=key, again=again, test_recipients=test_recipients,
                          segment=segment)
    if on_prepared is not None:
        on_prepared(run_id)
    try:
        report = send_run(project, run_id, transport, stop=stop, progress=progress,
                          resend_uncertain=resend_uncertain, rendered=rendered,
                          return_path=return_path, wait_for_retries=wait_for_retries,
                          share=share, **tuning)
    except SendRunLocked as exc:
        detail = str(exc)
        if not supports_sharing(project.engine):
            detail += ("; SQLite allows a single sender per run (PostgreSQL lets several "
                       "senders share one with --share)")
        return SendResult(SendOutcome.LOCKED, run_id, None, detail)
    except LetterpressError as exc:
        return SendResult(SendOutcome.FAILED, run_id, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - the run is left resumable; the caller records it
        log.exception("send run %s stopped by an unexpected error", run_id)
        return SendResult(SendOutcome.FAILED, run_id, None,
                          f"unexpected error: {exc.__class__.__name__}: {exc}")
    return SendResult(judge(report), run_id, report, report.paused_reason or "")


def judge(report: RunReport) -> SendOutcome:
    """The verdict of a report: done, stopped, waiting or paused."""
    if report.state == RunState.DONE:
        return SendOutcome.DONE
    if report.outcome is not None:
        return report.outcome
    return SendOutcome.STOPPED if report.stopped else SendOutcome.PAUSED
