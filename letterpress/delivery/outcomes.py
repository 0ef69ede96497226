"""What an SMTP answer means for a delivery: sent, deferred (retry later) or failed.

    250            → sent
    4xx, no answer → deferred, retried with exponential backoff up to a horizon
    5xx            → failed; 5.1.x (or a 550/551/553 "user unknown") is a hard bounce and
                     stops the subscription in the audience
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from ..errors import TransportError

__all__ = [
    "DEFAULT_RETRY_HORIZON",
    "Outcome",
    "backoff",
    "classify",
    "is_hard_bounce",
]

DEFAULT_RETRY_HORIZON = timedelta(hours=24)
"""How long a temporarily refused delivery keeps being retried before it is marked failed."""

BACKOFF_BASE = 60.0  # seconds before the first retry
BACKOFF_CAP = 3600.0  # never wait more than an hour between two attempts

_UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|no such user|mailbox (?:not found|unavailable|does not exist)|"
    r"does not exist|recipient (?:address )?rejected|invalid recipient|no mailbox|"
    r"address rejected|unrouteable address",
    re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    """The ledger consequence of one attempt."""

    state: str  # sent | deferred | failed
    code: int | None = None
    detail: str = ""
    hard_bounce: bool = False
    refusal: bool = False  # a refusal that, repeated for everyone, means the server is refusing all

    @property
    def ok(self) -> bool:
        """The server accepted the message."""
        return self.state == "sent"


SENT = Outcome("sent", 250)


def is_hard_bounce(code: int, enhanced: str | None, text: str) -> bool:
    """A permanent "this mailbox does not exist" answer (RFC 3463 class 5, subject 1)."""
    if enhanced:
        return enhanced.startswith("5.1.")
    return code in (550, 551, 553) and bool(_UNKNOWN_USER.search(text))


def classify(error: TransportError | None) -> Outcome:
    """The outcome of an attempt that raised ``error`` (or succeeded, with None)."""
    if error is None:
        return SENT
    text = error.message
    if error.code and 500 <= error.code < 600 or error.permanent:
        return Outcome("failed", error.code or None, text,
                       hard_bounce=is_hard_bounce(error.code, error.enhanced, text), refusal=True)
    # 4xx: the server asks us to come back later (throttling, greylisting, full queue).
    # No code: the connection failed or dropped; the message may not have arrived.
    return Outcome("deferred", error.code or None, text, refusal=not error.code)


def backoff(attempts: int) -> float:
    """Seconds to wait before attempt ``attempts + 1``: 1 min, 2, 4, 8 … capped at an hour."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
