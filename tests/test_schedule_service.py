"""Scheduled sends with an injected clock: approval, firing once, lateness, refusals, rules.

Every test runs on SQLite and PostgreSQL (the ``project`` fixture sits on ``db_url``).
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from letterpress import schedule as sched
from letterpress.delivery.models import Delivery, SendRun
from letterpress.errors import ContentError, ScheduleError, ScheduleNotFound
from letterpress.schedule.models import ScheduledSend, ScheduleOccurrence
from letterpress.schedule.service import _set_state
from letterpress.transports import MemoryTransport

from .fixtures_schedule import (
    add_subscribers,
    clear_issues,
    notifications,
    utc,
    write_issue,
)

# 14 January 2025 10:00 in Paris is 09:00 UTC (CET, UTC+1).
PLANNED_LOCAL = "2025-01-14 10:00"
PLANNED_UTC = utc(2025, 1, 14, 9, 0)


@pytest.fixture(autouse=True)
def _own_issues_only(project_dir):
    clear_issues(project_dir)


@pytest.fixture
def scheduled(project, project_dir, clock):
    """Issue 43 scheduled for 14 January 10:00 Paris time, three subscribers, clock on 10 Jan."""
    clock.set(utc(2025, 1, 10, 12, 0))
    add_subscribers(project, 3)
    path = write_issue(project_dir, number=43)
    row = sched.schedule_issue(project, path, PLANNED_LOCAL)
    return row


def runs(project) -> list[SendRun]:
    with project.session() as s:
        return list(s.scalars(select(SendRun).order_by(SendRun.id)).all())


def sent_count(project) -> int:
    with project.session() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "sent"))


# --------------------------------------------------------------------------- approving

def test_schedule_records_approval_and_utc_time(project, scheduled):
    row = sched.get_scheduled(project, scheduled.id)
    assert row.state == "scheduled"
    assert row.planned_at == PLANNED_UTC
    assert row.list_name == "pvd"
    assert len(row.approved_content_hash) == 64 and len(row.approved_source_hash) == 64
    assert row.issue_path == "issues/2025-01-pvd-43.yaml"  # relative: the project may move


def test_summer_time_is_read_in_the_publication_zone(project, project_dir, clock):
    clock.set(utc(2025, 6, 1))
    path = write_issue(project_dir, number=48, when=date(2025, 6, 17))
    row = sched.schedule_issue(project, path, "2025-06-17 10:00")
    assert row.planned_at == utc(2025, 6, 17, 8, 0)  # CEST, UTC+2


def test_broken_issue_is_refused_at_scheduling_time(project, project_dir, clock):
    path = write_issue(project_dir, number=43)
    path.write_text(path.read_text().replace("number: 43", "number: -1")
                    .replace("type: texte", "type: nope"))
    with pytest.raises(ContentError) as info:
        sched.schedule_issue(project, path, PLANNED_LOCAL)
    assert len(info.value.problems) >= 2  # every problem, at once
    assert sched.list_scheduled(project, include_past=True) == []


def test_draft_past_time_and_unknown_list_are_refused(project, project_dir, clock):
    clock.set(utc(2025, 1, 10))
    draft = write_issue(project_dir, number=43, status="draft")
    with pytest.raises(ScheduleError, match="draft"):
        sched.schedule_issue(project, draft, PLANNED_LOCAL)
    ready = write_issue(project_dir, number=44)
    with pytest.raises(ScheduleError, match="in the past"):
        sched.schedule_issue(project, ready, "2025-01-09 10:00")
    with pytest.raises(ScheduleError, match="does not belong"):
        sched.schedule_issue(project, ready, PLANNED_LOCAL, list_name="acv")
    with pytest.raises(ScheduleError, match="cannot read the time"):
        sched.schedule_issue(project, ready, "next tuesday")


def test_second_schedule_needs_replace(project, project_dir, scheduled):
    path = project_dir / "issues" / "2025-01-pvd-43.yaml"
    with pytest.raises(ScheduleError, match="already scheduled.*--replace"):
        sched.schedule_issue(project, path, "2025-01-15 10:00")
    new = sched.schedule_issue(project, path, "2025-01-15 10:00", replace=True)
    old = sched.get_scheduled(project, scheduled.id)
    assert old.state == "cancelled" and f"replaced by schedule {new.id}" in old.message
    assert [r.id for r in sched.list_scheduled(project)] == [new.id]


def test_cancel(project, scheduled):
    row = sched.cancel_scheduled(project, scheduled.id)
    assert row.state == "cancelled"
    with pytest.raises(ScheduleError, match="already cancelled"):
        sched.cancel_scheduled(project, scheduled.id)
    with pytest.raises(ScheduleNotFound):
        sched.cancel_scheduled(project, 9999)


# --------------------------------------------------------------------------- firing

def test_not_due_yet_does_nothing(project, scheduled, clock):
    clock.set(PLANNED_UTC - timedelta(minutes=1))
    outcome = sched.run_scheduled_send(project, scheduled.id, transport=MemoryTransport())
    assert outcome.state == "scheduled" and not outcome.acted
    assert runs(project) == []


def test_fires_once_with_counts_and_notification(project, scheduled, clock, settings):
    clock.set(PLANNED_UTC + timedelta(seconds=2))
    transport = MemoryTransport()
    outcome = sched.run_scheduled_send(project, scheduled.id, transport=transport)
    assert outcome.state == "done", outcome.detail
    assert sorted(r for m in transport.messages for r in m.recipients) == [
        "lecteur0@example.org", "lecteur1@example.org", "lecteur2@example.org"]
    # A restart, a misfire or a second call: nothing more.
    again = sched.run_scheduled_send(project, scheduled.id, transport=transport)
    assert not again.acted and again.state == "done"
    assert len(transport.messages) == 3
    assert len(runs(project)) == 1 and runs(project)[0].key == scheduled.occurrence_key
    [note] = notifications(settings)
    assert "terminé" in note["Subject"] and "n°43" in note["Subject"]
    body = note.get_body(("plain",)).get_content()
    assert "Tous les destinataires ont été traités." in body and "sent: 3" in body


def test_two_schedulers_at_once_make_one_run(project, scheduled, clock, settings):
    clock.set(PLANNED_UTC + timedelta(seconds=1))
    transport = MemoryTransport()
    outcomes, barrier = [], threading.Barrier(4)

    errors = []

    def fire():
        barrier.wait()
        try:
            outcomes.append(sched.run_scheduled_send(project, scheduled.id,
                                                       transport=transport))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(o.acted for o in outcomes) == [False, False, False, True]
    assert len(runs(project)) == 1
    assert sorted(r for m in transport.messages for r in m.recipients) == [
        f"lecteur{i}@example.org" for i in range(3)]
    assert sched.get_scheduled(project, scheduled.id).state == "done"
    assert len(notifications(settings)) == 1


class _SlowTransport(MemoryTransport):
    """Takes its time per message, so that a second sender has a run to join."""

    def send(self, mail_from, recipients, data):
        time.sleep(0.01)
        super().send(mail_from, recipients, data)


def test_a_sender_can_join_a_scheduled_send_on_postgresql(project, scheduled, clock, settings,
                                                          db_url):
    """The scheduler sends its runs shared: `send --resume RUN --share` elsewhere helps on
    PostgreSQL; on SQLite it is turned away, saying why."""
    from letterpress.delivery import SendOutcome, send

    add_subscribers(project, 120, prefix="renfort")
    clock.set(PLANNED_UTC + timedelta(seconds=1))
    transport = _SlowTransport()
    outcome: list = []
    scheduler = threading.Thread(target=lambda: outcome.append(
        sched.run_scheduled_send(project, scheduled.id, transport=transport)))
    scheduler.start()
    deadline = time.monotonic() + 30
    while not transport.messages and time.monotonic() < deadline:
        time.sleep(0.01)
    [run] = runs(project)
    helper = send(project, transport, run_id=run.id, share=True)
    scheduler.join()
    recipients = [r for m in transport.messages for r in m.recipients]
    assert len(recipients) == len(set(recipients)) == 123  # everyone once
    assert outcome[0].state == "done" and len(notifications(settings)) == 1
    if db_url.startswith("postgresql"):
        assert helper.outcome is SendOutcome.DONE and helper.report.sent_now > 0
    else:
        assert helper.outcome is SendOutcome.LOCKED
        assert "SQLite allows a single sender per run" in helper.detail


def test_down_past_grace_is_missed_not_sent(project, scheduled, clock, settings):
    # The publication allows 4 hours; the scheduler comes back 5 hours late.
    clock.set(PLANNED_UTC + timedelta(hours=5))
    result = sched.sweep(project)
    assert result.sends == [] and result.missed == [f"schedule {scheduled.id}"]
    row = sched.get_scheduled(project, scheduled.id)
    assert row.state == "missed" and "run-now" in row.message
    assert runs(project) == []
    [note] = notifications(settings)
    assert "MANQUÉ" in note["Subject"]
    body = note.get_body(("plain",)).get_content()
    assert "ne fonctionnait pas à l'heure prévue (5.0 h de retard" in body
    assert f"letterpress schedule run-now {scheduled.id}" in body
    # A second sweep does not notify again.
    sched.sweep(project)
    assert len(notifications(settings)) == 1
    # A human decides: run-now sends it.
    outcome = sched.run_scheduled_send(project, scheduled.id, transport=MemoryTransport(),
                                         manual=True)
    assert outcome.state == "done"
    assert sent_count(project) == 3


def test_down_within_grace_fires_on_start(project, scheduled, clock):
    clock.set(PLANNED_UTC + timedelta(hours=3, minutes=59))
    result = sched.sweep(project)
    assert result.sends == [scheduled.id] and result.missed == []
    assert sched.run_scheduled_send(project, scheduled.id,
                                      transport=MemoryTransport()).state == "done"


def test_content_changed_after_approval_is_refused(project, project_dir, scheduled, clock,
                                                   settings):
    path = project_dir / "issues" / "2025-01-pvd-43.yaml"
    path.write_text(path.read_text().replace("Un texte court.", "Un texte modifié."))
    clock.set(PLANNED_UTC)
    transport = MemoryTransport()
    outcome = sched.run_scheduled_send(project, scheduled.id, transport=transport)
    assert outcome.state == "refused"
    assert "changed after it was approved" in outcome.detail and "--replace" in outcome.detail
    assert transport.messages == [] and runs(project) == []
    [note] = notifications(settings)
    assert "REFUSÉ" in note["Subject"]
    body = note.get_body(("plain",)).get_content()
    assert "modifié après sa validation" in body
    assert "letterpress schedule issues/2025-01-pvd-43.yaml --at" in body and "--replace" in body
    # Rescheduling with --replace approves the new content.
    clock.set(PLANNED_UTC + timedelta(minutes=1))
    new = sched.schedule_issue(project, path, "2025-01-14 11:00", replace=True)
    assert sched.get_scheduled(project, scheduled.id).state == "cancelled"
    clock.set(new.planned_at)
    assert sched.run_scheduled_send(project, new.id, transport=transport).state == "done"
    assert len(transport.messages) == 3
    assert "Un texte modifié." in transport.messages[0].message.get_body(("plain",)).get_content()


def test_broken_file_at_fire_time_is_refused(project, project_dir, scheduled, clock):
    path = project_dir / "issues" / "2025-01-pvd-43.yaml"
    path.write_text("publication: pvd\nnumber: [\n")
    clock.set(PLANNED_UTC)
    outcome = sched.run_scheduled_send(project, scheduled.id, transport=MemoryTransport())
    assert outcome.state == "refused" and "no longer builds" in outcome.detail


# --------------------------------------------------------------------------- recurring rule

# pvd's rule is "third tuesday 10:00": 18 March 2025 at 10:00 CET = 09:00 UTC.
MARCH = utc(2025, 3, 18, 9, 0)


def test_rule_sends_the_ready_issue_of_the_month(project, project_dir, clock,
                                                 settings):
    add_subscribers(project, 2)
    write_issue(project_dir, number=44, when=date(2025, 2, 11), subject="Février")
    write_issue(project_dir, number=45, when=date(2025, 3, 11), subject="Mars")
    write_issue(project_dir, number=46, when=date(2025, 4, 8), subject="Avril", status="draft")
    clock.set(MARCH + timedelta(seconds=1))
    result = sched.sweep(project)
    assert result.occurrences == [("pvd", MARCH)]
    transport = MemoryTransport()
    outcome = sched.run_occurrence(project, "pvd", MARCH, transport=transport)
    assert outcome.state == "sent", outcome.detail
    assert {m.message["Subject"] for m in transport.messages} == {"Mars"}
    assert len(transport.messages) == 2
    # Once: again, or after a restart, nothing more.
    assert not sched.run_occurrence(project, "pvd", MARCH, transport=transport).acted
    assert sched.sweep(project).occurrences == []
    assert len(transport.messages) == 2
    with project.session() as s:
        [occ] = s.scalars(select(ScheduleOccurrence)
                          .where(ScheduleOccurrence.outcome != "armed")).all()
    assert occ.occurrence_key == "pvd@2025-03" and occ.outcome == "sent"
    assert occ.issue_path.endswith("2025-03-pvd-45.yaml")
    assert any("terminé" in n["Subject"] for n in notifications(settings))


def test_rule_without_ready_issue_records_missed_and_alerts(project, project_dir,
                                                            clock, settings):
    write_issue(project_dir, number=45, when=date(2025, 3, 11), status="draft")
    clock.set(MARCH)
    outcome = sched.run_occurrence(project, "pvd", MARCH, transport=MemoryTransport())
    assert outcome.state == "missed"
    assert "no issue of pvd dated 2025-03" in outcome.detail and "2025-03-pvd-45" in outcome.detail
    assert runs(project) == []
    [note] = notifications(settings)
    assert "MANQUÉ" in note["Subject"]
    body = note.get_body(("plain",)).get_content()
    assert "Aucun numéro daté de 2025-03 n'est marqué « status: ready »" in body
    assert "drafts: 2025-03-pvd-45.yaml" in body  # the technical detail follows


def test_rule_occurrence_past_grace_is_missed(project, project_dir, clock, settings):
    add_subscribers(project, 1)
    write_issue(project_dir, number=45, when=date(2025, 3, 11))
    clock.set(utc(2025, 3, 1))
    assert sched.sweep(project).missed == []  # the scheduler runs, watching the rule…
    clock.set(MARCH + timedelta(hours=6))  # …then was down over the occurrence
    result = sched.sweep(project)
    assert result.occurrences == [] and result.missed == ["pvd@2025-03"]
    assert runs(project) == []
    # run-now on the occurrence sends it.
    with project.session() as s:
        occ = s.scalars(select(ScheduleOccurrence)
                        .where(ScheduleOccurrence.occurrence_key == "pvd@2025-03")).one()
    assert occ.outcome == "missed"
    outcome = sched.run_occurrence(project, "pvd", occ.planned_at, transport=MemoryTransport(),
                                     manual=True)
    assert outcome.state == "sent"
    assert sent_count(project) == 1


def test_two_ready_issues_for_one_month_send_nothing(project, project_dir, clock):
    write_issue(project_dir, number=45, when=date(2025, 3, 4))
    write_issue(project_dir, number=46, when=date(2025, 3, 25))
    clock.set(MARCH)
    outcome = sched.run_occurrence(project, "pvd", MARCH, transport=MemoryTransport())
    assert outcome.state == "failed" and "several issues" in outcome.detail
    assert runs(project) == []


def test_upcoming_lists_scheduled_sends_and_rule(project, scheduled):
    items = sched.upcoming(project)
    assert items[0].schedule_id == scheduled.id and items[0].when == PLANNED_UTC
    rule_items = [i for i in items if i.schedule_id is None and i.publication == "pvd"]
    assert [i.when for i in rule_items] == [utc(2025, 1, 21, 9, 0), utc(2025, 2, 18, 9, 0),
                                            utc(2025, 3, 18, 9, 0)]


def test_stored_rows_are_unique_per_key(project, scheduled):
    with project.session() as s:
        keys = s.scalars(select(ScheduledSend.occurrence_key)).all()
    assert len(keys) == len(set(keys)) == 1


# --------------------------------------------------------------------------- interruptions

def test_claimed_but_not_prepared_send_is_taken_up_again(project, scheduled, clock):
    # A scheduler claimed the send, then died before creating the send run.
    clock.set(PLANNED_UTC)
    assert _set_state(project, scheduled.id, ("scheduled",), state="running")
    assert sched.sweep(project).sends == [scheduled.id]
    transport = MemoryTransport()
    # At first it may be another scheduler about to create the run: left alone…
    assert not sched.run_scheduled_send(project, scheduled.id, transport=transport).acted
    clock.advance(minutes=11)  # …until the claim is clearly abandoned.
    assert sched.run_scheduled_send(project, scheduled.id, transport=transport).state == "done"
    assert len(transport.messages) == 3 and len(runs(project)) == 1


def test_stale_occurrence_claim_is_taken_over(project, project_dir, clock):
    add_subscribers(project, 2)
    write_issue(project_dir, number=45, when=date(2025, 3, 11))
    clock.set(MARCH)
    with project.session() as s:  # claimed by a process that died at once
        s.add(ScheduleOccurrence(publication="pvd", occurrence_key="pvd@2025-03",
                                 planned_at=MARCH, outcome="running", detail="sending",
                                 created_at=MARCH, updated_at=MARCH))
    transport = MemoryTransport()
    assert not sched.run_occurrence(project, "pvd", MARCH, transport=transport).acted
    clock.advance(minutes=11)
    assert sched.sweep(project).occurrences == [("pvd", MARCH)]
    assert sched.run_occurrence(project, "pvd", MARCH, transport=transport).state == "sent"
    assert len(transport.messages) == 2


def test_server_refusing_everything_fails_the_send_and_run_now_resumes_it(
        project, project_dir, clock, settings):
    from letterpress.errors import TransportError

    clock.set(utc(2025, 1, 10))
    emails = add_subscribers(project, 25)
    row = sched.schedule_issue(project, write_issue(project_dir, number=43), PLANNED_LOCAL)
    down = {"yes": True}

    def refuse(mail_from, recipients, data):
        if down["yes"]:
            raise TransportError("connection refused", code=0)

    transport = MemoryTransport(fail=refuse)
    clock.set(PLANNED_UTC)
    outcome = sched.run_scheduled_send(project, row.id, transport=transport)
    assert outcome.state == "failed" and f"run-now {row.id}" in outcome.detail
    assert transport.messages == []
    assert any("ÉCHEC" in n["Subject"] for n in notifications(settings))
    # Not retried behind the editors' back.
    assert sched.sweep(project).sends == []
    down["yes"] = False
    clock.advance(hours=8)  # past the grace period: a person decided
    outcome = sched.run_scheduled_send(project, row.id, transport=transport, manual=True)
    assert outcome.state == "done", outcome.detail
    assert sorted(r for m in transport.messages for r in m.recipients) == sorted(emails)
    assert len(runs(project)) == 1


def test_explicit_schedule_takes_precedence_over_the_rule(project, project_dir, clock, settings):
    add_subscribers(project, 2)
    clock.set(utc(2025, 3, 1))
    path = write_issue(project_dir, number=45, when=date(2025, 3, 11))
    row = sched.schedule_issue(project, path, "2025-03-25 10:00")  # after the rule's day
    clock.set(MARCH)
    transport = MemoryTransport()
    outcome = sched.run_occurrence(project, "pvd", MARCH, transport=transport)
    assert outcome.state == "skipped" and f"own schedule ({row.id}" in outcome.detail
    assert transport.messages == []
    clock.set(row.planned_at)
    assert sched.run_scheduled_send(project, row.id, transport=transport).state == "done"
    assert len(transport.messages) == 2


def test_migration_matches_the_models(engine):
    """Migration 0003 and the schedule models describe the same tables (no autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from letterpress.models import Base

    ours = {"scheduled_sends", "schedule_occurrences"}

    def concerns_us(diff) -> bool:
        op = diff[0] if isinstance(diff, list) else diff
        for item in op[1:]:
            table = getattr(item, "table", None)
            name = table.name if table is not None else getattr(item, "name", item)
            if name in ours:
                return True
        return False

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if concerns_us(d)]
    assert diffs == []


def test_an_issue_already_sent_cannot_be_scheduled(project, scheduled, clock):
    clock.set(PLANNED_UTC)
    assert sched.run_scheduled_send(project, scheduled.id, transport=MemoryTransport()).state \
        == "done"
    with pytest.raises(ScheduleError, match="already has send run 1 to list 'pvd' \\(done\\)"):
        sched.schedule_issue(project, project.settings.project_dir / scheduled.issue_path,
                             "2025-02-01 10:00")
