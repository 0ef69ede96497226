"""Several senders on one run: PostgreSQL shares it (SKIP LOCKED), SQLite keeps one sender.

The three-process test sends through Postfix's smtp-sink, which writes every message it
accepts to a file; one sender is killed with SIGKILL halfway.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from letterpress.audience import ensure_lists
from letterpress.content import load_issue
from letterpress.delivery import Delivery, SendOutcome, acquire_lease, prepare_run, send
from letterpress.render import render_issue
from letterpress.transports import MemoryTransport

from .fixtures_schedule import write_issue
from .smtpd import free_port

LETTERPRESS = Path(sys.executable).parent / "letterpress"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


@pytest.fixture
def sink():
    """smtp-sink on a free loopback port, dumping each message into a world-writable dir."""
    if not Path(SMTP_SINK).exists():
        pytest.fail(f"{SMTP_SINK} missing: run `bash scripts/system-deps.sh`")
    folder = Path(tempfile.mkdtemp(prefix="lp-sink-"))
    folder.chmod(0o777)  # smtp-sink runs as nobody when started by root
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([SMTP_SINK, *user, "-d", f"{folder}/%H%M%S.",
                             f"127.0.0.1:{port}", "256"])
    time.sleep(0.3)
    yield port, folder
    proc.terminate()
    proc.wait()
    shutil.rmtree(folder, ignore_errors=True)


def sunk(folder: Path) -> Counter:
    """Recipients of every message smtp-sink accepted."""
    got: Counter = Counter()
    for path in folder.iterdir():
        with open(path, "rb") as fh:
            for line in fh:
                if line.startswith(b"X-Rcpt-Args:"):
                    got[line.split(b"<", 1)[1].split(b">", 1)[0].decode()] += 1
                    break
    return got


def _prepare(project, project_dir, n: int, tmp_path) -> tuple[int, list[str]]:
    from letterpress.audience.csv_import import import_csv

    emails = [f"lecteur{i:05d}@example.org" for i in range(n)]
    csv = tmp_path / "readers.csv"
    csv.write_text("email\n" + "\n".join(emails) + "\n", encoding="utf-8")
    rendered = render_issue(load_issue(write_issue(project_dir, number=44), project.settings),
                            project.settings)
    with project.session() as session:
        ensure_lists(session, project.settings)
        import_csv(session, csv, list_name="pvd", clock=project.clock)
        run = prepare_run(session, rendered, "pvd", clock=project.clock)
        session.flush()
        return run.id, emails


def test_three_senders_share_a_run_and_a_killed_one_loses_only_its_batch(
        project, project_dir, project_env, db_url, sink, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("several senders share a run on PostgreSQL only (see the SQLite test)")
    port, folder = sink
    run_id, emails = _prepare(project, project_dir, 3000, tmp_path)
    env = {**os.environ, **project_env,
           "LETTERPRESS_SMTP_URL": f"smtp://127.0.0.1:{port}?tls=none&pool=2"}
    command = [str(LETTERPRESS), "-C", str(project_dir), "send", "--resume", str(run_id),
               "--share"]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(3)]
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 1000:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "the senders never got going"
        time.sleep(0.02)
    os.kill(procs[0].pid, signal.SIGKILL)
    procs[0].wait()
    with project.session() as session:
        victims = {d.email: d.state for d in session.scalars(select(Delivery).where(
            Delivery.run_id == run_id, Delivery.claimed_by.like(f"%:{procs[0].pid}:%")))}
    assert "sent" in victims.values()  # it took part before it died
    in_flight = [e for e, s in victims.items() if s == "sending"]
    assert len(in_flight) <= 8  # one batch: pool 2 × 4
    for p in procs[1:]:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
    with project.session() as session:
        states = Counter(d.state for d in session.scalars(
            select(Delivery).where(Delivery.run_id == run_id)))
    assert states["sending"] == 0 and states["queued"] == 0
    assert states["uncertain"] <= 8 and states["sent"] + states["uncertain"] == 3000

    subprocess.run([str(LETTERPRESS), "-C", str(project_dir), "runs", "retry", str(run_id),
                    "--uncertain"], env=env, check=True, capture_output=True)
    got = sunk(folder)
    assert set(got) == set(emails)  # every reader delivered
    assert sum(got.values()) - len(emails) <= len(in_flight)  # duplicates: that batch at most


def test_two_threads_share_a_run_on_postgresql(project, project_dir, db_url, tmp_path):
    import threading

    run_id, emails = _prepare(project, project_dir, 200, tmp_path)
    memory = MemoryTransport()
    results = []

    def sender():
        results.append(send(project, memory, run_id=run_id, share=True, batch_size=5))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(r for m in memory.messages for r in m.recipients) == Counter(emails)
    outcomes = sorted(r.outcome for r in results)
    if db_url.startswith("postgresql"):
        assert outcomes == [SendOutcome.DONE, SendOutcome.DONE]
        assert all(r.report.sent_now for r in results)  # both took part
    else:
        assert SendOutcome.DONE in outcomes


def test_sqlite_keeps_one_sender_and_says_so(project, project_dir, db_url, tmp_path):
    run_id, _ = _prepare(project, project_dir, 3, tmp_path)
    with project.session() as session:
        # Another live sender (this process, another id) holds the run.
        acquire_lease(session, run_id, f"{os.uname().nodename}:{os.getpid()}:other",
                      clock=project.clock)
    result = send(project, MemoryTransport(), run_id=run_id, share=True)
    assert result.outcome is SendOutcome.LOCKED
    assert ("SQLite allows a single sender per run" in result.detail) == \
        db_url.startswith("sqlite")


def test_claims_read_the_next_rows_by_index_not_from_the_first_row(
        project, project_dir, db_url, tmp_path):
    """Halfway through a run, claiming a batch must not walk the rows already sent (it took
    10 ms a batch at 20,000 rows, 100 ms at 200,000): PostgreSQL reads the
    (run_id, state, id) index; the migration that makes it goes down and up again."""
    from alembic import command
    from sqlalchemy import text, update

    from letterpress.db import _alembic_config, current_revision, upgrade
    from letterpress.delivery.claims import claim_query

    run_id, _ = _prepare(project, project_dir, 400, tmp_path)
    with project.session() as session:
        first = session.scalar(select(Delivery.id).where(Delivery.run_id == run_id)
                               .order_by(Delivery.id))
        session.execute(update(Delivery).where(Delivery.run_id == run_id,
                                               Delivery.id < first + 200).values(state="sent"))
    t = Delivery.__table__
    query = claim_query((t.c.id,), run_id, project.clock.now(), 16)
    with project.engine.connect() as conn:
        got = [r[0] for r in conn.execute(query)]
        assert got == list(range(first + 200, first + 216))
        if db_url.startswith("postgresql"):
            conn.execute(text("ANALYZE deliveries"))
            sql = str(query.compile(project.engine, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
            assert "ix_deliveries_run_state_id" in plan and "Sort" not in plan, plan
    command.downgrade(_alembic_config(project.engine), "0010_segment_values")
    assert current_revision(project.engine) == "0010_segment_values"
    upgrade(project.engine)
    assert current_revision(project.engine) != "0010_segment_values"
