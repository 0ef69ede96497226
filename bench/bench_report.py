"""Reports and the click redirect, each next to a baseline measured in the same run.

    .venv/bin/python bench/bench_report.py [--deliveries 200000] [--seconds 10] [--clients 16]

1. ``letterpress report`` on a send run of 200,000 deliveries (SQLite, then PostgreSQL when
   one answers on 127.0.0.1:5432): the figures (``report_for``) and the whole HTML page with
   its charts, against a plain ``SELECT count(*)`` over the same run's rows.
2. The click redirect ``GET /c/<issue>/<link>`` under 16 concurrent keep-alive clients while
   ``letterpress send`` delivers to an SMTP sink, against ``GET /healthz`` in the same run:
   requests/s and p99.  Each request has its own user agent, so none is taken for a scanner
   burst and every one is a counted click.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_web import LETTERPRESS, Result, _sink, free_port, make_project, wait_http  # noqa: E402

PG_ADMIN = os.environ.get("LETTERPRESS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DOMAINS = ["orange.fr", "wanadoo.fr", "gmail.com", "hotmail.fr", "outlook.com", "free.fr",
           "sfr.fr", "laposte.net", "yahoo.fr", "icloud.com", "mairie-x.fr", "example.org"]


# --------------------------------------------------------------------------- 1. report

def fill_run(project, n: int) -> int:
    """A finished run of ``n`` deliveries over ``n`` subscribers, 1 % of whom unsubscribed."""
    from sqlalchemy import insert, select

    from letterpress.audience import ensure_lists
    from letterpress.audience.emails import email_key
    from letterpress.audience.models import (
        MailingList,
        Subscriber,
        Subscription,
        SubscriptionEvent,
    )
    from letterpress.delivery.models import Delivery, SendRun

    rng = random.Random(42)
    start = datetime(2026, 3, 17, 9, tzinfo=UTC)
    with project.session() as s:
        ensure_lists(s, project.settings)
        list_id = s.scalar(select(MailingList.id).where(MailingList.name == "pvd"))
        run = SendRun(publication="pvd", issue_number=42, issue_path="x", subject="bench",
                      content_hash="0" * 64, list_name="pvd", state="done", total=n,
                      created_at=start, started_at=start,
                      finished_at=start + timedelta(hours=1))
        s.add(run)
        s.flush()
        batch = 10_000
        for lo in range(0, n, batch):
            rows = range(lo, min(n, lo + batch))
            emails = [f"r{i}@{DOMAINS[i % len(DOMAINS)]}" for i in rows]
            s.execute(insert(Subscriber), [
                {"email": e, "email_key": email_key(e), "name": "", "attributes": {},
                 "created_at": start, "updated_at": start} for e in emails])
        ids = list(s.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        for lo in range(0, n, batch):
            s.execute(insert(Subscription), [
                {"subscriber_id": sid, "list_id": list_id, "status": "active",
                 "consent_at": start, "consent_source": "import", "created_at": start,
                 "updated_at": start} for sid in ids[lo:lo + batch]])
        subs = list(s.execute(select(Subscription.id, Subscription.subscriber_id)
                              .order_by(Subscription.id)))
        for lo in range(0, n, batch):
            chunk = []
            for i, (sub_id, sid) in enumerate(subs[lo:lo + batch], start=lo):
                r = rng.random()
                state = ("sent" if r < 0.95 else "deferred" if r < 0.97 else "failed")
                at = start + timedelta(seconds=i * 3600 / n)
                chunk.append({"run_id": run.id, "subscription_id": sub_id,
                              "subscriber_id": sid, "list_id": list_id,
                              "email": f"r{i}@{DOMAINS[i % len(DOMAINS)]}", "name": "",
                              "state": state, "attempts": 1, "detail": "",
                              "bounced": state == "failed" and r > 0.99,
                              "sent_at": at if state == "sent" else None})
            s.execute(insert(Delivery), chunk)
        events = [{"subscription_id": sub_id, "at": start + timedelta(days=1, seconds=i),
                   "old_status": "active", "new_status": "unsubscribed", "actor": "reader",
                   "channel": "one-click", "detail": "", "data": {}}
                  for i, (sub_id, _) in enumerate(subs[::100])]
        s.execute(insert(SubscriptionEvent), events)
        return run.id


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_report(workdir: Path, label: str, db_url: str, n: int) -> None:
    from sqlalchemy import text

    from letterpress.project import Project
    from letterpress.report import report_for
    from letterpress.report.html import report_page

    shutil.copy(ROOT / "letterpress.toml", workdir / "letterpress.toml")
    (workdir / ".letterpress-secret").write_text("bench-" + "z" * 40 + "\n")
    project = Project.load(workdir, env={"LETTERPRESS_DATABASE_URL": db_url})
    project.clock = type("Fixed", (), {"now": staticmethod(
        lambda: datetime(2026, 5, 1, tzinfo=UTC)), "monotonic": time.monotonic,
        "sleep": time.sleep})()
    t0 = time.perf_counter()
    run_id = fill_run(project, n)
    print(f"[{label}] setup: run {run_id} with {n} deliveries ({time.perf_counter() - t0:.1f} s)")

    def count():
        with project.read_session() as s:
            return s.execute(text("SELECT count(*) FROM deliveries WHERE run_id = :r"),
                             {"r": run_id}).scalar_one()

    assert count() == n
    figures = report_for(project, run_id)
    assert figures.total == n and 0 < figures.unsubscribes <= len(range(0, n, 100))
    base = best_of(count)
    rep = best_of(lambda: report_for(project, run_id))
    page = best_of(lambda: report_page(project, report_for(project, run_id)))
    print(f"[{label}] baseline SELECT count(*) over the run's rows: {base * 1000:8.1f} ms")
    print(f"[{label}] report RUN (every figure):                   {rep * 1000:8.1f} ms  "
          f"= {rep / base:5.1f}x the count")
    print(f"[{label}] report RUN --html (figures and 6 charts):    {page * 1000:8.1f} ms  "
          f"= {page / base:5.1f}x the count")
    project.close()


# --------------------------------------------------------------------------- 2. redirect

def load(port: int, clients: int, seconds: float, make_path, ok: int) -> Result:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, err = [], []
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter)
            path, headers = make_path(n)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                err.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - t0)
            if response.status != ok:
                err.append(str(response.status))
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(err)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(len(latencies), time.perf_counter() - started, latencies, errors, [])


def bench_redirect(workdir: Path, subscribers: int, seconds: float, clients: int) -> int:
    from sqlalchemy import create_engine, text

    env, _ = make_project(workdir, subscribers)
    toml = workdir / "letterpress.toml"
    toml.write_text(toml.read_text().replace("[publications.pvd]\n",
                                             "[publications.pvd]\nclick_stats = true\n", 1))
    smtp_port, http_port = free_port(), free_port()
    delivered = multiprocessing.Value("i", 0)
    sink = multiprocessing.Process(target=_sink, args=(smtp_port, delivered), daemon=True)
    sink.start()
    procs = []
    try:
        full_env = {**os.environ, **env, "LETTERPRESS_BASE_URL": f"http://127.0.0.1:{http_port}",
                    "LETTERPRESS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?tls=none"}
        log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
        procs.append(subprocess.Popen([LETTERPRESS, "serve", "--port", str(http_port),
                                       "--threads", "8"], env=full_env, stdout=log,
                                      stderr=subprocess.STDOUT))
        wait_http(http_port)
        send_log = open(workdir / "send.log", "wb")  # noqa: SIM115 - closed with the process
        sender = subprocess.Popen([LETTERPRESS, "send", "issues/2024-12-pvd-42.yaml", "--yes"],
                                  env=full_env, cwd=workdir, stdout=send_log,
                                  stderr=subprocess.STDOUT)
        procs.append(sender)
        deadline = time.monotonic() + 120
        while delivered.value < 200:
            if sender.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the send run did not start delivering:\n"
                                 + (workdir / "send.log").read_text()[-2000:])
            time.sleep(0.2)
        engine = create_engine(env["LETTERPRESS_DATABASE_URL"])
        with engine.connect() as conn:
            links = [row[0] for row in conn.execute(text("SELECT link_id FROM issue_links"))]
        before = delivered.value
        print(f"\nsend in progress: {before} messages delivered; {len(links)} tracked links")
        baseline = load(http_port, clients, seconds, lambda n: ("/healthz", {}), 200)
        clicks = load(http_port, clients, seconds, lambda n: (
            f"/c/pvd-42/{links[n % len(links)]}",
            {"User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 bench/{n}"}), 302)
        during = delivered.value - before
        still = sender.poll() is None
        time.sleep(2.5)  # counts are written by the server once a second
        with engine.connect() as conn:
            counted, scanners = conn.execute(text(
                "SELECT coalesce(sum(clicks), 0), coalesce(sum(scanner), 0) FROM link_clicks")
            ).one()
        engine.dispose()
        print(f"{clients} concurrent keep-alive clients, {seconds:.0f} s each, waitress 8 "
              "threads, 2 cores shared with the send run and the load generator")
        print(baseline.line("baseline GET /healthz"))
        print(clicks.line("click GET /c/<issue>/<link>"))
        print(f"ratio click / baseline: throughput {clicks.rps / baseline.rps:.2f}x, "
              f"p99 latency {clicks.pct(99) / baseline.pct(99):.2f}x")
        print(f"clicks counted: {counted} people + {scanners} scanners for {clicks.count} "
              f"redirects; messages delivered during the load: {during}; still sending: {still}")
        bad = len(baseline.errors) + len(clicks.errors) + (counted + scanners != clicks.count)
        if bad or not still:
            print(f"FAILED: {bad} problems, still sending {still}")
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
        if sink.is_alive():
            os.kill(sink.pid, signal.SIGTERM)
            sink.join(timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--subscribers", type=int, default=20_000,
                        help="audience of the send run during the redirect load")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lp-bench-report-"))
    try:
        (workdir / "sqlite").mkdir()
        bench_report(workdir / "sqlite", "SQLite", f"sqlite:///{workdir / 'sqlite/r.db'}",
                     args.deliveries)
        if not args.skip_pg:
            bench_pg(workdir, args.deliveries)
        (workdir / "web").mkdir()
        return bench_redirect(workdir / "web", args.subscribers, args.seconds, args.clients)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_pg(workdir: Path, n: int) -> None:
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"lp_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: say so and go on
        print(f"[PostgreSQL] skipped: {exc.__class__.__name__}")
        return
    try:
        (workdir / "pg").mkdir()
        bench_report(workdir / "pg", "PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, n)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
