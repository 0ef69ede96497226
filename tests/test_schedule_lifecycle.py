"""The schedule lifecycle: its transition tables, and the states the schedule code writes.

The tables are checked exhaustively (every listed move accepted, every other one refused);
the database tests run on SQLite and PostgreSQL (``project`` sits on ``db_url``) and record
every INSERT/UPDATE of the two schedule tables while the scheduler goes through each state.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product

import pytest
from sqlalchemy import event, select
from sqlalchemy.sql.dml import Insert, Update

from letterpress import schedule as sched
from letterpress.errors import (
    LetterpressError,
    ScheduleError,
    ScheduleTransitionError,
    StateTransitionError,
    TransportError,
)
from letterpress.schedule import notify
from letterpress.schedule.lifecycle import (
    OCCURRENCE_INITIAL,
    OCCURRENCE_TRANSITIONS,
    SCHEDULE_INITIAL,
    SCHEDULE_TRANSITIONS,
    OccurrenceOutcome,
    ScheduleState,
    check_occurrence,
    check_schedule,
    initial_occurrence,
    initial_schedule,
)
from letterpress.schedule.models import (
    OCCURRENCE_OUTCOMES,
    SCHEDULE_STATES,
    ScheduledSend,
    ScheduleOccurrence,
)
from letterpress.schedule.rules import parse_rule
from letterpress.schedule.service import _set_state
from letterpress.transports import MemoryTransport

from .fixtures_schedule import add_subscribers, clear_issues, utc, write_issue

S, O = ScheduleState, OccurrenceOutcome  # noqa: E741 - O for OccurrenceOutcome, as S

# --------------------------------------------------------------------------- the tables


def test_the_vocabularies_keep_the_stored_values():
    # The columns hold these strings (migration 0003); the enums must not rename any.
    assert SCHEDULE_STATES == ("scheduled", "running", "done", "failed", "missed",
                               "cancelled", "refused")
    assert OCCURRENCE_OUTCOMES == ("running", "sent", "missed", "failed", "skipped", "armed")
    assert set(SCHEDULE_TRANSITIONS) == set(ScheduleState)
    assert set(OCCURRENCE_TRANSITIONS) == set(OccurrenceOutcome)


@pytest.mark.parametrize("current, wanted", list(product(ScheduleState, ScheduleState)))
def test_schedule_table_is_enforced(current, wanted):
    if wanted in SCHEDULE_TRANSITIONS[current]:
        assert check_schedule(current.value, wanted.value) is wanted
    else:
        with pytest.raises(ScheduleTransitionError) as caught:
            check_schedule(current.value, wanted.value)
        assert (caught.value.kind, caught.value.current, caught.value.wanted) == \
            ("scheduled send", current.value, wanted.value)


@pytest.mark.parametrize("current, wanted", list(product(OccurrenceOutcome, OccurrenceOutcome)))
def test_occurrence_table_is_enforced(current, wanted):
    if wanted in OCCURRENCE_TRANSITIONS[current]:
        assert check_occurrence(current.value, wanted.value) is wanted
    else:
        with pytest.raises(ScheduleTransitionError) as caught:
            check_occurrence(current.value, wanted.value)
        assert (caught.value.current, caught.value.wanted) == (current.value, wanted.value)


def test_the_moves_the_scheduler_relies_on_are_listed():
    allowed = [
        (S.SCHEDULED, S.RUNNING), (S.SCHEDULED, S.MISSED), (S.SCHEDULED, S.REFUSED),
        (S.SCHEDULED, S.CANCELLED), (S.RUNNING, S.DONE), (S.RUNNING, S.FAILED),
        (S.MISSED, S.RUNNING), (S.FAILED, S.RUNNING),  # run-now
        (S.MISSED, S.REFUSED), (S.FAILED, S.REFUSED), (S.REFUSED, S.CANCELLED),
    ]
    for current, wanted in allowed:
        check_schedule(current, wanted)
    for current, wanted in [(O.RUNNING, O.SENT), (O.RUNNING, O.SKIPPED), (O.RUNNING, O.MISSED),
                            (O.RUNNING, O.FAILED), (O.MISSED, O.RUNNING), (O.FAILED, O.RUNNING)]:
        check_occurrence(current, wanted)
    # Never: a running send cancelled, a finished one restarted, an armed marker sent.
    for current, wanted in [(S.RUNNING, S.CANCELLED), (S.DONE, S.RUNNING),
                            (S.CANCELLED, S.SCHEDULED), (S.REFUSED, S.RUNNING)]:
        with pytest.raises(ScheduleTransitionError):
            check_schedule(current, wanted)
    for current, wanted in [(O.SENT, O.RUNNING), (O.ARMED, O.RUNNING), (O.SKIPPED, O.RUNNING)]:
        with pytest.raises(ScheduleTransitionError):
            check_occurrence(current, wanted)


def test_a_compare_and_set_checks_every_state_it_accepts():
    assert check_schedule((S.SCHEDULED, S.MISSED, S.FAILED), S.REFUSED) is S.REFUSED
    with pytest.raises(ScheduleTransitionError, match="'done' to 'running'"):
        check_schedule(("scheduled", "done"), "running")


def test_first_states():
    for state in ScheduleState:
        if state in SCHEDULE_INITIAL:
            assert initial_schedule(state.value) is state
        else:
            with pytest.raises(ScheduleTransitionError, match="'\\(new\\)'"):
                initial_schedule(state.value)
    for outcome in OccurrenceOutcome:
        if outcome in OCCURRENCE_INITIAL:
            assert initial_occurrence(outcome.value) is outcome
        else:
            with pytest.raises(ScheduleTransitionError):
                initial_occurrence(outcome.value)


def test_unknown_values_are_refused_with_the_error():
    with pytest.raises(ScheduleTransitionError, match="'sending'"):
        check_schedule("scheduled", "sending")
    with pytest.raises(ScheduleTransitionError, match="'paused'"):
        check_schedule("paused", "running")
    with pytest.raises(ScheduleTransitionError):
        initial_occurrence("waiting")


def test_the_error_is_a_schedule_error_and_a_state_transition_error():
    error = ScheduleTransitionError("scheduled send", "done", "running")
    assert isinstance(error, ScheduleError) and isinstance(error, StateTransitionError)
    assert isinstance(error, LetterpressError)
    assert str(error) == "a scheduled send cannot go from 'done' to 'running'"


def test_every_announced_end_has_its_message():
    # notify keys its subjects by the state a row ended in; none may fall back to "failed".
    announced = {S.DONE, S.FAILED, S.MISSED, S.REFUSED, O.SENT, O.FAILED, O.MISSED, O.SKIPPED}
    for language, texts in notify.MESSAGES.items():
        assert announced <= set(texts), language


# --------------------------------------------------------------------------- the database

WRITTEN = {"scheduled_sends": ("state", ScheduleState),
           "schedule_occurrences": ("outcome", OccurrenceOutcome)}


@pytest.fixture
def written(project, project_dir):
    """Every state/outcome value the code writes, per table, as the objects it passed."""
    clear_issues(project_dir)
    seen: dict[str, list] = {"scheduled_sends": [], "schedule_occurrences": []}

    def capture(conn, clause, multiparams, params, execution_options):
        if not isinstance(clause, Insert | Update) or clause.table.name not in WRITTEN:
            return
        column, _ = WRITTEN[clause.table.name]
        if params or multiparams:  # an ORM flush: the values are the parameters
            rows = [params] if params else list(multiparams)
        else:  # update(...).values(...): the values are in the statement
            rows = [clause.compile(dialect=conn.dialect).params]
        seen[clause.table.name].extend(row[column] for row in rows if column in row)

    event.listen(project.engine, "before_execute", capture)
    yield seen
    event.remove(project.engine, "before_execute", capture)


def _assert_members(seen, table):
    _, enum = WRITTEN[table]
    strays = [value for value in seen[table] if not isinstance(value, enum)]
    assert strays == [], f"{table}: written as plain values: {strays!r}"
    return set(seen[table])


def test_every_schedule_state_written_is_a_member(project, project_dir, clock, written):
    clock.set(utc(2025, 1, 10, 12, 0))
    add_subscribers(project, 2)
    path = write_issue(project_dir, number=43)
    sched.schedule_issue(project, path, "2025-01-14 10:00")
    row = sched.schedule_issue(project, path, "2025-01-14 11:00", replace=True)  # cancelled
    clock.set(row.planned_at)
    assert sched.run_scheduled_send(project, row.id, transport=MemoryTransport()).state == S.DONE
    # Missed, then refused by run-now (the file changed), then cancelled.
    path = write_issue(project_dir, number=44, when=date(2025, 2, 11))
    late = sched.schedule_issue(project, path, "2025-02-11 10:00")
    clock.set(late.planned_at + timedelta(hours=5))
    assert sched.sweep(project).missed == [f"schedule {late.id}"]
    write_issue(project_dir, number=44, when=date(2025, 2, 11), text="Changé.")
    assert sched.run_scheduled_send(project, late.id, manual=True).state == S.REFUSED
    assert sched.cancel_scheduled(project, late.id).state == S.CANCELLED
    # Failed (the server refuses everything), then run-now finishes it.
    path = write_issue(project_dir, number=45, when=date(2025, 3, 11))
    down = {"yes": True}

    def refuse(mail_from, recipients, data):
        if down["yes"]:
            raise TransportError("connection refused", code=0)

    failing = sched.schedule_issue(project, path, "2025-03-11 10:00")
    clock.set(failing.planned_at)
    transport = MemoryTransport(fail=refuse)
    assert sched.run_scheduled_send(project, failing.id, transport=transport).state == S.FAILED
    down["yes"] = False
    assert sched.run_scheduled_send(project, failing.id, transport=transport,
                                    manual=True).state == S.DONE

    assert _assert_members(written, "scheduled_sends") == set(ScheduleState)
    with project.session() as s:
        stored = set(s.scalars(select(ScheduledSend.state)).all())
    assert stored == {"cancelled", "done"}


def _occurrence(project, year: int, month: int):
    pub = project.settings.publication("pvd")
    return parse_rule(pub.schedule).next_after(utc(year, month, 1), pub.tz)


def test_every_occurrence_outcome_written_is_a_member(project, project_dir, clock, written):
    add_subscribers(project, 1)
    clock.set(utc(2025, 3, 1))
    sched.sweep(project)  # the rule is armed
    march = _occurrence(project, 2025, 3)
    write_issue(project_dir, number=45, when=date(2025, 3, 4))
    extra = write_issue(project_dir, number=46, when=date(2025, 3, 25))
    clock.set(march)
    assert sched.run_occurrence(project, "pvd", march, transport=MemoryTransport()).state == \
        O.FAILED  # two ready issues
    extra.unlink()
    assert sched.run_occurrence(project, "pvd", march, transport=MemoryTransport(),
                                manual=True).state == O.SENT
    april = _occurrence(project, 2025, 4)
    clock.set(april + timedelta(hours=6))
    assert sched.sweep(project).missed == ["pvd@2025-04"]  # late
    may = _occurrence(project, 2025, 5)
    clock.set(may)
    assert sched.run_occurrence(project, "pvd", may).state == O.MISSED  # no ready issue
    june = _occurrence(project, 2025, 6)
    clock.set(utc(2025, 6, 1))
    path = write_issue(project_dir, number=48, when=date(2025, 6, 3))
    sched.schedule_issue(project, path, "2025-06-30 10:00")
    clock.set(june)
    assert sched.run_occurrence(project, "pvd", june).state == O.SKIPPED

    assert _assert_members(written, "schedule_occurrences") == set(OccurrenceOutcome)
    with project.session() as s:
        stored = set(s.scalars(select(ScheduleOccurrence.outcome)).all())
    assert stored == {"armed", "sent", "missed", "skipped"}


def test_a_forbidden_move_raises_before_anything_is_written(project, project_dir, clock):
    clear_issues(project_dir)
    clock.set(utc(2025, 1, 10, 12, 0))
    row = sched.schedule_issue(project, write_issue(project_dir, number=43), "2025-01-14 10:00")
    with pytest.raises(ScheduleTransitionError) as caught:
        _set_state(project, row.id, ("scheduled",), state="done", message="never")
    assert (caught.value.current, caught.value.wanted) == ("scheduled", "done")
    kept = sched.get_scheduled(project, row.id)
    assert kept.state == S.SCHEDULED and kept.message == ""
    # A move the table allows goes through the same compare-and-set.
    assert _set_state(project, row.id, ("scheduled",), state="running")
    assert sched.get_scheduled(project, row.id).state == S.RUNNING
