"""Scheduled sending: one-off scheduled sends, recurring publication rules, the daemon.

APScheduler is confined to :mod:`letterpress.schedule.daemon`; the decisions (fire, missed,
refused) live in :mod:`letterpress.schedule.service` and take the project's injected clock.
"""

from .rules import Rule, RuleError, parse_rule
from .service import (
    Outcome,
    Sweep,
    Upcoming,
    cancel_scheduled,
    decide,
    get_occurrence,
    get_scheduled,
    list_occurrences,
    list_scheduled,
    run_occurrence,
    run_scheduled_send,
    schedule_issue,
    sweep,
    upcoming,
)

__all__ = [
    "Outcome",
    "Rule",
    "RuleError",
    "Sweep",
    "Upcoming",
    "cancel_scheduled",
    "decide",
    "get_occurrence",
    "get_scheduled",
    "list_occurrences",
    "list_scheduled",
    "parse_rule",
    "run_occurrence",
    "run_scheduled_send",
    "schedule_issue",
    "sweep",
    "upcoming",
]
