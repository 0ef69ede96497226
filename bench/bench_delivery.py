"""Sending benchmark: letterpress through Postfix's smtp-sink, against two baselines.

Measured in one run on this machine:

* ``smtp-source`` (Postfix's C load generator) sending a message of the same size to the
  same sink, with a few session counts; the best rate is the reference;
* plain ``smtplib`` sending one prebuilt message over one connection;
* ``letterpress`` sending issue #42 to 20,000 subscribers (SQLite), personalised, with the
  ledger on — unsigned, then DKIM-signed (each signature checked by dkimpy on a sample);
* peak memory of the 20,000 run next to a 200,000 run (it must not grow with the list);
* on PostgreSQL, one run sent by one process, then one run sent by two processes sharing it
  (``send(share=True)``: batches claimed with ``FOR UPDATE SKIP LOCKED``) — wall time from
  their start to the end of both.

Next to the DKIM and two-process ratios it prints what the machine allows at best, from
figures of the same run: the floor of the DKIM ratio (an unsigned message's CPU on the
whole machine plus one RSA-2048 signature, spread over every core) and the ceiling of the
two-process ratio (the cores left idle by one process).

Needs ``smtp-sink``/``smtp-source``: ``bash scripts/system-deps.sh --bench``.
Run: ``.venv/bin/python bench/bench_delivery.py [--subscribers 20000] [--large 200000]``
(``--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, ``--pg-url ''`` skips).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
ISSUE = "issues/2024-12-pvd-42.yaml"
DKIM_SELECTOR, DKIM_DOMAIN = "bench", "anct.gouv.fr"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def start_sink(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([SMTP_SINK, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


# --------------------------------------------------------------------------- project setup

def make_project(base: Path, name: str, dkim: bool) -> Path:
    project = base / name
    project.mkdir()
    shutil.copy(ROOT / "letterpress.toml", project / "letterpress.toml")
    for folder in ("issues", "templates"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, project / folder)
    (project / ".letterpress-secret").write_text("bench-secret-" + "x" * 40 + "\n")
    if dkim:
        from letterpress.dkim import generate_key

        (project / "dkim.pem").write_bytes(generate_key(2048))
        with open(project / "letterpress.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[publications.pvd.dkim]\nselector = "{DKIM_SELECTOR}"\n'
                     f'domain = "{DKIM_DOMAIN}"\nkey_file = "dkim.pem"\n')
    return project


def populate(project: Path, n: int, env: dict | None = None) -> None:
    """n active subscribers of list pvd, inserted in bulk (the audience API is per person)."""
    from sqlalchemy import insert, select

    from letterpress.audience import ensure_lists
    from letterpress.audience.models import MailingList, Subscriber, Subscription
    from letterpress.project import Project

    p = Project.load(project, env=env or {})
    now = datetime.now(UTC)
    with p.session() as session:
        ensure_lists(session, p.settings)
        session.flush()
        list_id = session.scalar(select(MailingList.id).where(MailingList.name == "pvd"))
        chunk = 10_000
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            session.execute(insert(Subscriber), [
                {"id": i + 1, "email": f"lecteur{i:07d}@example.org",
                 "email_key": f"lecteur{i:07d}@example.org", "name": f"Élu·e n°{i}",
                 "attributes": {}, "created_at": now, "updated_at": now}
                for i in range(start, stop)])
            session.execute(insert(Subscription), [
                {"subscriber_id": i + 1, "list_id": list_id, "status": "active",
                 "consent_at": now, "consent_source": "import", "consent_text": "bench",
                 "created_at": now, "updated_at": now}
                for i in range(start, stop)])
    p.close()


# --------------------------------------------------------------------------- child: one send

def child_send(project_dir: Path, port: int, pool: int, verify: bool, *,
               database_url: str = "", run_id: int | None = None) -> dict:
    """Prepare (unless ``run_id``) and send one run through ``letterpress.delivery.send``;
    report times and this process's peak memory."""
    from letterpress.content import load_issue
    from letterpress.delivery import prepare_run, send
    from letterpress.project import Project
    from letterpress.render import render_issue
    from letterpress.transports import SMTPTransport

    env = {"LETTERPRESS_DATABASE_URL": database_url} if database_url else {}
    project = Project.load(project_dir, env=env)
    settings = project.settings
    rendered = render_issue(load_issue(project_dir / ISSUE, settings), settings)
    t0 = time.perf_counter()
    if run_id is None:
        with project.session() as session:
            run = prepare_run(session, rendered, "pvd", clock=project.clock, again=True)
            session.flush()
            run_id = run.id
    prepare_s = time.perf_counter() - t0
    transport = SMTPTransport.from_url(f"smtp://127.0.0.1:{port}?tls=none&pool={pool}")
    started = time.time()  # wall clock: comparable across the processes sharing a run
    t0 = time.perf_counter()
    result = send(project, transport, run_id=run_id, rendered=rendered,
                  share=bool(database_url))
    report = result.report
    total = report.total
    send_s = time.perf_counter() - t0
    ended = time.time()
    transport.close()
    result = {"total": total, "sent": report.sent, "sent_now": report.sent_now,
              "state": str(report.state),
              "prepare_s": prepare_s, "send_s": send_s, "rate": report.sent / send_s,
              "started": started, "ended": ended,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if verify:
        result["dkim_verified"] = verify_samples(project, rendered)
    project.close()
    return result


def verify_samples(project, rendered, n: int = 20) -> str:
    """Sign n messages the way the run did and check them with dkimpy (independent code)."""
    import dkim

    from letterpress.dkim import dns_txt_record
    from letterpress.message import MessageTemplate

    pub = rendered.publication
    record = dns_txt_record(Path(pub.dkim.key_file).read_bytes()).encode()
    template = MessageTemplate.from_rendered(rendered, project.settings)
    ok = 0
    for i in range(n):
        _, data = template.for_recipient(f"r{i}@example.org", f"Élu·e {i}",
                                         f"{project.settings.base_url}/u/tok{i}",
                                         f"{project.settings.base_url}/p/pref{i}")
        ok += bool(dkim.verify(data, dnsfunc=lambda name, timeout=5: record))
    return f"{ok}/{n}"


# --------------------------------------------------------------------------- baselines

def smtp_source(port: int, size: int, count: int, sessions: int) -> float:
    cmd = [SMTP_SOURCE, "-s", str(sessions), "-l", str(size), "-m", str(count), "-c",
           "-f", "bench@anct.gouv.fr", "-t", "lecteur@example.org", f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return count / (time.perf_counter() - t0)


def plain_smtplib(port: int, data: bytes, count: int) -> float:
    import smtplib

    conn = smtplib.SMTP("127.0.0.1", port)
    t0 = time.perf_counter()
    for _ in range(count):
        conn.sendmail("bench@anct.gouv.fr", ["lecteur@example.org"], data)
    rate = count / (time.perf_counter() - t0)
    conn.quit()
    return rate


# --------------------------------------------------------------------------- orchestration

def _child_command(project: Path, port: int, pool: int, verify: bool = False,
                   database_url: str = "", run_id: int | None = None) -> list[str]:
    return ([sys.executable, __file__, "--child", str(project), "--port", str(port),
             "--pool", str(pool)] + (["--verify"] if verify else [])
            + (["--database-url", database_url] if database_url else [])
            + (["--run-id", str(run_id)] if run_id else []))


def run_child(project: Path, port: int, pool: int, verify: bool = False) -> dict:
    busy0, total0 = cpu_busy()
    out = subprocess.run(_child_command(project, port, pool, verify),
                         capture_output=True, text=True, check=False)
    busy1, total1 = cpu_busy()
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cores"] = (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)
    return result


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far (/proc/stat), every core summed."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def rsa_sign_ms(count: int = 300) -> float:
    """CPU milliseconds of one RSA-2048 PKCS#1 v1.5 signature on this machine (OpenSSL via
    cryptography, as letterpress signs): the floor of what a DKIM-signed message costs."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = b"x" * 600  # about what DKIM signs: the canonical headers
    t0 = time.process_time()
    for _ in range(count):
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return (time.process_time() - t0) / count * 1000


def pg_processes(tmp: Path, admin_url: str, port: int, pool: int, n: int
                 ) -> dict[int, tuple[float, float]]:
    """(msg/s, machine cores busy) of one run of n readers sent by 1, then by 2 processes
    sharing it (PostgreSQL)."""
    from sqlalchemy import create_engine, text

    from letterpress.db import open_database
    from letterpress.delivery import prepare_run
    from letterpress.project import Project

    name = f"lp_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    rates: dict[int, tuple[float, float]] = {}
    try:
        open_database(url).dispose()  # migrates
        project_dir = make_project(tmp, "pg", dkim=False)
        env = {"LETTERPRESS_DATABASE_URL": url}
        populate(project_dir, n, env)
        from letterpress.content import load_issue
        from letterpress.render import render_issue

        for processes in (1, 2):
            p = Project.load(project_dir, env=env)
            rendered = render_issue(load_issue(project_dir / ISSUE, p.settings), p.settings)
            with p.session() as session:
                run_id = prepare_run(session, rendered, "pvd", clock=p.clock, again=True).id
            p.close()
            t0 = time.perf_counter()
            busy0, total0 = cpu_busy()
            procs = [subprocess.Popen(_child_command(project_dir, port, pool,
                                                     database_url=url, run_id=run_id),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(processes)]
            outs = [proc.communicate() for proc in procs]
            wall = time.perf_counter() - t0
            busy1, total1 = cpu_busy()
            # How much of the machine the run kept busy (senders, PostgreSQL, the sink and
            # anything else running): a second sender can only add what the first left idle.
            cores = (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)
            for proc, (_out, err) in zip(procs, outs, strict=True):
                if proc.returncode != 0:
                    raise RuntimeError(err[-3000:])
            results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
            sent = sum(r["sent_now"] for r in results)
            # The rate of the sending itself, from the first sender's start to the last one's
            # end: each process first spends a few seconds importing and rendering the issue
            # (printed separately), the same for one process or two.
            sending = max(r["ended"] for r in results) - min(r["started"] for r in results)
            rates[processes] = (sent / sending, cores)
            print(f"  PostgreSQL, {processes} process(es)     {sent / sending:>8,.0f} msg/s  "
                  f"({sent:,} sent in {sending:.1f} s; {wall:.1f} s with start-up, "
                  f"{' + '.join(str(r['sent_now']) for r in results)}; "
                  f"machine busy {cores:.2f} of {os.cpu_count()} cores)")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=200_000,
                        help="list size of the memory comparison (0 to skip)")
    parser.add_argument("--pool", type=int, default=8, help="SMTP connections of letterpress")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                        "postgres", help="PostgreSQL server for the 1 vs 2 processes line "
                        "('' to skip)")
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_send(args.child, args.port, args.pool, args.verify,
                                    database_url=args.database_url, run_id=args.run_id)))
        return 0

    for tool in (SMTP_SINK, SMTP_SOURCE):
        if not os.access(tool, os.X_OK):
            print(f"{tool} missing: run `bash scripts/system-deps.sh --bench`", file=sys.stderr)
            return 1
    n = args.subscribers
    print(f"letterpress sending benchmark — {n:,} subscribers, SQLite, pool {args.pool}, "
          f"{os.cpu_count()} CPUs")
    tmp = Path(tempfile.mkdtemp(prefix="lp-bench-"))
    port = free_port()
    sink = start_sink(port)
    try:
        plain = make_project(tmp, "plain", dkim=False)
        signed = make_project(tmp, "signed", dkim=True)
        t0 = time.perf_counter()
        populate(plain, n)
        populate(signed, n)
        print(f"  setup: two databases of {n:,} subscribers in {time.perf_counter() - t0:.1f} s")

        from letterpress.content import load_issue
        from letterpress.message import sample_message
        from letterpress.project import Project
        from letterpress.render import render_issue

        p = Project.load(plain, env={})
        rendered = render_issue(load_issue(plain / ISSUE, p.settings), p.settings)
        sample = sample_message(rendered, p.settings)
        p.close()
        size = len(sample)
        print(f"  message: {size / 1024:.1f} KB (issue #42, text + HTML, quoted-printable)")

        source_rates = {}
        for sessions in (1, 4, 10, 20):
            source_rates[sessions] = smtp_source(port, size, n, sessions)
            print(f"  smtp-source -s {sessions:<2}           {source_rates[sessions]:>8,.0f} msg/s")
        best_s, best = max(source_rates.items(), key=lambda kv: kv[1])
        smtplib_rate = plain_smtplib(port, sample, n)
        print(f"  plain smtplib, 1 connection  {smtplib_rate:>8,.0f} msg/s")

        unsigned = run_child(plain, port, args.pool)
        print(f"  letterpress unsigned         {unsigned['rate']:>8,.0f} msg/s  "
              f"({unsigned['sent']:,} sent, prepare {unsigned['prepare_s']:.1f} s, "
              f"peak RSS {unsigned['peak_rss_mb']:.0f} MB, machine busy "
              f"{unsigned['cores']:.2f} cores)")
        dkim_run = run_child(signed, port, args.pool, verify=True)
        rsa_ms = rsa_sign_ms()
        print(f"  letterpress DKIM-signed      {dkim_run['rate']:>8,.0f} msg/s  "
              f"({dkim_run['sent']:,} sent, dkimpy verified {dkim_run['dkim_verified']}, "
              f"peak RSS {dkim_run['peak_rss_mb']:.0f} MB, machine busy "
              f"{dkim_run['cores']:.2f} cores; one RSA-2048 signature {rsa_ms:.2f} ms of CPU)")
        large = None
        if args.large:
            big = make_project(tmp, "large", dkim=False)
            t0 = time.perf_counter()
            populate(big, args.large)
            print(f"  setup: {args.large:,} subscribers in {time.perf_counter() - t0:.1f} s")
            large = run_child(big, port, args.pool)
            print(f"  letterpress unsigned {args.large:,}  {large['rate']:>8,.0f} msg/s  "
                  f"({large['sent']:,} sent, peak RSS {large['peak_rss_mb']:.0f} MB)")
        pg = pg_processes(tmp, args.pg_url, port, args.pool, n) if args.pg_url else {}

        print("ratios (same run):")
        r1 = unsigned["rate"] / best
        print(f"  letterpress / best smtp-source (-s {best_s})   {r1:5.2f}  "
              f"(target ≥ 0.80: {'met' if r1 >= 0.8 else 'NOT met'})")
        print(f"  letterpress / plain smtplib               {unsigned['rate'] / smtplib_rate:5.2f}")
        r2 = unsigned["rate"] / dkim_run["rate"]
        print(f"  unsigned / DKIM-signed time ratio         {r2:5.2f}  "
              f"(target ≤ 1.3: {'met' if r2 <= 1.3 else 'NOT met'})")
        # What the machine allows at best: a signed message costs what an unsigned one costs
        # the whole machine (letterpress, the sink, the database) plus one RSA signature, and
        # there are only so many cores to spend it on.
        cores = os.cpu_count() or 1
        machine_ms = unsigned["cores"] / unsigned["rate"] * 1000
        floor = unsigned["rate"] * (machine_ms + rsa_ms) / 1000 / cores
        print(f"    floor on this machine: {machine_ms:.2f} ms of CPU per unsigned message "
              f"+ {rsa_ms:.2f} ms per RSA-2048 signature over {cores} cores → "
              f"{max(1.0, floor):.2f}")
        if pg:
            r4 = pg[2][0] / pg[1][0]
            print(f"  PostgreSQL 2 processes / 1 process        {r4:5.2f}  "
                  f"(target ≥ 1.5: {'met' if r4 >= 1.5 else 'NOT met'})")
            print(f"    ceiling on this machine: one process kept {pg[1][1]:.2f} of {cores} "
                  f"cores busy → at most {cores / pg[1][1]:.2f}")
        if large:
            r3 = large["peak_rss_mb"] / unsigned["peak_rss_mb"]
            print(f"  peak RSS {args.large:,} / {n:,}            {r3:5.2f}  "
                  f"(flat target ≤ 1.25: {'met' if r3 <= 1.25 else 'NOT met'})")
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
