"""Delivery: send runs over the audience, a per-recipient ledger, crash-safe resumption.

    result = send(project, transport_for(settings, publication), rendered=rendered,
                  list_name="pvd")
    result.outcome        # SendOutcome.DONE, STOPPED, WAITING, PAUSED, LOCKED or FAILED
    result.report         # ledger counts, the uncertain set, why it stopped

The lifecycle (states and allowed transitions) is in :mod:`.lifecycle`.
"""

from .entry import SendResult, judge, send
from .erasure import erase_recipient
from .lifecycle import (
    DELIVERY_TRANSITIONS,
    RUN_TRANSITIONS,
    DeliveryState,
    RunState,
    SendOutcome,
    check_delivery,
    check_run,
)
from .models import DELIVERY_STATES, RUN_STATES, Delivery, SendRun
from .outcomes import DEFAULT_RETRY_HORIZON, Cause, Outcome, backoff, classify, is_hard_bounce
from .progress import LogProgress, ProgressSnapshot, TerminalProgress, progress_for
from .report import RunReport
from .runs import (
    RunContentChanged,
    acquire_lease,
    find_run,
    get_run,
    list_runs,
    prepare_run,
    release_lease,
    retry_run,
    run_counts,
    run_problems,
)
from .sender import DEFAULT_BOUNCE_RATE, DEFAULT_BOUNCE_WINDOW, DEFAULT_PAUSE_AFTER, send_run

__all__ = [
    "DEFAULT_BOUNCE_RATE",
    "DEFAULT_BOUNCE_WINDOW",
    "DEFAULT_PAUSE_AFTER",
    "DEFAULT_RETRY_HORIZON",
    "DELIVERY_STATES",
    "DELIVERY_TRANSITIONS",
    "RUN_STATES",
    "RUN_TRANSITIONS",
    "Cause",
    "Delivery",
    "DeliveryState",
    "LogProgress",
    "Outcome",
    "ProgressSnapshot",
    "RunContentChanged",
    "RunReport",
    "RunState",
    "SendOutcome",
    "SendResult",
    "SendRun",
    "TerminalProgress",
    "acquire_lease",
    "backoff",
    "check_delivery",
    "check_run",
    "classify",
    "erase_recipient",
    "find_run",
    "get_run",
    "is_hard_bounce",
    "judge",
    "list_runs",
    "prepare_run",
    "progress_for",
    "release_lease",
    "retry_run",
    "run_counts",
    "run_problems",
    "send",
    "send_run",
]
