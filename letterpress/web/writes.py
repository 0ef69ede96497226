"""How the request threads write: one-click unsubscribes committed in groups, other writes to
SQLite one at a time in arrival order, and nobody paying for a WAL checkpoint while others wait.

**GroupCommit.** A burst of one-click unsubscribes (a mailbox provider replaying its users'
clicks) is many tiny write transactions.  Each paid for its own session, BEGIN, COMMIT and —
on SQLite — its turn at the one write lock; on PostgreSQL, a WAL flush per commit.  One writer
thread instead takes every one-click waiting, applies them all in a single transaction and
commits once; each request thread waits for the commit that holds its unsubscribe before it
answers 200, so nothing is acknowledged before it is durable.  While a batch is being
written the next one gathers, so the batch grows with the load and the lock is taken once
per batch, not once per request.

**FairLock.** ``threading.Lock`` makes no promise of order: under a burst of one-click unsubscribes the
thread that just released it often takes it again, and an unlucky request waits for many
others — the tail of the latency distribution (p99) grows far beyond the median.  SQLite has
one writer at a time anyway, so handing the lock over strictly in arrival order costs nothing
and bounds every request's wait by the queue in front of it.

**WalCheckpointer.** In WAL mode SQLite copies the log back into the database (a checkpoint,
with an fsync) inside the commit that crosses 1,000 pages.  That commit then takes
milliseconds to tens of milliseconds on a busy disk — while the request holds the lock every
other writer of the process queues on.  The web engine's connections turn the automatic
checkpoint off; every ``every`` writes, the request that just finished runs a PASSIVE
checkpoint *after* releasing the lock (PASSIVE never blocks readers or writers).  Other
processes (a send run) keep SQLite's automatic checkpoint, so the log stays bounded either way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope

__all__ = ["FairLock", "GroupCommit", "WalCheckpointer"]

log = logging.getLogger("letterpress.web")

Item = TypeVar("Item")


class FairLock:
    """A mutex granted in the order it was asked for (a context manager, like ``Lock``)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        """Wait for our turn."""
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the holder handing over to us; we now hold the lock

    def release(self) -> None:
        """Hand the lock to the longest waiter, or free it."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # ownership passes directly
            else:
                self._held = False

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class WalCheckpointer:
    """Moves SQLite's WAL checkpoints out of the commits of ``engine`` (see the module doc)."""

    def __init__(self, engine: Engine, *, every: int = 500):
        self.engine = engine
        self.every = every
        self._writes = 0
        self._lock = threading.Lock()
        event.listen(engine, "connect", self._no_autocheckpoint)
        engine.dispose()  # connections opened before get the setting too

    @staticmethod
    def _no_autocheckpoint(dbapi_conn, _record) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    def wrote(self, count: int = 1, *, wait: bool = True) -> None:
        """Count ``count`` writes; every ``every`` of them, checkpoint (outside locks) — in
        this thread, or with ``wait=False`` in a thread of its own, so the caller goes on."""
        with self._lock:
            before = self._writes
            self._writes += count
            due = before // self.every != self._writes // self.every
        if not due:
            return
        if wait:
            self.checkpoint()
        else:
            threading.Thread(target=self._checkpoint_quietly, name="letterpress-checkpoint",
                             daemon=True).start()

    def _checkpoint_quietly(self) -> None:
        try:
            self.checkpoint()
        except Exception:  # noqa: BLE001 - the next one will try again; nobody waits on it
            log.warning("WAL checkpoint failed", exc_info=True)

    def checkpoint(self) -> None:
        """A PASSIVE checkpoint: copies what it can, waits for nobody."""
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            raw.close()


