"""The report of a send run: ledger counts, the uncertain set, why it stopped."""

from __future__ import annotations

from dataclasses import dataclass

from .lifecycle import RunState, SendOutcome

__all__ = ["RunReport"]


@dataclass(frozen=True)
class RunReport:
    """What a send run has done so far: ledger counts, the uncertain set, why it stopped."""

    run_id: int
    state: RunState
    total: int
    counts: dict[str, int]
    uncertain_ids: tuple[int, ...] = ()
    uncertain_emails: tuple[str, ...] = ()
    paused_reason: str | None = None
    stopped: bool = False
    bounced: int = 0
    elapsed: float = 0.0
    sent_now: int = 0  # messages accepted by this call
    outcome: SendOutcome | None = None  # why this call ended (None: a report read later)

    @property
    def sent(self) -> int:
        """Accepted by the server."""
        return self.counts.get("sent", 0)

    @property
    def deferred(self) -> int:
        """Waiting for a retry after a temporary refusal."""
        return self.counts.get("deferred", 0)

    @property
    def failed(self) -> int:
        """Refused for good (or deferred past the retry horizon)."""
        return self.counts.get("failed", 0)

    @property
    def skipped(self) -> int:
        """Unsubscribed after the run started."""
        return self.counts.get("skipped", 0)

    @property
    def uncertain(self) -> int:
        """No answer after the message was handed over (or in flight when a sender died):
        may or may not have arrived."""
        return self.counts.get("uncertain", 0)

    @property
    def pending(self) -> int:
        """Not attempted yet."""
        return self.counts.get("queued", 0) + self.counts.get("sending", 0)

    @property
    def paused(self) -> bool:
        """Stopped before the end; resumable."""
        return self.state == "paused"

    @property
    def rate(self) -> float:
        """Messages per second accepted by this call."""
        return self.sent_now / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line for people: counts, and why the run is not done when it is not."""
        parts = [f"run {self.run_id} {self.state}: {self.sent}/{self.total} sent"]
        for name in ("deferred", "failed", "skipped", "uncertain"):
            n = self.counts.get(name, 0)
            if n:
                parts.append(f"{n} {name}")
        if self.bounced:
            parts.append(f"{self.bounced} hard bounces")
        text = ", ".join(parts)
        if self.paused_reason:
            text += f" — {self.paused_reason}"
        return text
