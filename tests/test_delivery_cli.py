"""``letterpress send`` and ``letterpress runs`` end to end, including ``kill -9`` mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from letterpress.cli import main
from letterpress.delivery import Delivery

from .fixtures_delivery import *  # noqa: F403 - fixtures

LETTERPRESS = Path(sys.executable).parent / "letterpress"


@pytest.fixture
def cli_env(project_env, smtp_server) -> dict[str, str]:
    return {**project_env, "LETTERPRESS_SMTP_URL": smtp_server.url + "&pool=1"}


@pytest.fixture
def lp(project_dir, cli_env):
    """Run ``letterpress -C project_dir …`` in-process against the test database and server."""
    runner = CliRunner(env=cli_env)

    def run(*args, input=None, code=0):
        result = runner.invoke(main, ["-C", str(project_dir), *args], input=input,
                               catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return run


def received(server) -> Counter:
    return Counter(r for m in server.received for r in m.rcpt_tos)


def test_dry_run_sends_nothing(lp, add_subscribers, smtp_server, issue_path):
    add_subscribers(3)
    out = lp("send", str(issue_path), "--dry-run").output
    assert "would go to 3 recipient(s) of list pvd" in out and "Nothing sent" in out
    assert smtp_server.received == []
    assert "No send runs yet" in lp("runs").output


def test_dry_run_after_a_send_says_what_the_send_would_say(lp, add_subscribers, smtp_server,
                                                           issue_path):
    add_subscribers(2)
    lp("send", str(issue_path), "--yes")
    refused = lp("send", str(issue_path), "--dry-run", code=1)
    assert "already sent" in refused.stderr and "--again" in refused.stderr
    again = lp("send", str(issue_path), "--dry-run", "--again").output
    assert "would go to 2 recipient(s)" in again


def test_a_database_that_cannot_be_opened_is_an_error_not_a_traceback(project_dir, tmp_path):
    for url, says in (("sqlte:///x.db", "not a database URL"),
                      (f"sqlite:///{tmp_path}/missing/dir/x.db", "unable to open"),
                      ("postgresql+psycopg://nobody:secret@127.0.0.1:1/x", "refused"),
                      ("mysql://u:secret@h/db", "driver is not installed")):
        result = CliRunner(env={"LETTERPRESS_DATABASE_URL": url}).invoke(
            main, ["-C", str(project_dir), "runs"])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), \
            result.exception  # a clean exit, not an exception escaping
        assert "cannot open the database" in result.stderr and says in result.stderr
        assert "secret" not in result.stderr


def test_test_send_with_to(lp, add_subscribers, smtp_server, issue_path):
    add_subscribers(3)
    lp("send", str(issue_path), "--to", "redaction@example.org", "--to", "chef@example.org")
    assert received(smtp_server) == Counter(["redaction@example.org", "chef@example.org"])
    assert all(str(m.message["Subject"]).startswith("[TEST] ") for m in smtp_server.received)
    assert "[TEST]" in lp("runs").output


def test_a_test_send_to_an_address_the_relay_cannot_take_is_a_usage_error(
        lp, smtp_server, issue_path):
    for address, why in (("josé@example.org", "SMTPUTF8"), ("pas-une-adresse", "")):
        result = lp("send", str(issue_path), "--to", "moi@example.org", "--to", address,
                    code=2)
        assert f"Invalid value for '--to': {address!r}" in result.stderr and why in result.stderr
    assert smtp_server.received == [] and "no send runs" in lp("runs").output.lower()


def test_send_asks_first_then_refuses_a_second_send(lp, add_subscribers, smtp_server,
                                                    issue_path):
    emails = add_subscribers(4)
    result = lp("send", str(issue_path), input="n\n", code=1)
    assert "to 4 subscriber(s) of list pvd" in result.output + result.stderr
    assert smtp_server.received == []
    lp("send", str(issue_path), input="y\n")
    assert received(smtp_server) == Counter(emails)

    result = lp("send", str(issue_path), "--yes", code=1)
    assert "already sent" in result.stderr and "--again" in result.stderr
    assert received(smtp_server) == Counter(emails)
    lp("send", str(issue_path), "--yes", "--again")
    assert received(smtp_server) == Counter(emails * 2)


def test_runs_show_lists_failures_and_retry_sends_them(lp, add_subscribers, smtp_server,
                                                       issue_path):
    emails = add_subscribers(3)
    smtp_server.behaviour.rcpt_replies[emails[1]] = "550 5.1.1 <x>: user unknown"
    smtp_server.behaviour.rcpt_replies[emails[2]] = "552 5.2.2 mailbox full"
    out = lp("send", str(issue_path), "--yes").output
    assert "1/3 sent" in out and "2 failed" in out and "1 hard bounces" in out
    listing = lp("runs").output
    assert "pvd#42" in listing and "done" in listing
    shown = lp("runs", "show", "1").output
    assert emails[1] in shown and "550" in shown and "user unknown" in shown
    assert "(hard bounce)" in shown
    assert emails[2] in shown and "mailbox full" in shown
    del smtp_server.behaviour.rcpt_replies[emails[2]]
    out = lp("runs", "retry", "1").output
    assert "2/3 sent" in out  # the hard bounce is not retried
    assert received(smtp_server) == Counter(emails[::2])


def test_runs_show_unknown_run(lp):
    result = lp("runs", "show", "99", code=1)
    assert "no send run 99" in result.stderr


def test_kill_9_mid_run_then_resume(project, project_dir, cli_env, add_subscribers,
                                    smtp_server, issue_path, lp):
    emails = add_subscribers(40)  # four seconds at --rate 10: time to look, then kill
    proc = subprocess.Popen(
        [str(LETTERPRESS), "-C", str(project_dir), "send", str(issue_path), "--yes",
         "--rate", "10"],
        env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(smtp_server.received) < 5:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the send never started"
        time.sleep(0.02)
    # While it runs, nobody else can send the same run.
    locked = lp("send", "--resume", "1", code=1)
    assert "is being sent by" in locked.stderr
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = received(smtp_server)
    assert 5 <= sum(before.values()) < 40

    out = lp("send", "--resume", "1").output
    assert "run 1 done" in out
    with project.session() as session:
        rows = {d.email: d.state for d in session.scalars(select(Delivery))}
    uncertain = {e for e, s in rows.items() if s == "uncertain"}
    assert len(uncertain) <= 1  # one message in flight at a time (pool of one)
    after = received(smtp_server)
    assert max(after.values()) == 1  # nobody twice
    assert set(after) | uncertain == set(emails)  # nobody lost: sent, or reported uncertain
    if uncertain:
        assert "may or may not have arrived" in out and uncertain.pop() in out

    lp("runs", "retry", "1", "--uncertain")
    final = received(smtp_server)
    assert set(final) == set(emails)
    assert sum(final.values()) - len(emails) <= 1  # a duplicate only within the uncertain set


def test_a_draft_goes_only_to_test_addresses(lp, add_subscribers, smtp_server, issue_path):
    add_subscribers(3)
    draft = issue_path.with_name("draft.yaml")
    draft.write_text(issue_path.read_text(encoding="utf-8").replace("status: ready",
                                                                      "status: draft"),
                     encoding="utf-8")
    result = lp("send", str(draft), "--yes", code=1)
    assert "is a draft" in result.stderr and "status: ready" in result.stderr
    assert smtp_server.received == []
    lp("send", str(draft), "--to", "redaction@example.org")
    assert received(smtp_server) == Counter(["redaction@example.org"])


def test_a_list_of_another_publication_is_refused(lp, add_subscribers, smtp_server,
                                                  issue_path):
    add_subscribers(2)
    result = lp("send", str(issue_path), "--list", "acv", "--yes", code=2)
    assert "'acv' is not a list of pvd" in result.stderr
    assert smtp_server.received == [] and "No send runs yet" in lp("runs").output


def test_a_test_send_to_a_dead_relay_says_so_at_once(project_dir, project_env, issue_path):
    from .smtpd import free_port

    env = {**project_env, "LETTERPRESS_SMTP_URL": f"smtp://127.0.0.1:{free_port()}?tls=none"}
    result = CliRunner(env=env).invoke(
        main, ["-C", str(project_dir), "send", str(issue_path), "--to", "moi@example.org"])
    assert result.exit_code == 1
    assert "1 deferred" in result.stderr and "runs show" in result.stderr


def test_an_output_folder_that_does_not_exist_is_an_error_not_a_traceback(lp, tmp_path):
    result = lp("subscribers", "export", "-o", str(tmp_path / "nowhere" / "x.csv"), code=1)
    assert "Traceback" not in result.output + result.stderr
    assert f"Error: {tmp_path / 'nowhere'}: no such folder" in result.stderr


def test_a_second_send_is_refused_before_asking(lp, add_subscribers, smtp_server, issue_path):
    add_subscribers(2)
    lp("send", str(issue_path), "--yes")
    result = lp("send", str(issue_path), input="y\n", code=1)
    assert "already sent" in result.stderr
    assert "[y/N]" not in result.output + result.stderr  # refused before the question


def test_nobody_to_send_to_records_nothing(lp, smtp_server, issue_path):
    result = lp("send", str(issue_path), "--yes", code=1)
    assert "nobody to send pvd#42 to" in result.stderr
    assert "No send runs yet" in lp("runs").output


def test_runs_filters_say_what_is_wrong(lp):
    assert "no publication 'nope'" in lp("runs", "-p", "nope", code=2).stderr
    assert "-n" in lp("runs", "-n", "0", code=2).stderr


def test_an_email_with_errors_is_not_sent_to_the_list(lp, add_subscribers, smtp_server,
                                                      issue_path):
    """What `check` calls an error in the built email stops a real send before anything is
    recorded; a test send still goes, to look at it."""
    add_subscribers(2)
    text = issue_path.read_text(encoding="utf-8")
    issue_path.write_text(text.replace(
        "vous souhaite de bonnes fêtes", "vous souhaite {{ oops }} de bonnes fêtes", 1),
        encoding="utf-8")
    refused = lp("send", str(issue_path), "--yes", code=1)
    assert "the built email has 2 error(s)" in refused.output  # its HTML and its text
    assert "leftover template marker" in refused.output and "letterpress check" in refused.output
    assert smtp_server.received == []
    assert "No send runs yet" in lp("runs").output
    lp("send", str(issue_path), "--to", "editor@example.org")
    assert list(received(smtp_server)) == ["editor@example.org"]


def test_a_lost_key_file_is_not_replaced_silently_once_mail_went_out(lp, project_dir,
                                                                     add_subscribers,
                                                                     issue_path):
    """A project restored without .letterpress-secret: a new key would make every
    unsubscribe link already mailed answer 404.  letterpress says so and writes no key."""
    add_subscribers(2)
    lp("send", str(issue_path), "--to", "editor@example.org")  # a test send: no history yet
    secret = project_dir / ".letterpress-secret"
    secret.unlink()
    lp("subscribers", "count")  # nothing mailed to the list: a new key is fine
    assert secret.exists()
    lp("send", str(issue_path), "--yes")
    secret.unlink()
    refused = lp("subscribers", "count", code=1)
    assert ".letterpress-secret is missing, but this database has sent 1 run(s)" in refused.output
    assert "Copy .letterpress-secret from the old project's files" in refused.output
    assert not secret.exists()
    assert "1 run(s)" in lp("subscribers", "count", code=1).output  # again, until restored
