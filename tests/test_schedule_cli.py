"""``letterpress schedule …`` through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from letterpress import schedule as sched
from letterpress.cli import main
from letterpress.project import Project
from letterpress.schedule import daemon

from .fixtures_schedule import add_subscribers, clear_issues, utc, write_issue


@pytest.fixture(autouse=True)
def _own_issues_only(project_dir):
    clear_issues(project_dir)


@pytest.fixture
def cli(project_dir, project_env):
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(main, ["-C", str(project_dir), *args],
                             env={**project_env, **(env or {})}, catch_exceptions=False)

    return invoke


@pytest.fixture
def live_project(settings):
    p = Project(settings)
    yield p
    p.close()


def test_schedule_shorthand_list_show_cancel(cli, project_dir, live_project):
    path = write_issue(project_dir, number=43, when=date(2030, 1, 10))
    result = cli("schedule", str(path), "--at", "2030-01-15 10:00")
    assert result.exit_code == 0, result.output
    assert "Scheduled 1: pvd#43" in result.output
    assert "2030-01-15 10:00 CET (Europe/Paris) = 2030-01-15 09:00 UTC" in result.output
    # The job is in the persistent store, for the daemon to find.
    scheduler = daemon._scheduler(live_project)
    scheduler.start(paused=True)
    try:
        assert scheduler.get_job("send:1").next_run_time == utc(2030, 1, 15, 9, 0)
    finally:
        scheduler.shutdown(wait=False)

    listing = cli("schedule", "list")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert "2030-01-15 10:00 CET (Europe/Paris)  pvd#43 to list pvd" in listing.output
    assert any("rule 'third tuesday 10:00'" in line for line in lines)

    shown = cli("schedule", "show", "1")
    assert "state:            scheduled" in shown.output
    assert "planned:          2030-01-15 10:00 CET (Europe/Paris) = 2030-01-15 09:00 UTC" \
        in shown.output

    again = cli("schedule", "add", str(path), "--at", "2030-01-16 10:00")
    assert again.exit_code == 1 and "--replace" in again.output
    replaced = cli("schedule", str(path), "--at", "2030-07-16 10:00", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "Schedule 1 replaced." in replaced.output
    assert "2030-07-16 10:00 CEST (Europe/Paris) = 2030-07-16 08:00 UTC" in replaced.output

    cancelled = cli("schedule", "cancel", "2")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    assert cli("schedule", "cancel", "2").exit_code == 1
    assert cli("schedule", "show", "99").exit_code == 1
    assert [r.state for r in sched.list_scheduled(live_project, include_past=True)] == [
        "cancelled", "cancelled"]


def test_broken_issue_is_refused_with_every_problem(cli, project_dir):
    path = write_issue(project_dir, number=43)
    path.write_text(path.read_text().replace("number: 43", "number: zero")
                    .replace("type: texte", "type: inconnu"))
    result = cli("schedule", str(path), "--at", "2030-01-15 10:00")
    assert result.exit_code == 1
    assert "2 problems found." in result.output
    assert "number" in result.output and "inconnu" in result.output
    assert f"{path.name}:" in result.output


def test_bad_time_is_a_clear_error(cli, project_dir):
    path = write_issue(project_dir, number=43)
    result = cli("schedule", str(path), "--at", "mardi prochain")
    assert result.exit_code == 1
    assert 'expected "YYYY-MM-DD HH:MM" (Europe/Paris time)' in result.output


def test_run_now_sends_at_once_and_only_once(cli, project_dir, live_project, smtp_server):
    emails = add_subscribers(live_project, 2)
    path = write_issue(project_dir, number=43, when=date(2030, 1, 10))
    assert cli("schedule", str(path), "--at", "2030-01-15 10:00").exit_code == 0
    result = cli("schedule", "run-now", "1", env={"LETTERPRESS_SMTP_URL": smtp_server.url})
    assert result.exit_code == 0, result.output
    assert "1: done (send run 1)" in result.output
    got = sorted(r for m in smtp_server.received for r in m.rcpt_tos if r in emails)
    assert got == sorted(emails)
    again = cli("schedule", "run-now", "1", env={"LETTERPRESS_SMTP_URL": smtp_server.url})
    assert again.exit_code == 1 and "it is done" in again.output
    assert cli("schedule", "run-now", "x1").exit_code == 2


def test_every_schedule_command_has_help(cli):
    for args in (["schedule"], ["schedule", "add"], ["schedule", "list"], ["schedule", "show"],
                 ["schedule", "cancel"], ["schedule", "run-now"], ["scheduler"]):
        result = cli(*args, "--help")
        assert result.exit_code == 0
        assert len(result.output.splitlines()) > 3


def test_scheduler_refuses_to_start_with_a_bad_rule(cli, project_dir):
    config = project_dir / "letterpress.toml"
    config.write_text(config.read_text().replace('schedule = "third tuesday 10:00"',
                                                 'schedule = "troisième mardi 10:00"'))
    result = cli("scheduler")
    assert result.exit_code == 1
    assert "cannot read schedule rule 'troisième mardi 10:00'" in result.output
    listing = cli("schedule", "list")
    assert listing.exit_code == 1 and "cannot read schedule rule" in listing.output


def test_an_email_with_errors_is_not_approved(cli, project_dir):
    path = write_issue(project_dir, number=43, text="Un texte {{ oops }} court.")
    result = cli("schedule", str(path), "--at", "2030-01-15 10:00")
    assert result.exit_code == 1
    assert "the built email has" in result.output and "leftover template marker" in result.output
    assert "43" not in cli("schedule", "list").output
