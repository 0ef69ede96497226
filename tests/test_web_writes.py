"""The write path of the pages: a lock granted in arrival order, checkpoints outside commits."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from letterpress.db import make_engine
from letterpress.web.writes import FairLock, WalCheckpointer


def test_fair_lock_hands_over_in_arrival_order():
    lock = FairLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for n in range(6):
        t = threading.Thread(target=lambda n=n: (lock.acquire(), order.append(n), lock.release()))
        t.start()
        threads.append(t)
        time.sleep(0.02)  # each one queues before the next
    lock.release()
    for t in threads:
        t.join(5)
    assert order == list(range(6))
    with lock:  # free again, usable as a context manager
        pass


def test_checkpoints_leave_the_commits(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    checkpointer = WalCheckpointer(engine, every=3)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    for _ in range(3):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 5000})
        checkpointer.wrote()
    raw = engine.raw_connection()
    busy, log, copied = raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    raw.close()
    assert (busy, log - copied) == (0, 0)  # the third write checkpointed everything
    engine.dispose()
