"""How the request threads write to SQLite: one at a time, in arrival order, and never paying
for a WAL checkpoint while others wait.

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

import threading
from collections import deque

from sqlalchemy import Engine, event

__all__ = ["FairLock", "WalCheckpointer"]


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

    def wrote(self) -> None:
        """Count one write transaction; every ``every`` of them, checkpoint (outside locks)."""
        with self._lock:
            self._writes += 1
            due = self._writes % self.every == 0
        if due:
            self.checkpoint()

    def checkpoint(self) -> None:
        """A PASSIVE checkpoint: copies what it can, waits for nobody."""
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            raw.close()
