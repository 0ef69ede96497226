"""Mail transports: SMTP (pooled, TLS, AUTH, rate limit), an outbox directory, in-memory.

    transport = transport_for(settings, publication)
    transport.send("bounces@example.org", ["reader@example.org"], message_bytes)
"""

from .base import RateLimiter, Transport, transport_for
from .memory import MemoryTransport, SentMessage
from .outbox import OutboxTransport
from .smtp import SMTPTransport
from .url import SMTPURL, parse_smtp_url

__all__ = [
    "SMTPURL",
    "MemoryTransport",
    "OutboxTransport",
    "RateLimiter",
    "SMTPTransport",
    "SentMessage",
    "Transport",
    "parse_smtp_url",
    "transport_for",
]
