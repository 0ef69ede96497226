"""The scheduler daemon for real: APScheduler's job store, restarts, two processes, SIGTERM.

These tests use real time (a few seconds each) and real processes where the behaviour is
about processes; the decisions themselves are tested with a frozen clock in
test_schedule_service.py.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from letterpress import schedule as sched
from letterpress.delivery.models import SendRun
from letterpress.project import Project
from letterpress.schedule import daemon
from letterpress.schedule.models import ScheduleOccurrence
from letterpress.schedule.rules import parse_rule
from letterpress.transports import MemoryTransport

from .fixtures_schedule import add_subscribers, clear_issues, utc, write_issue

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _own_issues_only(project_dir):
    clear_issues(project_dir)


@pytest.fixture
def live_project(settings):
    """A project on the real clock (APScheduler runs on real time)."""
    p = Project(settings)
    yield p
    p.close()


def schedule_soon(project: Project, project_dir: Path, seconds: float, **kw):
    """Schedule a ready issue ``seconds`` from now; returns the schedule row."""
    today = datetime.now(UTC).date()
    path = write_issue(project_dir, number=kw.pop("number", 43), when=today, **kw)
    return sched.schedule_issue(project, path, datetime.now(UTC) + timedelta(seconds=seconds))


def runs(project) -> list[SendRun]:
    with project.session() as s:
        return list(s.scalars(select(SendRun)).all())


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------- trigger and store

def test_rule_trigger_is_picklable_and_follows_the_rule():
    trigger = pickle.loads(pickle.dumps(daemon.RuleTrigger("third tuesday 10:00",
                                                           "Europe/Paris")))
    first = trigger.get_next_fire_time(None, utc(2025, 3, 1))
    assert first == utc(2025, 3, 18, 9, 0)
    assert trigger.get_next_fire_time(first, first) == utc(2025, 4, 15, 8, 0)  # summer time
    # A new job created exactly at an occurrence fires for it.
    assert trigger.get_next_fire_time(None, first) == first


def test_scheduled_send_is_stored_in_the_project_database(live_project, project_dir):
    row = schedule_soon(live_project, project_dir, 3600)
    daemon.register_scheduled_send(live_project, row)
    # Another process (a fresh scheduler on the same database) sees the job.
    other = daemon._scheduler(live_project)
    other.start(paused=True)
    try:
        job = other.get_job(f"send:{row.id}")
        assert job is not None
        assert job.next_run_time == row.planned_at
        assert job.func is daemon.fire_scheduled_send
        assert job.args == (str(live_project.settings.project_dir), row.id)
        assert job.max_instances == 1 and job.coalesce
        assert job.misfire_grace_time == 4 * 3600  # the publication's grace period
    finally:
        other.shutdown(wait=False)
    daemon.unregister_scheduled_send(live_project, row.id)
    daemon.unregister_scheduled_send(live_project, row.id)  # twice is harmless


def test_daemon_fires_once_across_restarts(live_project, project_dir):
    add_subscribers(live_project, 3)
    row = schedule_soon(live_project, project_dir, 2)
    daemon.register_scheduled_send(live_project, row)
    transport = MemoryTransport()

    def run_daemon(seconds: float) -> None:
        stop = threading.Event()
        d = daemon.SchedulerDaemon(live_project, stop, sweep_seconds=0.5,
                                   transport_factory=lambda: transport)
        d.start()
        time.sleep(seconds)
        d.shutdown()

    run_daemon(0.5)  # started and stopped before the planned time: a restart
    assert transport.messages == []
    run_daemon(4)  # fires
    assert sched.get_scheduled(live_project, row.id).state == "done"
    run_daemon(1.5)  # restarted again: nothing more
    assert sorted(r for m in transport.messages for r in m.recipients) == [
        f"lecteur{i}@example.org" for i in range(3)]
    assert len(runs(live_project)) == 1


def test_rule_occurrence_is_fired_by_the_daemon(live_project, project_dir, monkeypatch):
    # A rule whose occurrence is a second ago, within the grace period: the start-up sweep
    # sends the ready issue of this month.
    add_subscribers(live_project, 2)
    now = datetime.now(UTC)
    pub = live_project.settings.publication("pvd")
    local = (now - timedelta(minutes=1)).astimezone(pub.tz)
    rule = f"monthly {local.day} {local:%H:%M}"
    assert parse_rule(rule).latest_until(now, pub.tz) <= now
    settings = live_project.settings
    settings = replace(settings, publications={
        **settings.publications, "pvd": replace(pub, schedule=rule)})
    project = Project(settings)
    # Armed a day ago: the scheduler was running, and the occurrence is within grace.
    with project.session() as s:
        s.add(ScheduleOccurrence(publication="pvd", occurrence_key="pvd@armed",
                                 planned_at=now - timedelta(days=1), outcome="armed",
                                 detail="", created_at=now, updated_at=now))
    write_issue(project_dir, number=50, when=local.date())
    transport = MemoryTransport()
    stop = threading.Event()
    d = daemon.SchedulerDaemon(project, stop, sweep_seconds=0.5,
                               transport_factory=lambda: transport)
    d.start()
    try:
        assert wait_for(lambda: len(transport.messages) >= 2, 10)
        time.sleep(1)
    finally:
        d.shutdown()
        project.close()
    assert len(transport.messages) == 2
    [occ] = sched.list_occurrences(live_project)
    assert occ.outcome == "sent" and occ.occurrence_key == f"pvd@{local:%Y-%m}"


# --------------------------------------------------------------------------- processes

def scheduler_process(project_dir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``letterpress scheduler`` in its own process, logging to ``log``."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", "from letterpress.cli import main; main()",
         "-C", str(project_dir), "scheduler",
         "--sweep-seconds", "0.5"],
        env=full_env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=str(ROOT))


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def received_by(smtp_server, emails) -> dict[str, int]:
    counts = dict.fromkeys(emails, 0)
    with smtp_server.lock:
        for message in smtp_server.received:
            for rcpt in message.rcpt_tos:
                if rcpt in counts:
                    counts[rcpt] += 1
    return counts


@pytest.mark.slow
def test_end_to_end_scheduled_send_reaches_every_subscriber_once(
        live_project, project_dir, project_env, smtp_server, tmp_path):
    emails = add_subscribers(live_project, 5)
    row = schedule_soon(live_project, project_dir, 4, subject="Lettre programmée")
    daemon.register_scheduled_send(live_project, row)
    env = {**project_env, "LETTERPRESS_SMTP_URL": smtp_server.url}
    proc = scheduler_process(project_dir, env, tmp_path / "scheduler.log")
    try:
        assert wait_for(lambda: all(received_by(smtp_server, emails).values()), 25), \
            (tmp_path / "scheduler.log").read_text()
        time.sleep(1.5)  # any duplicate would arrive now
    finally:
        code = stop_process(proc)
    log = (tmp_path / "scheduler.log").read_text()
    assert code == 0, log
    assert received_by(smtp_server, emails) == dict.fromkeys(emails, 1)
    subjects = {r.message["Subject"] for r in smtp_server.received if r.rcpt_tos[0] in emails}
    assert subjects == {"Lettre programmée"}
    assert sched.get_scheduled(live_project, row.id).state == "done"
    # The editors heard about it.
    editors = live_project.settings.publication("pvd").editors_email
    assert any(editors in r.rcpt_tos for r in smtp_server.received)
    assert "scheduler stopped" in log


@pytest.mark.slow
def test_two_scheduler_processes_make_one_run(live_project, project_dir, project_env,
                                              smtp_server, tmp_path):
    emails = add_subscribers(live_project, 6)
    row = schedule_soon(live_project, project_dir, 4)
    daemon.register_scheduled_send(live_project, row)
    env = {**project_env, "LETTERPRESS_SMTP_URL": smtp_server.url}
    procs = [scheduler_process(project_dir, env, tmp_path / f"scheduler{i}.log")
             for i in range(2)]
    try:
        assert wait_for(lambda: all(received_by(smtp_server, emails).values()), 25)
        time.sleep(2)
    finally:
        codes = [stop_process(p) for p in procs]
    assert codes == [0, 0]
    assert received_by(smtp_server, emails) == dict.fromkeys(emails, 1)
    assert len(runs(live_project)) == 1


@pytest.mark.slow
def test_sigterm_mid_send_pauses_and_resume_completes(live_project, project_dir, project_env,
                                                      smtp_server, tmp_path):
    emails = add_subscribers(live_project, 12)
    row = schedule_soon(live_project, project_dir, 2)
    daemon.register_scheduled_send(live_project, row)
    # Four messages a second: the send takes three seconds, long enough to interrupt.
    env = {**project_env, "LETTERPRESS_SMTP_URL": smtp_server.url + "&rate=4&pool=1"}
    first = scheduler_process(project_dir, env, tmp_path / "first.log")
    try:
        assert wait_for(lambda: sum(received_by(smtp_server, emails).values()) >= 3, 20), \
            (tmp_path / "first.log").read_text()
    finally:
        assert stop_process(first) == 0, (tmp_path / "first.log").read_text()
    partial = sum(received_by(smtp_server, emails).values())
    assert 3 <= partial < len(emails), "the send was not interrupted mid-way"
    paused = sched.get_scheduled(live_project, row.id)
    assert paused.state == "running" and "paused" in paused.message
    time.sleep(1)
    assert sum(received_by(smtp_server, emails).values()) == partial  # really stopped

    second = scheduler_process(project_dir, env, tmp_path / "second.log")
    try:
        assert wait_for(lambda: all(received_by(smtp_server, emails).values()), 25), \
            (tmp_path / "second.log").read_text()
        time.sleep(1)
    finally:
        stop_process(second)
    assert received_by(smtp_server, emails) == dict.fromkeys(emails, 1)
    assert sched.get_scheduled(live_project, row.id).state == "done"
    assert len(runs(live_project)) == 1
