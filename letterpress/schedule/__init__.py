"""Scheduled sending: one-off scheduled sends, recurring publication rules, the daemon.

APScheduler is confined to :mod:`letterpress.schedule.daemon`; the decisions (fire, missed,
refused) live in :mod:`letterpress.schedule.service` and take the project's injected clock.
"""

from .lateness import Sweep, sweep
from .lifecycle import OccurrenceOutcome, ScheduleState
from .recurring import find_ready_issue, get_occurrence, list_occurrences, run_occurrence
from .rules import Rule, RuleError, parse_rule
from .service import (
    Outcome,
    Upcoming,
    cancel_scheduled,
    decide,
    get_scheduled,
    list_scheduled,
    run_scheduled_send,
    schedule_issue,
    upcoming,
)

__all__ = [
    "OccurrenceOutcome",
    "Outcome",
    "Rule",
    "RuleError",
    "ScheduleState",
    "Sweep",
    "Upcoming",
    "cancel_scheduled",
    "decide",
    "find_ready_issue",
    "get_occurrence",
    "get_scheduled",
    "list_occurrences",
    "list_scheduled",
    "parse_rule",
    "run_occurrence",
    "run_scheduled_send",
    "run_scheduler",
    "schedule_issue",
    "start_background",
    "sweep",
    "upcoming",
]


def __getattr__(name: str):
    # The daemon (and APScheduler with it) is imported only by those who run it.
    if name in ("run_scheduler", "start_background"):
        from . import daemon

        return getattr(daemon, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
