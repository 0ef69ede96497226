"""Showing a send run's progress: a one-line bar on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = ["LogProgress", "ProgressSnapshot", "TerminalProgress", "progress_for"]


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where a run stands; given to the ``progress`` callback after every batch."""

    run_id: int
    total: int
    sent: int
    deferred: int
    failed: int
    skipped: int
    uncertain: int
    remaining: int
    rate: float  # messages per second since this sender started
    eta: float | None  # seconds, None when unknown
    final: bool = False

    @property
    def done(self) -> int:
        """Rows settled (sent, failed, skipped, uncertain)."""
        return self.total - self.remaining


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _counts(p: ProgressSnapshot) -> str:
    text = f"sent {p.sent}  deferred {p.deferred}  failed {p.failed}"
    if p.skipped:
        text += f"  skipped {p.skipped}"
    if p.uncertain:
        text += f"  uncertain {p.uncertain}"
    return text


class TerminalProgress:
    """Redraws one line: bar, counts, rate and ETA (at most ten times a second)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self._last: float | None = None

    def __call__(self, p: ProgressSnapshot) -> None:
        now = time.monotonic()
        if not p.final and self._last is not None and now - self._last < 0.1:
            return
        self._last = now
        fraction = p.done / p.total if p.total else 1.0
        filled = int(self.width * fraction)
        bar = "█" * filled + "·" * (self.width - filled)
        line = (f"\r{bar} {fraction:6.1%}  {_counts(p)}  {p.rate:,.0f}/s  "
                f"ETA {_duration(p.eta)} ")
        self.stream.write(line)
        if p.final:
            self.stream.write("\n")
        self.stream.flush()


class LogProgress:
    """A plain line every ``interval`` seconds and at the end (for logs and cron mail)."""

    def __init__(self, stream: TextIO | None = None, interval: float = 10.0):
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last: float | None = None

    def __call__(self, p: ProgressSnapshot) -> None:
        now = time.monotonic()
        if not p.final and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.stream.write(f"{stamp} run {p.run_id}: {p.done}/{p.total}  {_counts(p)}  "
                          f"{p.rate:,.1f}/s  ETA {_duration(p.eta)}\n")
        self.stream.flush()


def progress_for(stream: TextIO | None = None) -> Callable[[ProgressSnapshot], None]:
    """A bar when ``stream`` is a terminal, log lines otherwise."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", lambda: False)()
    return TerminalProgress(stream) if isatty else LogProgress(stream)