class _Pending(Generic[Item]):
    """One request's item, and what became of it once its transaction ended."""

    __slots__ = ("item", "done", "outcome", "error")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.outcome: Any = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item]):
    """Applies items submitted by many threads in shared transactions (see the module doc).

    ``apply(session, items)`` writes a batch and returns one outcome per item, in order; an
    outcome that is an exception is raised to that item's submitter alone (it must have
    written nothing for that item).  If ``apply`` itself raises, the transaction is rolled
    back and each item of the batch is applied again in a transaction of its own, so a bad
    item fails alone.  ``lock`` is held around each transaction (the process's SQLite write
    lock; none for PostgreSQL); ``after_commit(count)`` runs after each commit, once the
    submitters have their answers.  ``writers`` threads take groups from the one queue, each
    in its own transaction (PostgreSQL; ``apply`` must then lock rows in a fixed order).
    A batch whose connection the server dropped is written once more on a new connection,
    so ``apply`` must be safe to run again (its COMMIT may have been lost, not undone).
    ``screen(items)``, run before the lock, gives each item of a batch its outcome now, or
    None to go on to ``apply``: items that would write nothing need not wait for the lock
    (if it raises, every item goes on).
    """

    def __init__(self, sessions: sessionmaker[Session],
                 apply: Callable[[Session, Sequence[Item]], list[Any]], *,
                 lock: Any = None, max_batch: int = 64,
                 after_commit: Callable[[int], None] | None = None, writers: int = 1,
                 name: str = "letterpress-writer",
                 screen: Callable[[Sequence[Item]], list[Any]] | None = None) -> None:
        self._sessions = sessions
        self._apply = apply
        self._screen = screen
        self._lock = lock if lock is not None else contextlib.nullcontext()
        self.max_batch = max_batch
        self._after_commit = after_commit
        self._name = name
        self._queue: deque[_Pending[Item]] = deque()
        self._wake = threading.Condition(threading.Lock())
        self._writers = writers
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.batches = 0  # transactions committed (tests and diagnostics)

    def submit(self, item: Item) -> Any:
        """Apply ``item``; returns its outcome once it is committed, or raises its error."""
        pending = _Pending(item)
        with self._wake:
            if self._closed:
                raise RuntimeError("the writer is closed")
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, name=f"{self._name}-{n}",
                                                  daemon=True) for n in range(self._writers)]
                for thread in self._threads:
                    thread.start()
            self._queue.append(pending)
            self._wake.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.outcome

    def close(self, timeout: float = 10) -> None:
        """Apply what is queued, then stop the writer thread."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft()
                         for _ in range(min(self.max_batch, len(self._queue)))]
            batch = self._screened(batch)
            if batch:
                self._write(batch)

    def _screened(self, batch: list[_Pending[Item]]) -> list[_Pending[Item]]:
        """Answer the items ``screen`` settles; the others go on to the transaction."""
        if self._screen is None:
            return batch
        try:
            verdicts = self._screen([p.item for p in batch])
        except Exception:  # noqa: BLE001 - the transaction decides instead
            log.warning("%s: screening failed; writing the batch as it is", self._name,
                        exc_info=True)
            return batch
        rest = []
        for pending, verdict in zip(batch, verdicts, strict=True):
            if verdict is None:
                rest.append(pending)
                continue
            if isinstance(verdict, BaseException):
                pending.error = verdict
            else:
                pending.outcome = verdict
            pending.done.set()
        return rest

    def _write(self, batch: list[_Pending[Item]], *, reconnect: bool = True) -> None:
        try:
            outcomes = self._transaction([p.item for p in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to the submitters below
            if reconnect and isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The server dropped the connection (a restart, a failover, an idle timeout):
                # SQLAlchemy has emptied the pool, and the batch is written again, once, on a
                # new connection.
                log.warning("%s: the database connection was lost; writing again", self._name)
                self._write(batch, reconnect=False)
                return
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done.set()
                return
            # Which item failed?  Each alone: the good ones commit, the bad one gets its error.
            for pending in batch:
                self._write([pending])
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                pending.error = outcome
            else:
                pending.outcome = outcome
            pending.done.set()
        if self._after_commit is not None:
            try:
                self._after_commit(len(batch))
            except Exception:  # noqa: BLE001 - the writes are committed and answered
                log.warning("after-commit hook failed", exc_info=True)

    def _transaction(self, items: list[Item]) -> list[Any]:
        with self._lock, session_scope(self._sessions) as session:
            outcomes = self._apply(session, items)
            if len(outcomes) != len(items):
                raise RuntimeError("one outcome per item expected")
        with self._wake:
            self.batches += 1
        return outcomes
