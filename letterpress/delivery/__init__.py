"""Delivery: send runs over the audience, a per-recipient ledger, crash-safe resumption.

    with project.session() as session:
        run = prepare_run(session, rendered, "pvd", clock=project.clock)
    report = send_run(project, run.id, transport_for(settings, publication))
"""

from .erasure import erase_recipient
from .models import DELIVERY_STATES, RUN_STATES, Delivery, SendRun
from .outcomes import DEFAULT_RETRY_HORIZON, Outcome, backoff, classify, is_hard_bounce
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
from .sender import DEFAULT_PAUSE_AFTER, send_run

__all__ = [
    "DEFAULT_PAUSE_AFTER",
    "DEFAULT_RETRY_HORIZON",
    "DELIVERY_STATES",
    "RUN_STATES",
    "Delivery",
    "LogProgress",
    "Outcome",
    "ProgressSnapshot",
    "RunContentChanged",
    "RunReport",
    "SendRun",
    "TerminalProgress",
    "acquire_lease",
    "backoff",
    "classify",
    "erase_recipient",
    "find_run",
    "get_run",
    "is_hard_bounce",
    "list_runs",
    "prepare_run",
    "progress_for",
    "release_lease",
    "retry_run",
    "run_counts",
    "run_problems",
    "send_run",
]
