"""The schedule lifecycle: the closed vocabularies of scheduled sends and rule occurrences.

Like :mod:`letterpress.delivery.lifecycle`, each state set is a :class:`~enum.StrEnum` (its
values are what the ``state`` / ``outcome`` columns store, as plain strings) and the allowed
moves are written once, here, as tables.  Code that writes a state asks
:func:`check_schedule` / :func:`check_occurrence` (for a compare-and-set, every state it
expects must be allowed to reach the new one), and a new row's first state
:func:`initial_schedule` / :func:`initial_occurrence`; a move the table does not list raises
:class:`~letterpress.errors.ScheduleTransitionError`.

Scheduled sends (``scheduled_sends.state``)::

    (new) ──► scheduled ──► running ──► done
                 │  │  │       └──────► failed ──► running …       (``schedule run-now``)
                 │  │  └──► missed ──► running …                   (``schedule run-now``)
                 │  └─────► refused                                (content changed/broken)
                 └────────► cancelled                              (editor, or --replace)
    missed, failed ──► refused                                     (run-now, content changed)
    missed, failed, refused ──► cancelled

A running send is never cancelled (it is stopped with SIGTERM and resumed); taking over a
stale claim or resuming a paused run keeps it running, which is not a move.

Occurrences of a recurring rule (``schedule_occurrences.outcome``; a row is created in its
first state, the unique occurrence key being the claim)::

    (new) ──► running ──► sent
       │         ├──────► skipped                  (its own schedule; already sent)
       │         ├──────► missed                   (no ready issue)
       │         └──────► failed ──► running …     (``schedule run-now R…``)
       ├────► missed ──► running …                 (late; ``schedule run-now R…``)
       └────► armed                                (the marker of a rule's first sight)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from ..errors import ScheduleTransitionError

__all__ = [
    "OCCURRENCE_INITIAL",
    "OCCURRENCE_TRANSITIONS",
    "SCHEDULE_INITIAL",
    "SCHEDULE_TRANSITIONS",
    "OccurrenceOutcome",
    "ScheduleState",
    "check_occurrence",
    "check_schedule",
    "initial_occurrence",
    "initial_schedule",
]


class ScheduleState(StrEnum):
    """Where a one-off scheduled send stands (``scheduled_sends.state``)."""

    SCHEDULED = "scheduled"  # approved, waiting for its planned time
    RUNNING = "running"  # claimed by a scheduler: its send run is being prepared or sent
    DONE = "done"  # the send run is done
    FAILED = "failed"  # the send could not finish: ``schedule run-now`` continues it
    MISSED = "missed"  # past the grace period, nothing sent: waits for ``schedule run-now``
    CANCELLED = "cancelled"  # by an editor, or replaced by a newer schedule of the issue
    REFUSED = "refused"  # the issue changed or broke after its approval: nothing sent


class OccurrenceOutcome(StrEnum):
    """What became of one occurrence of a recurring rule (``schedule_occurrences.outcome``)."""

    RUNNING = "running"  # claimed: the month's issue is being sent
    SENT = "sent"  # the send run is done
    MISSED = "missed"  # too late, or no ready issue: nothing sent
    FAILED = "failed"  # the send could not finish, or two issues were ready
    SKIPPED = "skipped"  # nothing to do: the issue has its own schedule, or was already sent
    ARMED = "armed"  # not an occurrence: when a scheduler first watched the rule


_S = ScheduleState
SCHEDULE_INITIAL: frozenset[ScheduleState] = frozenset({_S.SCHEDULED})
"""The state a scheduled send is created in."""

SCHEDULE_TRANSITIONS: Mapping[ScheduleState, frozenset[ScheduleState]] = {
    _S.SCHEDULED: frozenset({_S.RUNNING, _S.MISSED, _S.REFUSED, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.DONE, _S.FAILED}),
    _S.MISSED: frozenset({_S.RUNNING, _S.REFUSED, _S.CANCELLED}),
    _S.FAILED: frozenset({_S.RUNNING, _S.REFUSED, _S.CANCELLED}),
    _S.REFUSED: frozenset({_S.CANCELLED}),
    _S.DONE: frozenset(),
    _S.CANCELLED: frozenset(),
}
"""From each scheduled-send state, the states it may move to."""

_O = OccurrenceOutcome
OCCURRENCE_INITIAL: frozenset[OccurrenceOutcome] = frozenset({_O.RUNNING, _O.MISSED, _O.ARMED})
"""The outcomes an occurrence row may be created with."""

OCCURRENCE_TRANSITIONS: Mapping[OccurrenceOutcome, frozenset[OccurrenceOutcome]] = {
    _O.RUNNING: frozenset({_O.SENT, _O.SKIPPED, _O.MISSED, _O.FAILED}),
    _O.MISSED: frozenset({_O.RUNNING}),
    _O.FAILED: frozenset({_O.RUNNING}),
    _O.SENT: frozenset(),
    _O.SKIPPED: frozenset(),
    _O.ARMED: frozenset(),
}
"""From each occurrence outcome, the outcomes it may move to."""


def check_schedule(current: str | Iterable[str], wanted: str) -> ScheduleState:
    """``wanted`` as a :class:`ScheduleState`, or :class:`ScheduleTransitionError`.

    ``current`` is one state, or the states a compare-and-set accepts: each must be allowed
    to reach ``wanted``.
    """
    return _check("scheduled send", ScheduleState, SCHEDULE_TRANSITIONS, current, wanted)


def check_occurrence(current: str | Iterable[str], wanted: str) -> OccurrenceOutcome:
    """``wanted`` as an :class:`OccurrenceOutcome`, or :class:`ScheduleTransitionError`."""
    return _check("rule occurrence", OccurrenceOutcome, OCCURRENCE_TRANSITIONS, current, wanted)


def initial_schedule(wanted: str) -> ScheduleState:
    """``wanted`` as the first state of a new scheduled send, or the error."""
    return _initial("scheduled send", ScheduleState, SCHEDULE_INITIAL, wanted)


def initial_occurrence(wanted: str) -> OccurrenceOutcome:
    """``wanted`` as the first outcome of a new occurrence row, or the error."""
    return _initial("rule occurrence", OccurrenceOutcome, OCCURRENCE_INITIAL, wanted)


def _initial(kind, enum, allowed, wanted):
    try:
        new = enum(wanted)
    except ValueError:
        raise ScheduleTransitionError(kind, "(new)", str(wanted)) from None
    if new not in allowed:
        raise ScheduleTransitionError(kind, "(new)", new.value)
    return new


def _check(kind, enum, table, current, wanted):
    sources = (current,) if isinstance(current, str) else tuple(current)
    try:
        new = enum(wanted)
    except ValueError:
        raise ScheduleTransitionError(kind, ", ".join(map(str, sources)), str(wanted)) from None
    for source in sources:
        try:
            old = enum(source)
        except ValueError:
            raise ScheduleTransitionError(kind, str(source), new.value) from None
        if new not in table[old]:
            raise ScheduleTransitionError(kind, old.value, new.value)
    return new
