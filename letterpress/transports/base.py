"""The transport interface: how a finished message leaves letterpress.

A transport takes an envelope (sender, recipients) and the message bytes.  It is passed in
to whatever sends (delivery, the web pages' confirmation mails), never looked up globally.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..clock import Clock, SystemClock

if TYPE_CHECKING:
    from ..settings import Publication, Settings

__all__ = ["RateLimiter", "Transport", "transport_for"]


@runtime_checkable
class Transport(Protocol):
    """Anything that can hand a message over; raises ``TransportError`` when it cannot."""

    def send(self, mail_from: str, recipients: list[str], data: bytes) -> None:
        """Hand ``data`` to every address in ``recipients``, or raise ``TransportError``."""
        ...

    def close(self) -> None:
        """Release connections and files; the transport may be used again afterwards."""
        ...


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (0 or less: unlimited).

    Slots are handed out at exact intervals, so a burst after an idle period does not exceed
    the rate a relay was promised.
    """

    def __init__(self, rate: float, clock: Clock | None = None):
        self.rate = float(rate or 0)
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> None:
        """Wait until the next slot."""
        if self.rate <= 0:
            return
        interval = 1.0 / self.rate
        with self._lock:
            now = self.clock.monotonic()
            slot = max(now, self._next)
            self._next = slot + interval
        self.clock.sleep(slot - now)


def transport_for(settings: Settings, publication: Publication) -> Transport:
    """SMTP when the publication (or ``LETTERPRESS_SMTP_URL``) names a server, else the outbox."""
    config = settings.transport_for(publication)
    if config.url:
        from .smtp import SMTPTransport

        return SMTPTransport.from_url(config.url, pool=config.pool, rate=config.rate)
    from .outbox import OutboxTransport

    return OutboxTransport(settings.outbox_dir)
