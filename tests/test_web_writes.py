"""The write path of the pages: a lock granted in arrival order, checkpoints outside commits,
one-click writes committed in groups (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from letterpress.db import make_engine
from letterpress.web.writes import FairLock, GroupCommit, WalCheckpointer


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


# --------------------------------------------------------------------------- group commit

def _marks_table(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE marks (n INTEGER PRIMARY KEY)"))


def _committed(engine) -> set[int]:
    """What another connection sees: only what was committed."""
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT n FROM marks")).scalars())


def _writer(engine, *, gate: threading.Event | None = None, refuse: int | None = None,
            writers: int = 1):
    def apply(session, items):
        if gate is not None:
            gate.wait(10)  # hold the writer: the next items gather into one batch
        if refuse in items:
            raise RuntimeError(f"item {refuse} cannot be written")
        for n in items:
            session.execute(text("INSERT INTO marks (n) VALUES (:n)"), {"n": n})
        return [f"done {n}" if n % 2 else ValueError(n) for n in items]

    return GroupCommit(sessionmaker(engine), apply, writers=writers)


@pytest.mark.parametrize("writers", [1, 3])
def test_group_commit_answers_each_submitter_after_its_commit(engine, writers):
    if writers > 1 and engine.dialect.name == "sqlite":
        pytest.skip("several writers are for PostgreSQL")
    _marks_table(engine)
    writer = _writer(engine, writers=writers)
    seen_at_answer: dict[int, bool] = {}
    answers: dict[int, object] = {}

    def submit(n):
        try:
            answers[n] = writer.submit(n)
        except ValueError as exc:  # an outcome that is an exception goes to its submitter
            answers[n] = exc
        seen_at_answer[n] = n in _committed(engine)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(1, 33)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    writer.close()
    assert _committed(engine) == set(range(1, 33))
    assert all(seen_at_answer[n] for n in range(1, 33)), "answered before its commit"
    assert answers[3] == "done 3" and isinstance(answers[4], ValueError)
    assert writer.batches <= 32


def _first_then_a_batch(submit, gate: threading.Event, first: int, rest) -> None:
    """Submit ``first``; while the writer is held inside its batch by ``gate``, submit
    ``rest`` (they gather into the next batch); then open the gate and wait for all."""
    threads = [threading.Thread(target=submit, args=(first,))]
    threads[0].start()
    time.sleep(0.2)  # the writer is inside the first batch, held by the gate
    threads += [threading.Thread(target=submit, args=(n,)) for n in rest]
    for t in threads[1:]:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)


def test_group_commit_gathers_waiting_items_into_one_transaction(engine):
    _marks_table(engine)
    gate = threading.Event()
    writer = _writer(engine, gate=gate)
    _first_then_a_batch(writer.submit, gate, 1, (3, 5, 7, 9))
    writer.close()
    assert _committed(engine) == {1, 3, 5, 7, 9}
    assert writer.batches == 2


def test_group_commit_screen_answers_items_without_the_lock(engine):
    """What ``screen`` settles is answered before the lock is taken and never written;
    a screen that fails lets the whole batch go on to the transaction."""
    _marks_table(engine)
    lock = threading.Lock()
    screened: list[list[int]] = []

    def screen(items):
        screened.append(list(items))
        if 13 in items:
            raise RuntimeError("the lookup failed")
        return [LookupError(n) if n % 10 == 0 else None for n in items]

    def apply(session, items):
        for n in items:
            session.execute(text("INSERT INTO marks (n) VALUES (:n)"), {"n": n})
        return [f"done {n}" for n in items]

    writer = GroupCommit(sessionmaker(engine), apply, lock=lock, screen=screen)
    assert writer.submit(1) == "done 1"
    # Another writer holds the lock: a screened item is answered all the same.
    with lock, pytest.raises(LookupError):
        writer.submit(20)
    assert writer.submit(13) == "done 13"  # the screen raised: written as usual
    writer.close()
    assert _committed(engine) == {1, 13}
    assert screened == [[1], [20], [13]] and writer.batches == 2


def test_group_commit_a_failing_item_fails_alone(engine):
    _marks_table(engine)
    gate = threading.Event()
    writer = _writer(engine, gate=gate, refuse=5)
    errors: dict[int, BaseException] = {}

    def submit(n):
        try:
            writer.submit(n)
        except RuntimeError as exc:
            errors[n] = exc

    _first_then_a_batch(submit, gate, 1, (3, 5, 7))
    writer.close()
    # The batch (3, 5, 7) was rolled back, then each item written alone: 5 fails, alone.
    assert _committed(engine) == {1, 3, 7}
    assert list(errors) == [5]


def test_group_commit_close_applies_what_is_queued_then_refuses(engine):
    _marks_table(engine)
    writer = _writer(engine)
    assert writer.submit(1) == "done 1"
    writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(3)
    assert _committed(engine) == {1}


def test_checkpoints_counted_by_batches_and_run_in_the_background(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    checkpointer = WalCheckpointer(engine, every=4)
    for _ in range(3):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 5000})
    checkpointer.wrote(3, wait=False)  # 3 of 4: not yet
    checkpointer.wrote(2, wait=False)  # past 4: a checkpoint, in a thread of its own
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        raw = engine.raw_connection()
        busy, log, copied = raw.driver_connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        raw.close()
        if log == copied:
            break
        time.sleep(0.05)
    assert log == copied
    engine.dispose()


def test_a_server_sizes_the_pool_before_the_database_opens(settings):
    from letterpress.project import Project

    project = Project(settings)
    project.size_pool(14)
    try:
        assert project.engine.pool.size() == 14
        assert project.read_engine is project.read_engine  # built once
        with pytest.raises(RuntimeError):
            project.size_pool(20)  # too late: the engine is open
    finally:
        project.close()


def test_group_commit_writes_a_batch_again_when_the_server_dropped_its_connection(engine):
    """A dropped connection is no item's fault: the batch is written again, once, and every
    submitter gets its answer; a second loss in a row goes to the submitters."""
    from sqlalchemy.exc import DBAPIError

    _marks_table(engine)
    losses = [True]

    def apply(session, items):
        for n in items:
            session.execute(text("INSERT INTO marks (n) VALUES (:n)"), {"n": n})
        if losses and losses.pop():
            raise DBAPIError("COMMIT", None, OSError("server closed the connection"),
                             connection_invalidated=True)
        return [f"done {n}" for n in items]

    writer = GroupCommit(sessionmaker(engine), apply)
    assert writer.submit(1) == "done 1"
    assert _committed(engine) == {1} and writer.batches == 1
    losses[:] = [True, True]
    with pytest.raises(DBAPIError):
        writer.submit(3)
    assert _committed(engine) == {1}
    writer.close()


def test_a_connection_in_steady_use_is_not_pinged_one_idle_for_long_is(pg_url, monkeypatch):
    """The pool pings a connection only after it sat idle (PING_AFTER_IDLE): a round trip
    per checkout was a fifth of a one-click's time on PostgreSQL."""
    engine = make_engine(pg_url, ping_after_idle=0.2)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
    for _ in range(5):
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []
    time.sleep(0.3)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert pings == [1]
    engine.dispose()


def test_a_pooled_connection_the_server_dropped_while_idle_is_replaced(pg_url):
    engine = make_engine(pg_url, ping_after_idle=0.1)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    other = make_engine(pg_url, poolclass=NullPool)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
    other.dispose()
    time.sleep(0.2)
    with engine.connect() as conn:  # pinged, found dead, replaced: no error
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    engine.dispose()
