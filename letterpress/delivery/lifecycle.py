"""The send lifecycle: the closed vocabularies of runs and deliveries and their transitions.

Each state set is a :class:`~enum.StrEnum` (its values are what the database stores, checked
there by a CHECK constraint, migration 0005), and the allowed moves are written once, here,
as tables.  Code that changes a state asks :func:`check_delivery` / :func:`check_run` (or, for
a bulk UPDATE, restricts it with :func:`delivery_sources` / :func:`run_sources`); a move the
table does not list raises :class:`~letterpress.errors.StateTransitionError`.

Deliveries (one ledger row per reader)::

    queued ──► sending ──► sent
       ▲          │  ├───► deferred ──► sending … ──► failed   (past the retry horizon)
       │          │  ├───► failed                            (refused for good; maybe bounced)
       │          │  ├───► uncertain                         (no answer after the data: maybe
       │          │  │                                        arrived, never resent by itself)
       │          └──┴───► queued                            (refused for a reason about the
       │                                                      sender: kept for the resume)
       └── skipped                                           (unsubscribed meanwhile)
    failed, deferred, uncertain ──► queued                   (``runs retry``)

Runs::

    pending ──► sending ──► done
                   │ ▲ └──► paused ──► sending …              (stopped, refused, breaker)
                   │ └────────────────────────────────────────  (another sender joins)
                   └──────► failed
    done, failed ──► paused                                   (``runs retry`` queued rows)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ..errors import StateTransitionError

__all__ = [
    "DELIVERY_TRANSITIONS",
    "RUN_TRANSITIONS",
    "DeliveryState",
    "RunState",
    "SendOutcome",
    "check_delivery",
    "check_run",
    "delivery_sources",
    "run_sources",
    "sql_check",
]


class RunState(StrEnum):
    """Where a send run stands (``send_runs.state``)."""

    PENDING = "pending"  # prepared, nothing handed over yet
    SENDING = "sending"  # one or more senders hold it
    PAUSED = "paused"  # stopped before the end: resumable (see the run's message)
    DONE = "done"  # every row settled (sent, failed, skipped or uncertain)
    FAILED = "failed"  # cannot go on by itself


class DeliveryState(StrEnum):
    """Where one reader's delivery stands (``deliveries.state``)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


class SendOutcome(StrEnum):
    """How one call of :func:`letterpress.delivery.send` ended (not stored: a verdict)."""

    DONE = "done"  # the run is done
    STOPPED = "stopped"  # an orderly stop (Ctrl-C, SIGTERM): resume it later, nothing wrong
    WAITING = "waiting"  # only deferred rows are left, due later (``wait_for_retries=False``)
    PAUSED = "paused"  # the server or the circuit breaker paused it: a person must look
    LOCKED = "locked"  # another sender holds the run (SQLite) — not ours to judge
    FAILED = "failed"  # an error stopped it (content changed, configuration, crash)


Q, SG, ST, DF, FL, SK, UN = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.SENT,
                             DeliveryState.DEFERRED, DeliveryState.FAILED,
                             DeliveryState.SKIPPED, DeliveryState.UNCERTAIN)

DELIVERY_TRANSITIONS: Mapping[DeliveryState, frozenset[DeliveryState]] = {
    Q: frozenset({SG, SK}),
    SG: frozenset({ST, DF, FL, UN, Q}),
    DF: frozenset({SG, SK, Q}),
    FL: frozenset({Q}),
    UN: frozenset({Q}),
    ST: frozenset(),
    SK: frozenset(),
}
"""From each delivery state, the states it may move to."""

RUN_TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset({RunState.SENDING, RunState.PAUSED, RunState.FAILED}),
    RunState.SENDING: frozenset({RunState.SENDING, RunState.PAUSED, RunState.DONE,
                                 RunState.FAILED}),
    RunState.PAUSED: frozenset({RunState.SENDING, RunState.PAUSED, RunState.DONE,
                                RunState.FAILED}),
    RunState.DONE: frozenset({RunState.PAUSED}),
    RunState.FAILED: frozenset({RunState.PAUSED, RunState.SENDING}),
}
"""From each run state, the states it may move to."""


def check_delivery(current: str, wanted: str) -> DeliveryState:
    """``wanted`` as a :class:`DeliveryState`, or :class:`StateTransitionError`."""
    return _check("delivery", DeliveryState, DELIVERY_TRANSITIONS, current, wanted)


def check_run(current: str, wanted: str) -> RunState:
    """``wanted`` as a :class:`RunState`, or :class:`StateTransitionError`."""
    return _check("send run", RunState, RUN_TRANSITIONS, current, wanted)


def delivery_sources(wanted: DeliveryState) -> tuple[str, ...]:
    """The states a delivery may reach ``wanted`` from (for a bulk UPDATE's WHERE)."""
    return tuple(s.value for s, targets in DELIVERY_TRANSITIONS.items() if wanted in targets)


def run_sources(wanted: RunState) -> tuple[str, ...]:
    """The states a run may reach ``wanted`` from."""
    return tuple(s.value for s, targets in RUN_TRANSITIONS.items() if wanted in targets)


def sql_check(column: str, states: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint keeping ``column`` within ``states``."""
    return f"{column} IN ({', '.join(repr(s.value) for s in states)})"


def _check(kind, enum, table, current, wanted):
    try:
        old, new = enum(current), enum(wanted)
    except ValueError:
        raise StateTransitionError(kind, str(current), str(wanted)) from None
    if new not in table[old]:
        raise StateTransitionError(kind, old.value, new.value)
    return new
