"""Sending through an SMTP server: a pool of persistent connections, TLS, AUTH, a rate limit.

This is the only module that imports :mod:`smtplib`.  Each connection serves one thread at a
time; a connection that failed is closed and replaced by a fresh one on the next send,
because after an error the server's idea of the session state is unknown.

Once the final dot of a message is written, the server may already have taken
responsibility for it: a missing answer (timeout, connection closed) raises a
``TransportError`` with ``uncertain=True``, never a plain temporary failure, so nobody
sends it again by accident.  That answer is awaited ``data_timeout`` seconds, 10 minutes by
default as RFC 5321 §4.5.3.2.6 recommends (relays scanning attachments take their time).
"""

from __future__ import annotations

import contextlib
import queue
import re
import smtplib
import socket
import ssl
import threading

from ..clock import Clock
from ..errors import TransportError
from ..wire import WireMessage
from .base import Limits, RateLimiter
from .url import SMTPURL, parse_smtp_url

__all__ = ["SMTPTransport"]

_BAD_ADDRESS = re.compile(r"[\s<>]")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _error(code: int, reply: bytes | str, stage: str) -> TransportError:
    text = _text(reply)
    match = _ENHANCED.match(text)
    return TransportError(f"{text} (at {stage})" if text else f"refused at {stage}",
                          code=code, permanent=500 <= code < 600,
                          enhanced=match.group(1) if match else None, stage=stage)


