"""Mail transports: SMTP (pooled, TLS, AUTH, rate limit: its :class:`Limits`), an outbox directory, in-memory.

    transport = transport_for(settings, publication)
    transport.send("bounces@example.org", ["reader@example.org"], message_bytes)
"""

from .base import Limits, RateLimiter, Transport, limits_of, transport_for
from .memory import MemoryTransport, SentMessage
from .outbox import OutboxTransport
from .smtp import SMTPTransport
from .url import SMTPURL, parse_smtp_url

__all__ = [
    "SMTPURL",
    "Limits",
    "MemoryTransport",
    "OutboxTransport",
    "RateLimiter",
    "SMTPTransport",
    "SentMessage",
    "Transport",
    "limits_of",
    "parse_smtp_url",
    "transport_for",
]
