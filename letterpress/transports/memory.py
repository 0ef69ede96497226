"""A transport that keeps every message in a list: for tests and dry runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from .base import Limits

__all__ = ["MemoryTransport", "SentMessage"]


@dataclass(frozen=True)
class SentMessage:
    """One message a :class:`MemoryTransport` accepted."""

    mail_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the standard library."""
        return message_from_bytes(self.data, policy=policy.SMTP)  # type: ignore[return-value]


class MemoryTransport:
    """Accepts everything into ``messages``; ``fail`` may raise to simulate a refusal."""

    def __init__(self, fail: Callable[[str, list[str], bytes], None] | None = None, *,
                 limits: Limits | None = None):
        self.limits = limits or Limits()
        self.messages: list[SentMessage] = []
        self.fail = fail
        self.closed = False
        self._lock = threading.Lock()

    def send(self, mail_from: str, recipients: list[str], data: bytes) -> None:
        """Record the message (after ``fail`` had its chance to raise ``TransportError``)."""
        if self.fail is not None:
            self.fail(mail_from, list(recipients), data)
        with self._lock:
            self.messages.append(SentMessage(mail_from, list(recipients), data))

    def close(self) -> None:
        """Nothing to release; remembered for tests."""
        self.closed = True

    def to(self, address: str) -> list[SentMessage]:
        """Every message sent to ``address`` (case-insensitive)."""
        address = address.lower()
        return [m for m in self.messages if address in (r.lower() for r in m.recipients)]
