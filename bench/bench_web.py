"""One-click unsubscribe under load while a send run is in progress.

    .venv/bin/python bench/bench_web.py [--subscribers 20000] [--seconds 10] [--clients 16]

Sets up a throw-away project with a SQLite database of N active subscribers, starts
``letterpress serve`` (waitress, 8 threads) and ``letterpress send`` of the sample issue to an
SMTP sink on loopback (a separate process that accepts and discards), then, while the send
is writing its ledger, drives 16 keep-alive HTTP clients:

1. baseline: GET /healthz (the cost of HTTP + waitress + Flask alone);
2. RFC 8058 one-click POSTs to /u/<token>, each for a distinct subscriber.

Prints requests/s, p50/p99 latency and errors for both, their ratio, and checks afterwards
that every subscriber whose one-click got a 200 is unsubscribed in the database.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LETTERPRESS = str(ROOT / ".venv/bin/letterpress")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- SMTP sink

def _sink(port: int, counter) -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server, session, envelope):
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def _writer(db_path: str, counter, batch: int = 50, pause: float = 0.1) -> None:
    """Stand-in for a send run: ledger-sized write transactions that take the lock first.

    About ten transactions of 50 rows a second: what `letterpress send` commits while it
    delivers a few hundred messages a second (one batch marked sending, one batch settled).
    """
    import sqlite3

    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    top = conn.execute("SELECT max(id) FROM subscribers").fetchone()[0]
    start = 1
    while True:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE subscribers SET updated_at = updated_at WHERE id BETWEEN ? AND ?",
                     (start, start + batch - 1))
        conn.execute("COMMIT")
        start = start + batch if start + batch <= top else 1
        with counter.get_lock():
            counter.value += batch
        time.sleep(pause)


# --------------------------------------------------------------------------- setup

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _create_pg_database() -> str:
    from sqlalchemy import create_engine, text

    name = f"lp_bench_web_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()

def make_project(directory: Path, subscribers: int, db_url: str | None = None
                 ) -> tuple[dict, list[str]]:
    from sqlalchemy import insert, select

    from letterpress.audience import ensure_lists
    from letterpress.audience.emails import email_key
    from letterpress.audience.models import MailingList, Subscriber, Subscription
    from letterpress.audience.tokens import TokenSigner
    from letterpress.project import Project

    for name in ("letterpress.toml",):
        shutil.copy(ROOT / name, directory / name)
    for folder in ("issues", "templates", "images"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, directory / folder)
    (directory / ".letterpress-secret").write_text("bench-secret-" + "y" * 40 + "\n")
    env = {"LETTERPRESS_DATABASE_URL": db_url or f"sqlite:///{directory / 'subscribers.db'}",
           "LETTERPRESS_PROJECT": str(directory)}
    project = Project.load(directory, env=env)
    now = datetime.now(UTC)
    with project.session() as session:
        ensure_lists(session, project.settings)
        list_id = session.scalar(select(MailingList.id).where(MailingList.name == "pvd"))
        batch = 5000
        for start in range(0, subscribers, batch):
            people = [{"email": f"reader{i}@example.org", "email_key": email_key(
                f"reader{i}@example.org"), "name": f"Reader {i}", "attributes": {},
                "created_at": now, "updated_at": now}
                for i in range(start, min(subscribers, start + batch))]
            session.execute(insert(Subscriber), people)
        ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        for start in range(0, len(ids), batch):
            session.execute(insert(Subscription), [
                {"subscriber_id": sid, "list_id": list_id, "status": "active",
                 "consent_at": now, "consent_source": "import", "consent_text": "bench",
                 "created_at": now, "updated_at": now} for sid in ids[start:start + batch]])
    from letterpress.audience.links import link_keys

    with project.session() as session:
        keys = link_keys(session, ids)  # every link carries its reader's key, as mailed
    signer = TokenSigner(project.settings.secret_keys)
    tokens = [signer.dumps("unsubscribe", sid, list_id, keys[sid]) for sid in ids]
    project.close()
    return env, tokens


# --------------------------------------------------------------------------- load

class Load:
    """``clients`` threads with keep-alive connections, each taking the next request."""

    def __init__(self, port: int, clients: int):
        self.port = port
        self.clients = clients

    def run(self, make_request, seconds: float, limit: int | None = None):
        latencies: list[float] = []
        errors: list[str] = []
        ok_ids: list[int] = []
        lock = threading.Lock()
        counter = iter(range(limit if limit is not None else 10**12))
        deadline = time.perf_counter() + seconds

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            mine, my_ok, my_err = [], [], []
            while time.perf_counter() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    break
                method, path, body, headers = make_request(n)
                t0 = time.perf_counter()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    my_err.append(type(exc).__name__)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    continue
                mine.append(time.perf_counter() - t0)
                if status == 200:
                    my_ok.append(n)
                else:
                    my_err.append(str(status))
            conn.close()
            with lock:
                latencies.extend(mine)
                ok_ids.extend(my_ok)
                errors.extend(my_err)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        return Result(len(latencies), elapsed, latencies, errors, ok_ids)


class Result:
    def __init__(self, count, elapsed, latencies, errors, ok_ids):
        self.count = count
        self.elapsed = elapsed
        self.latencies = sorted(latencies)
        self.errors = errors
        self.ok_ids = ok_ids

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        k = min(len(self.latencies) - 1, max(0, round(p / 100 * len(self.latencies)) - 1))
        return self.latencies[k] * 1000

    def line(self, label: str) -> str:
        med = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        return (f"{label:<28} {self.count:>6} req in {self.elapsed:5.1f} s  "
                f"{self.rps:7.1f} req/s  p50 {med:6.1f} ms  p99 {self.pct(99):6.1f} ms  "
                f"errors {len(self.errors)}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc), robust to a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_http(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("letterpress serve did not start")


def run_state(db_url: str) -> tuple[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT r.state, (SELECT count(*) FROM deliveries d WHERE d.run_id = r.id "
                "AND d.state = 'sent') FROM send_runs r ORDER BY r.id DESC LIMIT 1")).first()
            return (row[0], row[1]) if row else ("none", 0)
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sender", choices=("send", "writer", "none"), default="send",
                        help="send: a real `letterpress send` to an SMTP sink (default); "
                             "writer: a process doing ledger-sized write transactions that "
                             "take the write lock first; none: nothing else running")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                        help="Database: a SQLite file (default), or a fresh PostgreSQL "
                             "database on 127.0.0.1:5432 (dropped afterwards).")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="lp-bench-web-"))
    pg_databases: list[str] = []
    if args.db == "postgresql" and args.sender == "writer":
        parser.error("--sender writer is the SQLite stand-in; use --sender send or none")
    procs: list[subprocess.Popen] = []
    sink = None
    try:
        t0 = time.perf_counter()
        db_url = None
        if args.db == "postgresql":
            db_url = _create_pg_database()
            pg_databases.append(db_url)
        env, tokens = make_project(workdir, args.subscribers, db_url)
        print(f"setup: {args.subscribers} active subscribers in {args.db} "
              f"({time.perf_counter() - t0:.1f} s)")

        smtp_port, http_port = free_port(), free_port()
        delivered = multiprocessing.Value("i", 0)
        sink = multiprocessing.Process(target=_sink, args=(smtp_port, delivered), daemon=True)
        sink.start()
        full_env = {**os.environ, **env,
                    "LETTERPRESS_BASE_URL": f"http://127.0.0.1:{http_port}",
                    "LETTERPRESS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?tls=none"}
        log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
        server = subprocess.Popen([LETTERPRESS, "serve", "--port", str(http_port),
                                   "--threads", "8"], env=full_env, stdout=log,
                                  stderr=subprocess.STDOUT)
        procs.append(server)
        wait_http(http_port)

        if args.sender == "none":
            is_alive = lambda: True  # noqa: E731
            what = "(nothing else running)"
        elif args.sender == "send":
            send_log = open(workdir / "send.log", "wb")  # noqa: SIM115 - closed with the process
            sender = subprocess.Popen([LETTERPRESS, "send", "issues/2024-12-pvd-42.yaml",
                                       "--yes"], env=full_env, cwd=workdir, stdout=send_log,
                                      stderr=subprocess.STDOUT)
            procs.append(sender)
            is_alive = lambda: sender.poll() is None  # noqa: E731
            what = "messages delivered"
        else:
            db_path = env["LETTERPRESS_DATABASE_URL"].removeprefix("sqlite:///")
            writer = multiprocessing.Process(target=_writer, args=(db_path, delivered),
                                             daemon=True)
            writer.start()
            is_alive = writer.is_alive
            what = "rows written by the stand-in writer"
        deadline = time.monotonic() + 120
        while args.sender != "none" and delivered.value < 200:
            if not is_alive():
                raise SystemExit("the send ended before the measurement")
            if time.monotonic() > deadline:
                raise SystemExit("the send run did not start delivering")
            time.sleep(0.2)
        before = delivered.value
        print(f"database {args.db}; sender {args.sender}: {before} {what} when the load starts")

        load = Load(http_port, args.clients)
        cpu0 = cpu_seconds(server.pid)
        baseline = load.run(lambda n: ("GET", "/healthz", None, {}), args.seconds)
        cpu1 = cpu_seconds(server.pid)
        one_click_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        unsub = load.run(lambda n: ("POST", f"/u/{tokens[n]}", b"List-Unsubscribe=One-Click",
                                    one_click_headers), args.seconds, limit=len(tokens))
        cpu2 = cpu_seconds(server.pid)
        during = delivered.value - before
        still_sending = is_alive()
        state, sent_rows = run_state(env["LETTERPRESS_DATABASE_URL"])

        print(f"\n{args.clients} concurrent keep-alive clients, {args.seconds:.0f} s each, "
              "waitress 8 threads, 2 cores shared with the send run and the load generator")
        print(baseline.line("baseline GET /healthz"))
        print(unsub.line("one-click POST /u/<token>"))
        print(f"ratio one-click / baseline: throughput {unsub.rps / baseline.rps:.2f}x, "
              f"p99 latency {unsub.pct(99) / baseline.pct(99):.2f}x")
        base_cpu = (cpu1 - cpu0) / max(1, baseline.count) * 1000
        unsub_cpu = (cpu2 - cpu1) / max(1, unsub.count) * 1000
        print(f"server CPU per request: /healthz {base_cpu:.2f} ms, one-click {unsub_cpu:.2f} ms "
              f"({unsub_cpu / base_cpu:.1f}x); load average {os.getloadavg()[0]:.1f}")
        if args.sender == "none":
            pass
        elif args.sender == "send":
            print(f"messages delivered by the send run during the load: {during} "
                  f"(run state {state}, {sent_rows} rows sent, still sending: {still_sending})")
        else:
            print(f"rows written by the stand-in writer during the load: {during} "
                  f"(still writing: {still_sending})")

        # No lost unsubscribes: every 200 must be in the database.
        from sqlalchemy import create_engine, text

        from letterpress.audience.tokens import TokenSigner

        signer = TokenSigner([(workdir / ".letterpress-secret").read_text().strip()])
        wanted = {signer.loads("unsubscribe", tokens[n]).subscriber_id for n in unsub.ok_ids}
        engine = create_engine(env["LETTERPRESS_DATABASE_URL"])
        with engine.connect() as conn:
            done = {row[0] for row in conn.execute(text(
                "SELECT subscriber_id FROM subscriptions WHERE status = 'unsubscribed' "
                "AND unsubscribe_channel = 'one-click'"))}
        engine.dispose()
        lost = wanted - done
        print(f"unsubscribes answered 200: {len(wanted)}; in the database: "
              f"{len(wanted & done)}; lost: {len(lost)}")
        errors = len(baseline.errors) + len(unsub.errors)
        if not still_sending and args.sender == "send":
            lines = (workdir / "send.log").read_text(errors="replace").strip().splitlines()
            errors_seen = [line for line in lines if "Error" in line] or lines[-1:]
            print(f"the send run stopped during the load (state {state}): "
                  f"{errors_seen[-1][:300] if errors_seen else 'no output'}")
        if errors or lost or not still_sending:
            print("FAILED: " + ", ".join(filter(None, [
                f"{errors} errors" if errors else "", f"{len(lost)} lost" if lost else "",
                "" if still_sending else "the send stopped before the load ended"])))
            return 1
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for child in multiprocessing.active_children():
            if child is not sink:
                child.terminate()
        if sink is not None and sink.is_alive():
            os.kill(sink.pid, signal.SIGTERM)
            sink.join(timeout=5)
        for url in pg_databases:
            _drop_pg_database(url)
        if os.environ.get("LP_BENCH_KEEP"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
