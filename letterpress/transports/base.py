"""The transport interface: how a finished message leaves letterpress.

A transport takes an envelope (sender, recipients) and the message bytes.  It is passed in
to whatever sends (delivery, the web pages' confirmation mails), never looked up globally.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..clock import Clock, SystemClock

if TYPE_CHECKING:
    from ..settings import Publication, Settings

__all__ = ["Limits", "RateLimiter", "Transport", "limits_of", "transport_for"]


@dataclass(frozen=True)
class Limits:
    """How hard a transport may be driven: its own configuration, read by whoever sends.

    ``pool`` is the number of messages in flight at once (SMTP connections); ``rate`` the
    messages per second it lets through (0: unlimited), enforced by the transport itself.
    A send run sizes its batches from them and never limits the rate a second time.
    """

    pool: int = 1
    rate: float = 0.0


@runtime_checkable
class Transport(Protocol):
    """Anything that can hand a message over; raises ``TransportError`` when it cannot."""

    def send(self, mail_from: str, recipients: list[str], data: bytes) -> None:
        """Hand ``data`` to every address in ``recipients``, or raise ``TransportError``."""
        ...

    def close(self) -> None:
        """Release connections and files; the transport may be used again afterwards."""
        ...


@runtime_checkable
class LimitedTransport(Transport, Protocol):
    """A transport that states its :class:`Limits` (every transport of letterpress does)."""

    limits: Limits


def limits_of(transport: Transport) -> Limits:
    """The transport's limits; one message at a time, unlimited rate, when it states none."""
    return transport.limits if isinstance(transport, LimitedTransport) else Limits()


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


def transport_for(settings: Settings, publication: Publication, *,
                  rate: float | None = None) -> Transport:
    """SMTP when the publication (or ``LETTERPRESS_SMTP_URL``) names a server, else the outbox.

    ``rate`` (messages per second) replaces the configured one, e.g. ``send --rate``.
    """
    config = settings.transport_for(publication)
    if config.url:
        from .smtp import SMTPTransport

        return SMTPTransport.from_url(config.url, pool=config.pool, rate=config.rate,
                                      override_rate=rate)
    from .outbox import OutboxTransport

    return OutboxTransport(settings.outbox_dir, limits=Limits(rate=rate or 0.0))
