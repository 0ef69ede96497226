"""Sender-side safety: nothing sent twice by accident, refusals judged by whom they concern.

Every test runs against a real SMTP server on loopback (aiosmtpd, tests/smtpd.py), on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from letterpress.audience import ensure_lists
from letterpress.audience.models import Subscription
from letterpress.cli import main
from letterpress.delivery import (
    DELIVERY_TRANSITIONS,
    Delivery,
    DeliveryState,
    RunState,
    SendOutcome,
    SendRun,
    check_delivery,
    check_run,
    send,
)
from letterpress.errors import StateTransitionError
from letterpress.transports import Limits, MemoryTransport, SMTPTransport, limits_of

from .fixtures_delivery import *  # noqa: F403 - fixtures

LETTERPRESS = Path(sys.executable).parent / "letterpress"


def received(server) -> Counter:
    return Counter(r for m in server.received for r in m.rcpt_tos)


def ledger(project, run_id) -> dict[str, Delivery]:
    with project.session() as session:
        return {d.email: d for d in session.scalars(
            select(Delivery).where(Delivery.run_id == run_id))}


def statuses(project) -> set[str]:
    with project.session() as session:
        return {s.status for s in session.scalars(select(Subscription))}


def fast_subscribers(project, n: int, tmp_path: Path, prefix: str = "lecteur") -> list[str]:
    """n active subscribers, imported from a CSV file as an editor would."""
    from letterpress.audience.csv_import import import_csv

    emails = [f"{prefix}{i:05d}@example.org" for i in range(n)]
    path = tmp_path / "readers.csv"
    path.write_text("email\n" + "\n".join(emails) + "\n", encoding="utf-8")
    with project.session() as session:
        ensure_lists(session, project.settings)
        import_csv(session, path, list_name="pvd", clock=project.clock)
    return emails


@pytest.fixture
def small_issue(project, project_dir):
    """A short issue (a few KB): the tests with thousands of readers are about the ledger."""
    from letterpress.content import load_issue
    from letterpress.render import render_issue

    from .fixtures_schedule import write_issue

    path = write_issue(project_dir, number=44)
    return render_issue(load_issue(path, project.settings), project.settings)


# --------------------------------------------------------------------------- lifecycle

def test_transitions_are_one_table_enforced_in_code():
    assert check_delivery("queued", "sending") is DeliveryState.SENDING
    for bad in (("sent", "queued"), ("queued", "sent"), ("skipped", "sending"),
                ("sending", "waiting"), ("stopped", "queued")):
        with pytest.raises(StateTransitionError):
            check_delivery(*bad)
    assert check_run("paused", "sending") is RunState.SENDING
    with pytest.raises(StateTransitionError, match="'done' to 'sending'"):
        check_run("done", "sending")
    assert set(DELIVERY_TRANSITIONS) == set(DeliveryState)
    assert SendOutcome("waiting") and SendOutcome("stopped")


def test_the_database_refuses_states_outside_the_vocabulary(engine):
    from letterpress.clock import FrozenClock

    now = FrozenClock().now()
    run = {"publication": "pvd", "issue_number": 1, "issue_path": "", "subject": "",
           "content_hash": "0" * 64, "list_name": "pvd", "is_test": False, "total": 0,
           "message": "", "created_at": now}
    with engine.begin() as conn:
        run_id = conn.execute(insert(SendRun).values(**run, state="pending")
                              .returning(SendRun.id)).scalar_one()
    for statement in (insert(SendRun).values(**run, state="waiting"),
                      insert(Delivery).values(run_id=run_id, email="a@example.org", name="",
                                              state="stopped", attempts=0, detail="",
                                              bounced=False)):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(statement)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 0


def test_delivery_migration_matches_the_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from letterpress.models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata)
                 if "send_runs" in repr(d) or "deliveries" in repr(d)]
    assert diffs == []


def test_rate_and_pool_belong_to_the_transport(smtp_server):
    transport = SMTPTransport.from_url(smtp_server.url + "&pool=3&rate=7")
    assert limits_of(transport) == Limits(pool=3, rate=7.0)
    assert limits_of(SMTPTransport.from_url(smtp_server.url + "&rate=7",
                                            override_rate=2)).rate == 2
    assert limits_of(MemoryTransport()) == Limits()


def test_every_row_takes_its_envelope_sender_from_return_path(project, rendered,
                                                              add_subscribers, smtp_server,
                                                              smtp_transport):
    add_subscribers(3)
    result = send(project, smtp_transport, rendered=rendered,
                  return_path=lambda delivery_id: f"bounces+{delivery_id}@example.org")
    assert result.outcome is SendOutcome.DONE and result.report.sent == 3
    rows = ledger(project, result.run_id)
    assert sorted(m.mail_from for m in smtp_server.received) == sorted(
        f"bounces+{d.id}@example.org" for d in rows.values())


# --------------------------------------------------------------------------- never twice

def test_a_relay_slower_than_the_data_timeout_leaves_the_message_uncertain(
        project, project_dir, project_env, rendered, add_subscribers, smtp_server):
    emails = add_subscribers(3)
    smtp_server.behaviour.data_delay = 2.0  # scanning attachments
    smtp_server.behaviour.data_delay_for = {emails[1]}
    transport = SMTPTransport.from_url(smtp_server.url + "&data_timeout=0.5", pool=1)
    result = send(project, transport, rendered=rendered)
    assert result.outcome is SendOutcome.DONE
    report = result.report
    assert report.sent == 2 and report.uncertain == 1 and report.deferred == 0
    assert report.uncertain_emails == (emails[1],)
    # Resuming does not send it again, and `runs show` does not count it as sent.
    again = send(project, transport, run_id=result.run_id, rendered=rendered)
    assert again.outcome is SendOutcome.DONE and again.report.sent_now == 0
    transport.close()
    got = received(smtp_server)
    assert got[emails[0]] == got[emails[2]] == 1 and got[emails[1]] <= 1  # never resent
    shown = CliRunner(env=project_env).invoke(
        main, ["-C", str(project_dir), "runs", "show", str(result.run_id)])
    assert "2 sent" in shown.output and "1 uncertain" in shown.output
    assert "3 sent" not in shown.output


def test_the_default_wait_for_the_final_answer_is_ten_minutes():
    from letterpress.transports import parse_smtp_url

    assert parse_smtp_url("smtp://127.0.0.1:25").data_timeout == 600.0
    assert parse_smtp_url("smtp://127.0.0.1:25?data_timeout=90").data_timeout == 90.0


def test_a_relay_closing_after_the_final_dot_every_n_messages_resends_nothing(
        project, rendered, add_subscribers, smtp_server):
    emails = add_subscribers(30, names=False)
    smtp_server.behaviour.close_after_dot_every = 10
    transport = SMTPTransport.from_url(smtp_server.url, pool=2)
    try:
        result = send(project, transport, rendered=rendered)
    finally:
        transport.close()
    report = result.report
    assert result.outcome is SendOutcome.DONE
    assert report.uncertain == 3 and report.sent == 27 and report.deferred == 0
    got = received(smtp_server)
    assert set(got) == set(emails) and max(got.values()) == 1  # nobody twice
    assert "27/30 sent" in report.summary() and "3 uncertain" in report.summary()


def test_ctrl_c_waits_for_the_batch_in_flight_and_records_it(
        project, project_dir, project_env, add_subscribers, smtp_server, issue_path):
    emails = add_subscribers(60, names=False)
    b = smtp_server.behaviour
    b.data_delay = 0.25  # a slow relay
    for e in emails[20:40:4]:
        b.rcpt_replies_once[e] = ["451 4.7.1 Try again later"]
    env = {**os.environ, **project_env, "LETTERPRESS_SMTP_URL": smtp_server.url + "&pool=4"}
    proc = subprocess.Popen([str(LETTERPRESS), "-C", str(project_dir), "send", str(issue_path),
                             "--yes"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(smtp_server.received) < 24:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert b"stopped before the end" in err and b"--resume 1" in err
    rows = ledger(project, 1)
    states = Counter(d.state for d in rows.values())
    assert states["sending"] == 0 and states["uncertain"] == 0  # every answer recorded
    accepted = set(received(smtp_server))
    assert {e for e, d in rows.items() if d.state == "sent"} == accepted
    refused = {e for e, d in rows.items() if d.state == "deferred"}
    assert refused and all(rows[e].code == 451 for e in refused)
    with project.session() as session:
        assert session.get(SendRun, 1).state == "paused"

    b.data_delay = 0
    runner = CliRunner(env={**project_env, "LETTERPRESS_SMTP_URL": smtp_server.url})
    result = runner.invoke(main, ["-C", str(project_dir), "runs", "retry", "1"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "run 1 done: 60/60 sent" in result.output
    assert received(smtp_server) == Counter(emails)


# --------------------------------------------------------------------------- refusals

def test_fifty_unknown_readers_in_a_row_never_pause_the_run(project, small_issue, smtp_server,
                                                            tmp_path):
    emails = fast_subscribers(project, 5000, tmp_path)
    dead = emails[1000:1050]  # one dead domain in a list sorted by domain
    for e in dead:
        smtp_server.behaviour.rcpt_replies[e] = "550 5.1.1 <x>: Recipient address rejected: " \
                                                "User unknown in virtual mailbox table"
    transport = SMTPTransport.from_url(smtp_server.url, pool=8)
    try:
        result = send(project, transport, rendered=small_issue)
    finally:
        transport.close()
    assert result.outcome is SendOutcome.DONE, result.detail
    report = result.report
    assert report.sent == 4950 and report.failed == 50 and report.bounced == 50
    assert received(smtp_server) == Counter(e for e in emails if e not in dead)


@pytest.mark.parametrize("refusal, advice", [
    ("550 5.7.515 Access denied, sending domain example.org does not meet the required "
     "authentication level", "DMARC"),
    ("550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's "
     "DMARC policy", "DMARC"),
    ("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
     "zen.spamhaus.org", "blocklist"),
    ("535 5.7.8 Authentication credentials invalid", "password"),
], ids=["outlook-5.7.515", "gmail-5.7.26", "blocklist", "auth"])
def test_refusals_about_the_sender_pause_and_leave_readers_queued(
        project, rendered, add_subscribers, smtp_server, smtp_transport, refusal, advice):
    add_subscribers(12, names=False)
    smtp_server.behaviour.refuse_all = refusal
    result = send(project, smtp_transport, rendered=rendered, pause_after=5)
    assert result.outcome is SendOutcome.PAUSED
    assert advice in result.report.paused_reason and "--resume" in result.report.paused_reason
    rows = ledger(project, result.run_id)
    assert {d.state for d in rows.values()} == {"queued"}
    assert not any(d.bounced for d in rows.values())
    assert statuses(project) == {"active"}


def test_a_bounce_rate_far_above_normal_trips_the_breaker(project, rendered, add_subscribers,
                                                         smtp_server, smtp_transport):
    emails = add_subscribers(40, names=False)
    for e in emails[:8]:  # a stale list: 8 unknown readers among the first ones
        smtp_server.behaviour.rcpt_replies[e] = "550 5.1.1 <x>: user unknown"
    result = send(project, smtp_transport, rendered=rendered, bounce_rate=0.05,
                  bounce_window=40)
    assert result.outcome is SendOutcome.PAUSED
    assert "circuit breaker" in result.report.paused_reason
    rows = ledger(project, result.run_id)
    assert {rows[e].state for e in emails[:3]} == {"queued"}
    assert not any(d.bounced or d.state == "failed" for d in rows.values())
    assert statuses(project) == {"active"}


def test_a_normal_bounce_rate_marks_bounces_once_the_window_is_passed(
        project, rendered, add_subscribers, smtp_server, smtp_transport):
    emails = add_subscribers(20, names=False)
    smtp_server.behaviour.rcpt_replies[emails[3]] = "550 5.1.1 <x>: user unknown"
    result = send(project, smtp_transport, rendered=rendered, bounce_window=10,
                  bounce_rate=0.2)
    assert result.outcome is SendOutcome.DONE and result.report.bounced == 1
    assert statuses(project) == {"active", "bounced"}


def test_notification_after_a_crash_names_the_uncertain_messages(project, project_dir, clock,
                                                                 settings):
    from letterpress import schedule as sched

    from .fixtures_schedule import add_subscribers as add
    from .fixtures_schedule import clear_issues, notifications, utc, write_issue

    clear_issues(project_dir)
    clock.set(utc(2025, 1, 10, 12, 0))
    add(project, 4)
    row = sched.schedule_issue(project, write_issue(project_dir, number=43), "2025-01-14 10:00")
    memory = MemoryTransport()

    class Crash(BaseException):
        """kill -9 between the server's acceptance and the ledger write."""

    class CrashAfterTwo:
        count = 0

        def send(self, mail_from, recipients, data):
            memory.send(mail_from, recipients, data)
            self.count += 1
            if self.count == 2:
                raise Crash()

        def close(self):
            pass

    clock.set(utc(2025, 1, 14, 9, 0, 5))
    with pytest.raises(Crash):
        sched.run_scheduled_send(project, row.id, transport=CrashAfterTwo())
    clock.advance(timedelta(minutes=2).total_seconds())
    outcome = sched.run_scheduled_send(project, row.id, transport=memory)
    assert outcome.state == "done" and outcome.acted
    [note] = notifications(settings)
    body = note.get_body(("plain",)).get_content()
    assert "Tous les destinataires ont été traités" not in body
    assert "1 message(s) sont incertains" in body
    assert f"letterpress runs retry {outcome.run_id} --uncertain" in body
