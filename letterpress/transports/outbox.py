"""A transport that writes each message as an ``.eml`` file: the default without a server.

A newcomer can open what "was sent" in any mail client; nothing leaves the machine.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import threading
import time
from pathlib import Path

from ..errors import TransportError
from .base import Limits, RateLimiter

__all__ = ["OutboxTransport"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


class OutboxTransport:
    """Writes ``<outbox>/<time>-<n>-<recipient>.eml``; each file appears whole or not at all."""

    def __init__(self, directory: str | Path, *, limits: Limits | None = None):
        self.directory = Path(directory)
        self.limits = limits or Limits()
        self._limiter = RateLimiter(self.limits.rate)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._stamp = time.strftime("%Y%m%d-%H%M%S")

    def send(self, mail_from: str, recipients: list[str], data: bytes) -> None:
        """Write the message with an envelope header (``X-Envelope-*``) for the reader."""
        self._limiter.acquire()
        with self._lock:
            n = next(self._counter)
        first = _UNSAFE.sub("_", recipients[0] if recipients else "nobody")[:80]
        envelope = (f"X-Envelope-From: <{mail_from}>\r\n"
                    f"X-Envelope-To: {', '.join('<' + r + '>' for r in recipients)}\r\n")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{self._stamp}-{os.getpid()}-{n}-{secrets.token_hex(8)}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(envelope.encode("ascii", "replace"))
                fh.write(data)
            try:
                # Two transports (a send run and a notification, two processes) may write in
                # the same second: a random part keeps names apart, and link() refuses to
                # overwrite, so no message is ever silently replaced by another.
                while True:
                    name = f"{self._stamp}-{os.getpid()}-{n:06d}-{secrets.token_hex(3)}-{first}.eml"
                    try:
                        os.link(tmp, self.directory / name)  # appears whole or not at all
                        break
                    except FileExistsError:
                        continue
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise TransportError(f"cannot write to outbox {self.directory}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"OutboxTransport({str(self.directory)!r})"
