"""Scheduler benchmark: what scheduling adds to a send, and what a sweep costs.

    .venv/bin/python bench/bench_schedule.py [--subscribers 3000] [--history 20000]

* scheduled send: ``run_scheduled_send`` (re-load and re-render to check the approved hashes,
  compare-and-set, keyed ``prepare_run``, ``send_run``) to N subscribers through an in-memory
  transport; baseline: ``prepare_run`` + ``send_run`` of the same issue, done by hand.
* sweep: one lateness-guard sweep (what the daemon runs every few seconds) over a database
  holding ``--history`` finished scheduled sends and rule occurrences; baseline: the same
  sweep over an empty schedule.

SQLite in a temporary directory; the clock is frozen so nothing sleeps.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from letterpress import delivery  # noqa: E402
from letterpress import schedule as sched  # noqa: E402
from letterpress.audience import MailingList, Subscriber, Subscription, ensure_lists  # noqa: E402
from letterpress.clock import FrozenClock  # noqa: E402
from letterpress.content import load_issue  # noqa: E402
from letterpress.project import Project  # noqa: E402
from letterpress.render import render_issue  # noqa: E402
from letterpress.schedule.models import ScheduledSend, ScheduleOccurrence  # noqa: E402
from letterpress.settings import load_settings  # noqa: E402
from letterpress.transports import MemoryTransport  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from fixtures_schedule import write_issue  # noqa: E402


def make_project(tmp: Path, name: str) -> Project:
    project_dir = tmp / name
    project_dir.mkdir()
    shutil.copy(ROOT / "letterpress.toml", project_dir / "letterpress.toml")
    shutil.copytree(ROOT / "templates", project_dir / "templates")
    (project_dir / "issues").mkdir()
    (project_dir / ".letterpress-secret").write_text("bench-secret-" + "x" * 40 + "\n")
    env = {"LETTERPRESS_DATABASE_URL": f"sqlite:///{project_dir / 'subscribers.db'}"}
    return Project(load_settings(project_dir, env), FrozenClock(datetime(2025, 1, 10, tzinfo=UTC)))


def add_subscribers(project: Project, count: int) -> None:
    now = project.clock.now()
    with project.session() as s:
        ensure_lists(s, project.settings)
        list_id = s.query(MailingList).filter_by(name="pvd").one().id
        s.execute(insert(Subscriber), [
            {"email": f"lecteur{i}@example.org", "email_key": f"lecteur{i}@example.org",
             "name": "", "attributes": {}, "created_at": now, "updated_at": now}
            for i in range(count)])
        ids = [sid for (sid,) in s.query(Subscriber.id).order_by(Subscriber.id)]
        s.execute(insert(Subscription), [
            {"subscriber_id": sid, "list_id": list_id, "status": "active", "created_at": now,
             "updated_at": now, "consent_at": now, "consent_source": "import",
             "consent_text": ""} for sid in ids])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_send(tmp: Path, subscribers: int) -> None:
    # Baseline: the same issue sent by hand.
    base = make_project(tmp, "baseline")
    add_subscribers(base, subscribers)
    path = write_issue(base.settings.project_dir, number=43)
    render_issue(load_issue(path, base.settings), base.settings)  # warm-up: templates, MJML

    def by_hand():
        rendered = render_issue(load_issue(path, base.settings), base.settings)
        with base.session() as s:
            run_id = delivery.prepare_run(s, rendered, "pvd", clock=base.clock).id
        delivery.send_run(base, run_id, MemoryTransport())

    t_base = timed(by_hand)

    project = make_project(tmp, "scheduled")
    add_subscribers(project, subscribers)
    row = sched.schedule_issue(project, write_issue(project.settings.project_dir, number=43),
                               "2025-01-14 10:00")
    project.clock.set(row.planned_at)
    transport = MemoryTransport()
    t_sched = timed(lambda: sched.run_scheduled_send(project, row.id, transport=transport))
    assert len(transport.messages) == subscribers
    print(f"scheduled send to {subscribers} subscribers: {t_sched:.2f} s "
          f"({subscribers / t_sched:,.0f} msg/s); by hand: {t_base:.2f} s "
          f"-> ratio {t_sched / t_base:.2f}x")
    base.close()
    project.close()


def bench_sweep(tmp: Path, history: int) -> None:
    empty = make_project(tmp, "sweep-empty")
    empty.clock.set(datetime(2025, 3, 1, tzinfo=UTC))
    sched.sweep(empty)  # arms the rule
    t_empty = min(timed(lambda: sched.sweep(empty)) for _ in range(5))

    full = make_project(tmp, "sweep-full")
    now = datetime(2025, 3, 1, tzinfo=UTC)
    full.clock.set(now)
    with full.session() as s:
        s.execute(insert(ScheduledSend), [
            {"publication": "pvd", "issue_number": i, "issue_path": f"issues/{i}.yaml",
             "subject": "x", "list_name": "pvd", "approved_content_hash": "0" * 64,
             "approved_source_hash": "0" * 64, "planned_at": now - timedelta(days=i + 1),
             "state": "done", "occurrence_key": f"pvd#{i}", "message": "",
             "created_at": now, "updated_at": now} for i in range(history)])
        s.execute(insert(ScheduleOccurrence), [
            {"publication": "pvd", "occurrence_key": f"pvd@{i}", "planned_at": now,
             "outcome": "sent", "detail": "", "created_at": now, "updated_at": now}
            for i in range(history)])
    sched.sweep(full)
    t_full = min(timed(lambda: sched.sweep(full)) for _ in range(5))
    print(f"sweep over {history} past sends + {history} occurrences: {t_full * 1000:.1f} ms; "
          f"empty schedule: {t_empty * 1000:.1f} ms -> ratio {t_full / t_empty:.2f}x")
    empty.close()
    full.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--history", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_send(Path(tmp), args.subscribers)
        bench_sweep(Path(tmp), args.history)


if __name__ == "__main__":
    main()