class SMTPTransport:
    """Sends over up to ``limits.pool`` persistent SMTP connections; thread-safe.

    Its :class:`Limits` come from the URL (``pool=``, ``rate=``), else from ``pool``/``rate``
    (the publication's configuration); ``override_rate`` replaces the rate (``send --rate``).
    """

    def __init__(self, url: SMTPURL, *, pool: int = 2, rate: float = 0.0,
                 clock: Clock | None = None, pipelining: bool | None = None,
                 override_rate: float | None = None):
        self.url = url
        self.pipelining = pipelining  # None: when the server offers it
        if override_rate is None:
            override_rate = url.rate if url.rate is not None else rate
        self.limits = Limits(pool=max(1, url.pool or pool), rate=float(override_rate or 0))
        self.limiter = RateLimiter(self.limits.rate, clock)
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.limits.pool)
        self._lock = threading.Lock()
        self._open: set[smtplib.SMTP] = set()

    @classmethod
    def from_url(cls, url: str, *, pool: int = 2, rate: float = 0.0,
                 clock: Clock | None = None, pipelining: bool | None = None,
                 override_rate: float | None = None) -> SMTPTransport:
        """A transport for ``smtp://user:pass@host:port?tls=…&pool=…&rate=…``."""
        return cls(parse_smtp_url(url), pool=pool, rate=rate, clock=clock,
                   pipelining=pipelining, override_rate=override_rate)

    @property
    def pool_size(self) -> int:
        """Connections (messages in flight) at most."""
        return self.limits.pool

    @property
    def rate(self) -> float:
        """Messages per second this transport allows (0: unlimited)."""
        return self.limits.rate

    def __repr__(self) -> str:
        return f"SMTPTransport({self.url!r}, pool={self.pool_size})"

    # ------------------------------------------------------------------ connections

    def _connect(self) -> smtplib.SMTP:
        u = self.url
        context = ssl.create_default_context()
        if not u.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            if u.tls == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(u.host, u.port, local_hostname=u.helo,
                                                      timeout=u.timeout, context=context)
            else:
                conn = smtplib.SMTP(u.host, u.port, local_hostname=u.helo, timeout=u.timeout)
            # Commands are small writes after a large one: never let Nagle hold them back.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if u.tls == "starttls":
                if not conn.has_extn("starttls"):
                    conn.close()
                    raise TransportError(f"{u.host}:{u.port} does not offer STARTTLS "
                                         "(use tls=none only on a trusted network)")
                conn.starttls(context=context)
                conn.ehlo()
            if u.username:
                self._login(conn)
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"authentication refused by {u.host}: {_text(exc.smtp_error)}",
                                 code=exc.smtp_code, permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise _error(exc.smtp_code, exc.smtp_error, "connect") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"cannot connect to {u.host}:{u.port}: {exc}") from exc
        with self._lock:
            self._open.add(conn)
        return conn

    def _login(self, conn: smtplib.SMTP) -> None:
        # One mechanism only: a wrong password is wrong for every mechanism, and relays
        # count failed attempts (smtplib's login() would try them all in turn).
        advertised = conn.esmtp_features.get("auth", "").upper().split()
        conn.user, conn.password = self.url.username or "", self.url.password or ""
        for mechanism, method in (("PLAIN", conn.auth_plain), ("LOGIN", conn.auth_login),
                                  ("CRAM-MD5", conn.auth_cram_md5)):
            if mechanism in advertised:
                conn.auth(mechanism, method, initial_response_ok=mechanism != "LOGIN")
                return
        raise TransportError(f"{self.url.host} offers no AUTH mechanism letterpress knows "
                             f"({' '.join(advertised) or 'none'})", permanent=True)

    def _discard(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            self._open.discard(conn)
        with contextlib.suppress(Exception):  # the connection is already broken
            conn.close()

    # ------------------------------------------------------------------ sending

    def send(self, mail_from: str, recipients: list[str], data: bytes) -> None:
        """Send one message; a 4xx/5xx or a dropped connection raises ``TransportError``."""
        self.limiter.acquire()
        with self._slots:
            try:
                conn = self._idle.get_nowait()
                reused = True
            except queue.Empty:
                conn = self._connect()
                reused = False
            try:
                self._transaction(conn, mail_from, recipients, data)
            except _StaleConnection:
                # The server closed an idle connection before we said anything that counts:
                # nothing was accepted, so one retry on a fresh connection is safe.
                self._discard(conn)
                if not reused:
                    raise TransportError("connection closed by the server before MAIL FROM") \
                        from None
                conn = self._connect()
                try:
                    self._transaction(conn, mail_from, recipients, data)
                except _StaleConnection:
                    self._discard(conn)
                    raise TransportError("connection closed by the server before MAIL FROM") \
                        from None
                except BaseException:
                    self._discard(conn)
                    raise
            except BaseException:
                self._discard(conn)
                raise
            self._idle.put(conn)

    def _transaction(self, conn: smtplib.SMTP, mail_from: str, recipients: list[str],
                     data: bytes) -> None:
        for address, stage in ((mail_from, "MAIL FROM"), *((r, "RCPT TO") for r in recipients)):
            if _BAD_ADDRESS.search(address):
                raise TransportError(f"refusing an address that would break the SMTP "
                                     f"command: {address!r}", permanent=True, stage=stage)
        commands = ([f"MAIL FROM:<{mail_from}>"] + [f"RCPT TO:<{r}>" for r in recipients]
                    + ["DATA"])
        pipelining = self.pipelining
        if pipelining is None:
            pipelining = conn.has_extn("pipelining")
        try:
            # Plain commands rather than mail()/rcpt(), which re-parse each address with the
            # email package; with PIPELINING (RFC 2920) the envelope and DATA go in one
            # write and their answers are read together: two round trips per message
            # instead of four.
            if pipelining:
                conn.send(("\r\n".join(commands) + "\r\n").encode("ascii"))
                code, reply = conn.getreply()
            else:
                code, reply = conn.docmd(commands[0])
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _StaleConnection() from exc
        if code == 421:
            raise _StaleConnection()
        try:
            if pipelining:
                rcpt_replies = [conn.getreply() for _ in recipients]
                data_code, data_reply = conn.getreply()
            elif code == 250:
                rcpt_replies = [conn.docmd(c) for c in commands[1:-1]]
                accepted = any(c in (250, 251) for c, _ in rcpt_replies)
                data_code, data_reply = conn.docmd("DATA") if accepted else (0, b"")
            else:
                rcpt_replies, data_code, data_reply = [], 0, b""
            refused = [r for r in rcpt_replies if r[0] not in (250, 251)]
            failure = None
            if code != 250:
                failure = _error(code, reply, "MAIL FROM")
            elif len(refused) == len(recipients):
                failure = _error(refused[0][0], refused[0][1], "RCPT TO")
            elif data_code != 354:
                failure = _error(data_code, data_reply, "DATA")
            if failure is not None:
                if data_code == 354:  # pipelined DATA went through anyway: end it empty
                    conn.send(b".\r\n")
                    conn.getreply()
                self._reset(conn)
                raise failure
            for chunk in _stuffed(data):
                conn.send(chunk)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            # The final dot was not written: the server cannot have accepted the message.
            raise TransportError(f"connection lost before the end of the message: {exc}") \
                from exc
        try:
            conn.sock.settimeout(self.url.data_timeout)
            code, reply = conn.getreply()
            conn.sock.settimeout(self.url.timeout)
        except (OSError, smtplib.SMTPServerDisconnected, AttributeError) as exc:
            # The whole message was handed over and no answer came: the server may have
            # accepted it (RFC 5321 §4.5.3.2.6, §6.1).  Never a "try again later".
            raise TransportError(
                f"no answer to the end of the message within {self.url.data_timeout:g} s "
                f"({exc}); it may have been accepted", uncertain=True, stage="DATA") from exc
        if code == -1:  # smtplib's "connection closed" while reading the answer
            raise TransportError("the server closed the connection after the end of the "
                                 "message without answering; it may have been accepted",
                                 uncertain=True, stage="DATA")
        if code != 250:
            raise _error(code, reply, "DATA")

    @staticmethod
    def _reset(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            conn.rset()

    def close(self) -> None:
        """QUIT and close every connection; the next send opens new ones."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.quit()
            self._discard(conn)


def _stuffed(data: bytes) -> tuple[bytes, ...]:
    """The DATA payload: dot-stuffed (RFC 5321 4.5.2), CRLF-terminated, then ``.`` CRLF.

    smtplib runs a regular expression over every message for this.  A
    :class:`~letterpress.wire.WireMessage` (an issue's message) has no line to stuff and is
    not scanned; other bytes get a ``find`` first.  The terminator is a separate write
    (TCP_NODELAY is on) rather than a copy of the message.
    """
    if isinstance(data, WireMessage):
        return (data, b".\r\n")
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        return (data, b"\r\n.\r\n")
    return (data, b".\r\n")


class _StaleConnection(Exception):
    """A pooled connection was found closed before the transaction started."""
