"""A real SMTP server on loopback for tests (aiosmtpd), with programmable failures."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: object = None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.SMTP)  # type: ignore[return-value]


@dataclass
class Behaviour:
    """What the server answers.  Keys are lower-cased recipient addresses."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)  # addr -> "550 5.1.1 ..."
    rcpt_replies_once: dict[str, list[str]] = field(default_factory=dict)  # consumed in order
    data_replies: list[str] = field(default_factory=list)  # consumed in order, then "250"
    refuse_all: str | None = None  # e.g. "554 5.7.1 Service unavailable"
    drop_after: int | None = None  # close the connection after accepting N messages in total
    credentials: tuple[str, str] | None = None  # require AUTH with these
    data_delay: float = 0.0  # seconds before answering the final dot (a relay scanning mail)
    data_delay_for: set[str] = field(default_factory=set)  # only for these (empty: everyone)
    close_after_dot_every: int | None = None  # accept every Nth message, then close, no reply


class _Handler:
    def __init__(self, server: SMTPTestServer):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        b = self.server.behaviour
        key = address.lower()
        if b.refuse_all:
            return b.refuse_all
        once = b.rcpt_replies_once.get(key)
        if once:
            return once.pop(0)
        if key in b.rcpt_replies:
            return b.rcpt_replies[key]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        b = self.server.behaviour
        if b.data_delay and (not b.data_delay_for or b.data_delay_for
                             & {a.lower() for a in envelope.rcpt_tos}):
            await asyncio.sleep(b.data_delay)
        if b.data_replies:
            reply = b.data_replies.pop(0)
            if not reply.startswith("250"):
                return reply
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                         or envelope.content, session.peer)
            )
            count = len(self.server.received)
        if b.close_after_dot_every and count % b.close_after_dot_every == 0:
            smtp.transport.close()  # accepted, and the answer never leaves
        if b.drop_after is not None and count >= b.drop_after:
            b.drop_after = None
            # Accepted, then the connection dies before the client hears more.
            smtp.transport.close()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def __init__(self, server: SMTPTestServer, **kwargs):
        self._server = server
        super().__init__(**kwargs)

    def factory(self):
        b = self._server.behaviour

        def authenticator(_server, _session, _envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword) or b.credentials is None:
                return AuthResult(success=False, handled=False)
            ok = (auth_data.login.decode(), auth_data.password.decode()) == b.credentials
            return AuthResult(success=ok, handled=False)

        kwargs = dict(self.SMTP_kwargs)
        kwargs.setdefault("enable_SMTPUTF8", True)
        return SMTP(self.handler, auth_require_tls=False, authenticator=authenticator,
                    auth_required=b.credentials is not None, **kwargs)


class SMTPTestServer:
    """Start/stop wrapper; ``received`` holds every accepted message."""

    def __init__(self, behaviour: Behaviour | None = None, **controller_kwargs):
        self.behaviour = behaviour or Behaviour()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = _Controller(self, handler=_Handler(self), hostname=self.host,
                                       port=self.port, **controller_kwargs)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?tls=none"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def messages_to(self, address: str) -> list[Received]:
        address = address.lower()
        return [r for r in self.received if address in (a.lower() for a in r.rcpt_tos)]
