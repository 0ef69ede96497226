"""What an SMTP answer means for a delivery, and whom it is about.

    250                               → sent
    4xx                               → deferred, retried with exponential backoff up to a
                                        horizon
    no connection, dropped before the
    data was handed over              → deferred (cause: connection)
    no answer after the whole message
    was handed over (timeout, closed) → uncertain: it may have arrived; never resent by itself
    5xx about the reader (5.1.x, 5.2.1,
    a 550 at RCPT TO)                 → failed; 5.1.x (or "user unknown") is a hard bounce
    5xx about the sender (5.7.x policy,
    authentication, DMARC/SPF/DKIM,
    blocklists, any 5xx at MAIL FROM)  → not the reader's fault: the send loop keeps the row
                                        queued and the circuit breaker pauses the run
    other 5xx (message too big …)     → failed

Only *connection* and *sender* causes count toward "the server refuses everything" (RFC 3463
classes: X.1 addressing and X.2 mailbox are about the reader, X.7 security/policy about the
sender).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ..errors import TransportError
from .lifecycle import DeliveryState

__all__ = [
    "DEFAULT_RETRY_HORIZON",
    "Cause",
    "Outcome",
    "backoff",
    "classify",
    "is_hard_bounce",
    "sender_advice",
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

# Words relays use when they refuse the sender rather than the reader.
_ABOUT_SENDER = re.compile(
    r"dmarc|\bspf\b|dkim|block ?list|black ?list|spamhaus|barracuda|spamcop|\bdnsbl\b|"
    r"\brbl\b|reputation|authenticat|not authori[sz]ed|client host .*(?:blocked|rejected)|"
    r"sender (?:address )?rejected|access denied",
    re.IGNORECASE)


class Cause(StrEnum):
    """Whom an answer is about."""

    NONE = "none"  # accepted
    RECIPIENT = "recipient"  # this reader's address or mailbox
    MESSAGE = "message"  # this message (too big, content refused)
    SENDER = "sender"  # our sender: policy, authentication, reputation, blocklist
    CONNECTION = "connection"  # no connection, or lost before the data was handed over
    UNKNOWN = "unknown"  # the data was handed over and no answer came


@dataclass(frozen=True)
class Outcome:
    """What one attempt means: the row's next state and whom the answer is about."""

    state: DeliveryState
    code: int | None = None
    detail: str = ""
    hard_bounce: bool = False
    refusal: bool = False  # the server refused (5xx) or could not be reached
    cause: Cause = Cause.NONE

    @property
    def ok(self) -> bool:
        """The server accepted the message."""
        return self.state == DeliveryState.SENT

    @property
    def against_server(self) -> bool:
        """Counts toward "the server refuses everything" (connection or sender causes)."""
        return self.cause in (Cause.CONNECTION, Cause.SENDER)


SENT = Outcome(DeliveryState.SENT, 250)


def is_hard_bounce(code: int, enhanced: str | None, text: str) -> bool:
    """A permanent "this mailbox does not exist" answer (RFC 3463 class 5, subject 1)."""
    if enhanced:
        return enhanced.startswith("5.1.")
    return code in (550, 551, 553) and bool(_UNKNOWN_USER.search(text))


def _cause_of_permanent(error: TransportError) -> Cause:
    enhanced, text = error.enhanced or "", error.message
    if enhanced.startswith("5.7.") or _ABOUT_SENDER.search(text):
        return Cause.SENDER
    if error.stage == "MAIL FROM" or (error.code == 0 and error.permanent):
        return Cause.SENDER  # refused before any reader was named (or AUTH refused)
    if enhanced.startswith(("5.1.", "5.2.1")) or error.stage == "RCPT TO":
        return Cause.RECIPIENT
    if is_hard_bounce(error.code, error.enhanced, text):
        return Cause.RECIPIENT
    return Cause.MESSAGE


def classify(error: TransportError | None) -> Outcome:
    """The outcome of an attempt that raised ``error`` (or succeeded, with None)."""
    if error is None:
        return SENT
    text = error.message
    if error.uncertain:
        return Outcome(DeliveryState.UNCERTAIN, error.code or None, text, cause=Cause.UNKNOWN)
    if error.code and 500 <= error.code < 600 or error.permanent:
        cause = _cause_of_permanent(error)
        return Outcome(DeliveryState.FAILED, error.code or None, text,
                       hard_bounce=cause == Cause.RECIPIENT
                       and is_hard_bounce(error.code, error.enhanced, text),
                       refusal=True, cause=cause)
    # 4xx: the server asks us to come back later (throttling, greylisting, full queue).
    # No code: the connection failed or dropped before the message was handed over.
    return Outcome(DeliveryState.DEFERRED, error.code or None, text, refusal=not error.code,
                   cause=Cause.RECIPIENT if error.code else Cause.CONNECTION)


def sender_advice(detail: str) -> str:
    """What to fix when the relay refuses the sender, from the words of its refusal."""
    low = detail.lower()
    if any(w in low for w in ("dmarc", "spf", "dkim", "5.7.26", "5.7.515", "5.7.27")):
        return ("the receiving side checks SPF, DKIM and DMARC alignment: publish or fix the "
                "sender domain's SPF, DKIM and DMARC records (letterpress doctor lists what "
                "to publish)")
    if any(w in low for w in ("authenticat", "password", "credential", "5.7.8", "5.7.0")):
        return "check the relay's user name and password in the SMTP URL"
    if any(w in low for w in ("block", "black", "spamhaus", "rbl", "reputation", "listed")):
        return ("the sending address or IP is blocklisted: ask the listed blocklist for "
                "delisting, or send through another relay")
    return "the relay refuses the sender by policy: check the sender address and the relay's rules"


def backoff(attempts: int) -> float:
    """Seconds to wait before attempt ``attempts + 1``: 1 min, 2, 4, 8 … capped at an hour."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
