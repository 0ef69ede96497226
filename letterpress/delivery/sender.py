"""The send loop: walk a run's ledger, hand messages to a transport, record each outcome.

Crash safety rests on one ordering rule: a batch of rows is committed as ``sending`` *before*
any of it is handed to the transport, and each row is committed as ``sent`` (or deferred or
failed) right after the server answered — in the same commit that marks the next batch
``sending``.  A batch is as large as the number of messages in flight at once (the
transport's connection pool), so after a crash the rows still ``sending`` are exactly the
messages that may or may not have arrived: the *uncertain* set, reported and, by default,
not sent again (``resend_uncertain=True`` sends them again, with the same Message-ID).
A message whose answer never came after it was handed over whole is uncertain too, at once.

What pauses a run: only answers about the server or the sender — connections that fail, and
refusals about the sender (5.7.x policy, authentication, DMARC, blocklists), ``pause_after``
in a row with no success; those readers go back to ``queued``, never failed nor bounced.
Refusals about a reader (5.1.x, 5.2.1, a 550 at RCPT TO) are that reader's outcome and
never count toward it.  A circuit breaker also pauses the run when hard bounces among its
first ``bounce_window`` deliveries exceed ``bounce_rate`` (a stale or bought list burns the
sender's reputation); the audience is told of those bounces only once the window is passed.

Rate and concurrency belong to the transport (:func:`~letterpress.transports.limits_of`):
the batch is as large as its pool allows, and its own rate limiter spaces the messages.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ..audience.links import active_link_keys, link_keys
from ..audience.tokens import TokenSigner
from ..bounces.verp import ReturnPath
from ..errors import SendRunLocked
from ..message import MessageTemplate, new_message_id
from ..stats.links import register_rendered
from ..transports.base import Transport, limits_of
from .claims import SenderPresence, claim_query, recover_dead_senders, supports_sharing
from .handover import Handover
from .lifecycle import DeliveryState, RunState, SendOutcome, check_run
from .models import Delivery, SendRun
from .outcomes import DEFAULT_RETRY_HORIZON
from .progress import ProgressSnapshot
from .recording import OutcomeRecorder, RecorderState
from .report import RunReport
from .runs import (
    SHARED_LEASE,
    RunContentChanged,
    acquire_lease,
    get_run,
    lease_owner_id,
    recover_in_flight,
    release_lease,
    renew_lease,
    run_counts,
    uncertain_rows,
)

if TYPE_CHECKING:
    from ..project import Project
    from ..render import RenderedIssue

__all__ = ["DEFAULT_BOUNCE_RATE", "DEFAULT_BOUNCE_WINDOW", "DEFAULT_PAUSE_AFTER", "RunReport",
           "send_run"]

DEFAULT_PAUSE_AFTER = 20
"""Consecutive failures about the server or the sender, with no success, that pause a run."""

DEFAULT_BOUNCE_RATE = 0.05
DEFAULT_BOUNCE_WINDOW = 500
"""More hard bounces than ``DEFAULT_BOUNCE_RATE`` of the first ``DEFAULT_BOUNCE_WINDOW``
deliveries of a run pause it (normal lists bounce well under 2%)."""

LEASE_SECONDS = 60.0
# Rows in flight per SMTP connection.  Four halves the ledger commits per message.  With DKIM
# a batch also waits for the signing helpers before it goes on the wire; a larger budget
# keeps the connections fed meanwhile (bench_delivery, pool 8, 20,000 readers, three runs
# each: signed 854 → 956 msg/s, unsigned unchanged at 1,227 → 1,196, within noise).
IN_FLIGHT_PER_CONNECTION = 4
IN_FLIGHT_PER_CONNECTION_SIGNED = 12
# Batches on the wire at once (with several connections).  Signed runs keep three, so that
# while the next batch waits for its signatures two are still being sent, not one
# (interleaved with two batches of the same size, pool 8, 20,000 readers: machine busy 1.64
# → 1.72 of 2 cores, signed 1,262 / 1,240 / 1,296 → 1,294 / 1,360 / 1,479 msg/s).
BATCHES_IN_FLIGHT = 2
BATCHES_IN_FLIGHT_SIGNED = 3
_UPDATES: dict[tuple[str, ...], object] = {}  # compiled once per column set
MAX_WAIT_SLICE = 5.0  # while waiting for deferred rows, wake up this often (stop, lease)
READ_AHEAD = 256  # queued rows read per query (they stay queued until marked sending)


@dataclass
class _Row:
    id: int
    subscription_id: int | None
    subscriber_id: int | None
    list_id: int | None
    email: str
    name: str
    message_id: str
    attempts: int
    first_attempt_at: object
    link_key: str = ""  # the subscriber's key, read with the batch (audience.links)


def _render_for(project: Project, run: SendRun) -> RenderedIssue:
    from ..content import load_issue
    from ..render import render_issue

    issue = load_issue(run.issue_path, project.settings)
    return render_issue(issue, project.settings)


def send_run(project: Project, run_id: int, transport: Transport, *,
             progress: Callable[[ProgressSnapshot], None] | None = None,
             stop: threading.Event | None = None, resend_uncertain: bool = False,
             rendered: RenderedIssue | None = None, batch_size: int | None = None,
             retry_horizon: timedelta = DEFAULT_RETRY_HORIZON,
             pause_after: int = DEFAULT_PAUSE_AFTER, wait_for_retries: bool = True,
             lease_seconds: float = LEASE_SECONDS,
             return_path: Callable[[int], str] | None = None,
             bounce_rate: float = DEFAULT_BOUNCE_RATE,
             bounce_window: int = DEFAULT_BOUNCE_WINDOW, share: bool = False) -> RunReport:
    """Send (or resume) run ``run_id`` through ``transport`` until every row is settled.

    The send loop under :func:`letterpress.delivery.send`, which callers use.  Returns when
    the run is done, paused (``stop`` was set — the batch in flight is awaited and recorded
    first —, the server or the sender was refused ``pause_after`` times in a row, or the
    bounce breaker tripped), or — with ``wait_for_retries=False`` — when only deferred rows
    are left.  ``return_path(delivery_id)`` gives each message's envelope sender (MAIL FROM;
    default: the publication's sender address).  With ``share`` on PostgreSQL, several
    senders (threads, processes, machines) send the run together, each claiming its batches
    (:mod:`.claims`); otherwise — and always on SQLite — a run has one sender.  Raises
    :class:`SendRunLocked` when another sender holds the run (and it cannot be shared).
    """
    sender = _Sender(project, run_id, transport, progress=progress, stop=stop,
                     batch_size=batch_size, retry_horizon=retry_horizon,
                     pause_after=pause_after, wait_for_retries=wait_for_retries,
                     lease_seconds=lease_seconds, return_path=return_path,
                     bounce_rate=bounce_rate, bounce_window=bounce_window, share=share)
    return sender.run(resend_uncertain=resend_uncertain, rendered=rendered)


class _Sender(OutcomeRecorder):
    """One sender process's hold on one run."""

    def __init__(self, project: Project, run_id: int, transport: Transport, *, progress,
                 stop, batch_size, retry_horizon, pause_after, wait_for_retries,
                 lease_seconds, return_path, bounce_rate, bounce_window, share):
        self.project = project
        self.clock = project.clock
        self.run_id = run_id
        self.transport = transport
        self.return_path = return_path
        self.bounce_rate = bounce_rate
        self.bounce_window = bounce_window
        self.progress = progress
        self.stop = stop or threading.Event()
        limits = limits_of(transport)
        rate = limits.rate
        self.concurrency = max(1, limits.pool)
        self._rate = rate
        self._batch_given = batch_size
        self._size_batches(signed=False)
        self.retry_horizon = retry_horizon
        self.pause_after = pause_after
        self.wait_for_retries = wait_for_retries
        self.lease_seconds = lease_seconds
        self.owner = lease_owner_id()
        self.shared = share and supports_sharing(project.engine)
        self.lease_name = SHARED_LEASE if self.shared else self.owner
        self.presence: SenderPresence | None = None
        self.state = RecorderState()
        self._started = time.monotonic()
        self._lease_renewed = 0.0
        self.pending: list[dict] = []
        self._buffer: deque[_Row] = deque()
        self._cursor = 0
        self._marked_started = False
        t = Delivery.__table__
        self._columns = (t.c.id, t.c.subscription_id, t.c.subscriber_id, t.c.list_id,
                         t.c.email, t.c.name, t.c.message_id, t.c.attempts,
                         t.c.first_attempt_at)

    def _size_batches(self, *, signed: bool) -> None:
        """Set ``depth`` (batches on the wire at once) and ``batch_size`` from the in-flight
        budget of a signed or unsigned run.

        The budget is how many rows are marked "sending" at once.  It bounds the uncertain
        set after a crash, and how late a mid-run unsubscribe can take effect.  One
        connection keeps one message in flight.  With several connections it is split into
        ``depth`` batches that overlap on the wire (see _loop).  A rate limit caps it at one
        second's worth.
        """
        if self.concurrency == 1:
            self.depth = 1
            self.batch_size = self._batch_given or 1
            if self._rate:
                self.batch_size = max(1, min(self.batch_size, int(self._rate)))
            return
        self.depth = BATCHES_IN_FLIGHT_SIGNED if signed else BATCHES_IN_FLIGHT
        per_connection = IN_FLIGHT_PER_CONNECTION_SIGNED if signed else IN_FLIGHT_PER_CONNECTION
        budget = self._batch_given or per_connection * self.concurrency
        if self._rate:
            budget = max(1, min(budget, int(self._rate)))
        self.batch_size = max(1, budget // self.depth)

    # ------------------------------------------------------------------ entry point

    def run(self, *, resend_uncertain: bool, rendered: RenderedIssue | None) -> RunReport:
        """Take the lease, recover what a dead sender left, send until settled or stopped."""
        settings = self.project.settings
        with self.project.sessionmaker() as session:
            run = get_run(session, self.run_id)
            if run.state == RunState.DONE:
                return self._report(session, run)
            acquire_lease(session, self.run_id, self.lease_name, clock=self.clock,
                          ttl=self.lease_seconds)
            self._lease_renewed = self.clock.monotonic()
            if self.shared:
                self.presence = SenderPresence(self.project.engine, self.owner)
                recovered, _ = recover_dead_senders(session, self.run_id, self.owner)
            else:
                recovered = recover_in_flight(session, self.run_id, resend=resend_uncertain)
            run = get_run(session, self.run_id)
            session.refresh(run)
            run.state = check_run(run.state, RunState.SENDING)
            run.finished_at = None
            counts = run_counts(session, self.run_id)
            settled = sum(counts[k] for k in (DeliveryState.SENT, DeliveryState.FAILED,
                                              DeliveryState.UNCERTAIN))
            self.state.window_left = max(0, self.bounce_window - settled)
            run.message = (f"{recovered} deliveries were in flight when the previous sender "
                           "stopped" if recovered else "")
            session.commit()
            try:
                if rendered is None:
                    rendered = _render_for(self.project, run)
                if rendered.content_hash != run.content_hash:
                    raise RunContentChanged(run.id, run.content_hash, rendered.content_hash)
                register_rendered(self.project, rendered)  # click targets the redirect answers
                self.template = MessageTemplate.from_rendered(rendered, settings,
                                                              test=run.is_test)
                if self.return_path is None:
                    # VERP when the publication sets bounce_address, else its sender.
                    self.return_path = ReturnPath(self.template.publication.bounce_address,
                                                  settings.secret_keys, self.template.mail_from)
                self.handover = Handover(
                    self.template, self.transport, self.return_path,
                    TokenSigner(settings.secret_keys), settings.base_url,
                    neutral_url=f"{settings.base_url}/{run.publication}/subscribe")
                self.is_test = run.is_test
                self.total = run.total
                signer = self.template.signer
                if signer is not None:
                    self._size_batches(signed=True)
                with (signer.offloaded() if signer is not None and self.concurrency > 1
                      else contextlib.nullcontext()):
                    return self._loop(session)
            except (Exception, KeyboardInterrupt) as exc:
                # Leave the run resumable: outcomes we know are recorded, rows still marked
                # "sending" become the uncertain set of the next sender.
                reason = ("interrupted" if isinstance(exc, KeyboardInterrupt)
                          else f"stopped by an error: {exc}")
                with contextlib.suppress(Exception):  # never hide the original error
                    session.rollback()
                    self._apply(session, self.pending)
                    self._finish(session, RunState.PAUSED, reason, outcome=SendOutcome.FAILED)
                raise
            finally:
                if self.presence is not None:
                    with contextlib.suppress(Exception):  # the connection may be gone
                        self.presence.close()

    # ------------------------------------------------------------------ the loop

    def _loop(self, session: Session) -> RunReport:
        executor = (ThreadPoolExecutor(self.concurrency, thread_name_prefix="letterpress-send")
                    if self.concurrency > 1 else None)
        # Batches overlap on the wire: while one is being sent, the previous one's
        # outcomes and the next one's "sending" mark are committed, so the connections never
        # wait for the database (one batch at a time left them idle during every commit).
        # Each batch is a share of the in-flight budget (see _size_batches).
        depth = self.depth
        in_flight: deque[tuple[list[_Row], tuple]] = deque()
        self.pending = []
        try:
            while True:
                if self.stop.is_set():
                    # An orderly stop: the answers of what is on the wire are awaited and
                    # recorded, so only a real crash leaves rows uncertain.
                    self._drain(session, in_flight)
                    self._apply(session, self.pending)
                    return self._finish(session, RunState.PAUSED, "stopped before the end; resume it "
                                        f"with `letterpress send --resume {self.run_id}`",
                                        outcome=SendOutcome.STOPPED)
                if len(in_flight) < depth:
                    batch, fetched = self._prepare_next(session)
                    if fetched:
                        # The messages are built before the batch is marked "sending" (never
                        # sent before): with DKIM, the helper process signs them while this
                        # commit is made.
                        self._assign_message_ids(batch)
                        prepared = self.handover.prepare(batch) if batch else None
                        self._mark_sending(session, batch, self.pending)  # commits
                        self.pending = []
                        if prepared is not None:
                            in_flight.append((batch, self.handover.start(executor, prepared)))
                        continue
                if in_flight:
                    if self.pending:
                        # Nothing new to mark: commit what is known before waiting on the
                        # network, never holding the database's write lock meanwhile.
                        self._apply(session, self.pending)
                        self.pending = []
                    session.commit()
                    batch, started = in_flight.popleft()
                    pause = self._settle(session, batch, started)
                    if pause:
                        # The batch behind is on the wire already: its answers count too.
                        self._drain(session, in_flight)
                        self._apply(session, self.pending)
                        self._requeue_streak(session)
                        return self._finish(session, RunState.PAUSED, pause,
                                            outcome=SendOutcome.PAUSED)
                    self._report_progress(session, final=False)
                    continue
                # Nothing in flight, nothing left to take.
                self._apply(session, self.pending)
                self.pending = []
                session.commit()
                if self.shared:
                    _, held = recover_dead_senders(session, self.run_id, self.owner)
                    session.commit()
                    if held:  # others are still sending: the last one closes the run
                        self._renew(session)
                        session.commit()
                        self.stop.wait(0.2)
                        continue
                due = self._next_due(session)
                if due is None:
                    return self._finish(session, RunState.DONE, "",
                                        outcome=SendOutcome.DONE)
                if not self.wait_for_retries:
                    return self._finish(session, RunState.PAUSED,
                                        f"deferred deliveries wait until {due:%Y-%m-%d %H:%M}"
                                        " UTC", outcome=SendOutcome.WAITING)
                self._wait_until(session, due)
        finally:
            if executor is not None:
                executor.shutdown(wait=True)

    def _settle(self, session: Session, batch: list[_Row], started: tuple) -> str | None:
        """Wait for a batch's answers and add their ledger updates to ``pending`` (committed
        with the next mark); returns a reason to pause, or None."""
        updates, pause = self._record(session, batch, self.handover.collect(started))
        self.pending.extend(updates)
        return pause

    def _drain(self, session: Session, in_flight: deque) -> None:
        """Settle every batch still on the wire (a stop or a pause: no new batch follows)."""
        while in_flight:
            batch, started = in_flight.popleft()
            self._settle(session, batch, started)

    def _prepare_next(self, session: Session) -> tuple[list[_Row], bool]:
        """The next batch with unsubscribed readers already skipped and everyone's link key
        read; False: nothing left."""
        batch = self._next_batch(session)
        if not batch:
            return [], False
        ids = [r.subscription_id for r in batch if r.subscription_id is not None]
        keys = active_link_keys(session, ids) if ids else {}
        batch = self._skip_unsubscribed(session, batch, keys)
        others = [r.subscriber_id for r in batch
                  if r.subscription_id is None and r.subscriber_id]  # test sends, none today
        extra = link_keys(session, others) if others else {}
        for row in batch:
            if row.subscription_id is not None:
                row.link_key = keys.get(row.subscription_id, "")
            else:
                row.link_key = extra.get(row.subscriber_id, "") if row.subscriber_id else ""
        return batch, True

    def _next_batch(self, session: Session) -> list[_Row]:
        """The next rows to send: queued ones in id order (read ahead, they stay queued in
        the database until marked), then deferred ones whose retry time has come."""
        if self.shared:
            connection, now = session.connection(), self.clock.now()
            batch = [_Row(*r) for r in connection.execute(
                claim_query(self._columns, self.run_id, now, self.batch_size))]
            if len(batch) < self.batch_size:
                batch += [_Row(*r) for r in connection.execute(
                    claim_query(self._columns, self.run_id, now, self.batch_size - len(batch),
                                deferred=True))]
            return batch
        if len(self._buffer) < self.batch_size:
            self._refill(session)
        batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
        if len(batch) < self.batch_size:
            t = Delivery.__table__
            batch += [_Row(*r) for r in session.connection().execute(
                select(*self._columns).where(t.c.run_id == self.run_id,
                                             t.c.state == DeliveryState.DEFERRED,
                                             t.c.next_attempt_at <= self.clock.now())
                .order_by(t.c.id).limit(self.batch_size - len(batch)))]
        return batch

    def _refill(self, session: Session) -> None:
        t = Delivery.__table__
        statement = (select(*self._columns)
                     .where(t.c.run_id == bindparam("run"), t.c.state == DeliveryState.QUEUED,
                            t.c.id > bindparam("after"))
                     .order_by(t.c.id).limit(READ_AHEAD))
        connection = session.connection()
        rows = connection.execute(statement, {"run": self.run_id, "after": self._cursor}).all()
        if not rows and not self._buffer and self._cursor:
            # Rows queued again behind the cursor (paused refusals): one more pass from 0.
            self._cursor = 0
            rows = connection.execute(statement, {"run": self.run_id, "after": 0}).all()
        self._buffer.extend(_Row(*r) for r in rows)
        if rows:
            self._cursor = rows[-1][0]

    def _next_due(self, session: Session):
        return session.scalar(
            select(Delivery.next_attempt_at).where(Delivery.run_id == self.run_id,
                                                   Delivery.state == DeliveryState.DEFERRED)
            .order_by(Delivery.next_attempt_at).limit(1))

    def _wait_until(self, session: Session, due) -> None:
        while not self.stop.is_set():
            remaining = (due - self.clock.now()).total_seconds()
            if remaining <= 0:
                return
            self._renew(session, force=True)
            session.commit()
            self.clock.sleep(min(remaining, MAX_WAIT_SLICE))

    def _skip_unsubscribed(self, session: Session, batch: list[_Row],
                           active: dict[int, str]) -> list[_Row]:
        """Readers who unsubscribed since the run started are skipped from that moment on
        (``active``: the batch's subscriptions still active)."""
        skipped = [r.id for r in batch
                   if r.subscription_id is not None and r.subscription_id not in active]
        if not skipped:
            return batch
        session.execute(
            update(Delivery).where(Delivery.id.in_(skipped))
            .values(state=DeliveryState.SKIPPED, detail="no longer subscribed when its turn came")
            .execution_options(synchronize_session=False))
        return [r for r in batch if r.subscription_id is None or r.subscription_id in active]

    def _assign_message_ids(self, batch: list[_Row]) -> None:
        """A Message-ID for each row without one (a retry keeps its first)."""
        domain = self.template.publication.sender_domain
        for row in batch:
            row.message_id = row.message_id or new_message_id(domain)

    def _mark_sending(self, session: Session, batch: list[_Row], previous: list[dict]) -> None:
        """Commit the previous batch's outcomes and this batch as "sending" in one go."""
        now = self.clock.now()
        updates = list(previous)
        self._assign_message_ids(batch)
        for row in batch:
            row.attempts += 1
            row.first_attempt_at = row.first_attempt_at or now
            updates.append({"id": row.id, "state": DeliveryState.SENDING,
                            "claimed_by": self.owner, "attempts": row.attempts,
                            "message_id": row.message_id, "last_attempt_at": now,
                            "first_attempt_at": row.first_attempt_at})
        self._apply(session, updates)
        if batch and not self._marked_started:
            # "Started" means a first message was handed over (the web archive lists an
            # issue from then on), not merely that a sender tried.
            session.execute(update(SendRun).where(SendRun.id == self.run_id,
                                                  SendRun.started_at.is_(None))
                            .values(started_at=now)
                            .execution_options(synchronize_session=False))
            self._marked_started = True
        self._renew(session)
        session.commit()

    def _apply(self, session: Session, updates: list[dict]) -> None:
        """UPDATE ledger rows by id: one executemany per set of columns (Core: the ORM's
        bulk update costs more than the SMTP transaction at these rates)."""
        groups: dict[tuple[str, ...], list[dict]] = {}
        for values in updates:
            groups.setdefault(tuple(sorted(values)), []).append(values)
        connection = session.connection()
        for keys, rows in groups.items():
            statement = _UPDATES.get(keys)
            if statement is None:
                table = Delivery.__table__
                statement = _UPDATES[keys] = (
                    update(table).where(table.c.id == bindparam("b_id"))
                    .values({k: bindparam("b_" + k, type_=table.c[k].type)
                             for k in keys if k != "id"}))
            connection.execute(statement, [{"b_" + k: v for k, v in row.items()}
                                           for row in rows])

    def _renew(self, session: Session, force: bool = False) -> None:
        now = self.clock.monotonic()
        if not force and now - self._lease_renewed < self.lease_seconds / 3:
            return
        if not renew_lease(session, self.run_id, self.lease_name, clock=self.clock,
                           ttl=self.lease_seconds):
            session.rollback()
            holder = session.scalar(select(SendRun.lease_owner)
                                    .where(SendRun.id == self.run_id))
            raise SendRunLocked(self.run_id, holder or "?", None)
        self._lease_renewed = now

    # ------------------------------------------------------------------ end and report

    def _finish(self, session: Session, state: RunState, message: str, *,
                outcome: SendOutcome) -> RunReport:
        self._release_held(session)
        run = get_run(session, self.run_id)
        session.refresh(run)
        if run.lease_owner == self.lease_name or run.lease_owner is None:
            if run.state != state:  # a shared run may already be closed by another sender
                run.state = check_run(run.state, state)
            if message or state == RunState.DONE:
                run.message = message
            if state == RunState.DONE:
                run.finished_at = self.clock.now()
            if not self.shared or state == RunState.DONE:
                release_lease(session, self.run_id, self.lease_name)
        session.commit()
        report = self._report(session, run, outcome=outcome,
                              paused_reason=message if state == RunState.PAUSED else None)
        if self.progress is not None:
            self.progress(self._snapshot(report.counts, final=True))
        return report

    def _report(self, session: Session, run: SendRun, *, outcome: SendOutcome | None = None,
                paused_reason: str | None = None) -> RunReport:
        counts = run_counts(session, run.id)
        uncertain = uncertain_rows(session, run.id)
        return RunReport(
            run_id=run.id, state=RunState(run.state), total=run.total, counts=counts,
            uncertain_ids=tuple(i for i, _ in uncertain),
            uncertain_emails=tuple(e for _, e in uncertain),
            paused_reason=paused_reason if paused_reason is not None else (
                run.message or None if run.state == RunState.PAUSED else None),
            stopped=outcome is SendOutcome.STOPPED, outcome=outcome,
            bounced=session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.run_id == run.id, Delivery.bounced.is_(True))) or 0,
            elapsed=time.monotonic() - self._started if hasattr(self, "_started") else 0.0,
            sent_now=self.state.sent_now if hasattr(self, "state") else 0)

    def _snapshot(self, counts: dict[str, int], *, final: bool) -> ProgressSnapshot:
        elapsed = time.monotonic() - self._started
        rate = self.state.sent_now / elapsed if elapsed > 0 else 0.0
        remaining = counts.get("queued", 0) + counts.get("sending", 0) + counts.get("deferred", 0)
        eta = remaining / rate if rate > 0 else None
        return ProgressSnapshot(self.run_id, self.total, counts.get("sent", 0),
                                counts.get("deferred", 0), counts.get("failed", 0),
                                counts.get("skipped", 0), counts.get("uncertain", 0),
                                remaining, rate, eta, final)

    def _report_progress(self, session: Session, *, final: bool) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        # Counting the ledger costs a query: at most a few times a second.
        if not final and now - getattr(self, "_progress_at", 0.0) < 0.25:
            return
        self._progress_at = now
        counts = run_counts(session, self.run_id)
        for values in self.pending:  # outcomes known but committed with the next batch
            counts[values["state"]] = counts.get(values["state"], 0) + 1
            counts["sending"] = max(0, counts.get("sending", 0) - 1)
        self.progress(self._snapshot(counts, final=final))
