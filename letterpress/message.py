"""Messages: one rendered issue → a byte template → each recipient's MIME message.

Everything that is the same for every recipient (headers, the quoted-printable bodies, their
DKIM canonical form and hash prefix) is encoded once per issue by
:meth:`MessageTemplate.from_rendered`.  :meth:`MessageTemplate.for_recipient` then only
encodes the few values that differ (To, Message-ID, Date, unsubscribe and preferences URLs,
the reader's name) and joins bytes: microseconds instead of the milliseconds a full
``EmailMessage`` costs.  The bodies are cut at every placeholder and each constant piece is
quoted-printable encoded on its own, joined to the recipient's values by soft line breaks
(``=`` CRLF), which decoders remove: the decoded parts are exactly
``RenderedIssue.personalise(...)``.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from typing import TYPE_CHECKING

from markupsafe import escape

from . import headers
from .dkim import DkimSigner, SignatureRequest, relaxed_body_piece, relaxed_header
from .errors import LetterpressError
from .render.placeholders import PREFERENCES_URL, RECIPIENT_NAME, UNSUBSCRIBE_URL
from .wire import WireMessage

if TYPE_CHECKING:
    from datetime import datetime

    from .render import RenderedIssue
    from .settings import Publication, Settings

__all__ = [
    "MessageBatch",
    "MessageError",
    "MessageTemplate",
    "Reader",
    "address_header",
    "build_simple_message",
    "encode_address",
    "encode_header_value",
    "new_message_id",
    "sample_message",
]

TEST_PREFIX = "[TEST] "
SAMPLE_RECIPIENT = ("Lectrice Exemple", "lectrice@example.org")

_PLACEHOLDER = re.compile("(" + "|".join(re.escape(p) for p in
                                         (UNSUBSCRIBE_URL, PREFERENCES_URL, RECIPIENT_NAME)) + ")")
_HEADER_LINE = re.compile(rb"\r\n(?![ \t])")  # ends of header fields, not folds
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ADDR = re.compile(r"^[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+$")
_QP_TOKEN = re.compile(rb"=[0-9A-F]{2}|.", re.S)
_QP_LITERAL = re.compile(rb"[!-<>-~]*")  # printable ASCII but "=": quoted-printable as is
_URL_SAFE = re.compile(r"^[\x21-\x7e]+$")


class MessageError(LetterpressError):
    """A message cannot be built: an address or value would break the headers."""

    def __init__(self, message: str, *, value: str = ""):
        self.message = message
        self.value = value
        super().__init__(f"{message}: {value!r}" if value else message)


# --------------------------------------------------------------------------- header helpers

def encode_header_value(name: str, value: str) -> bytes:
    """``Name: value`` with RFC 2047 encoding when needed, folded, CRLF-terminated.

    Within RFC 2047's limits for any ``value`` (see :mod:`letterpress.headers`).
    """
    return headers.unstructured(name, value)


def _check_address(address: str) -> str:
    if not _ADDR.match(address) or not address.isascii() or len(address) > 254:
        raise MessageError("not a deliverable ASCII address", value=address)
    return address


def address_header(name: str, display: str, address: str) -> bytes:
    """The header line ``Name: Display <address>``, display name encoded, CRLF-terminated;
    refuses unsafe addresses (:class:`MessageError`)."""
    return headers.name_addr(name, display, _check_address(address))


def encode_address(display: str, address: str) -> str:
    """``Display <address>`` as the value of a ``To`` header (folded); refuses unsafe
    addresses."""
    return address_header("To", display, address)[3:-2].decode("ascii").lstrip(" ")


def new_message_id(domain: str) -> str:
    """A globally unique ``<…@domain>`` Message-ID."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def _check_url(url: str) -> str:
    if not _URL_SAFE.match(url) or ">" in url:
        raise MessageError("URL contains spaces, controls or non-ASCII characters", value=url)
    return url


def _qp(text: str) -> bytes:
    """Quoted-printable of a CRLF text that starts a line: CRLF soft breaks, no line
    starting with a dot."""
    raw = text.encode("utf-8")
    if _QP_LITERAL.fullmatch(raw):
        folded = _fold_literal(raw)
        if folded is not None:
            return folded
    # A trailing CRLF makes b2a_qp fold with CRLF soft breaks (it copies the input's style).
    encoded = binascii.b2a_qp(raw + b"\r\n", istext=True)[:-2]
    if encoded.startswith(b".") or b"\n." in encoded:
        encoded = _no_leading_dots(encoded)
    return encoded


def _fold_literal(raw: bytes) -> bytes | None:
    """Quoted-printable of text that needs no escape (a link, mostly): only soft breaks,
    placed so that no line starts with a dot; None when that cannot be done this way.

    Every link carries a token whose first dot falls, for the usual link length, exactly
    where a line of 75 characters would end: cutting one character earlier is all it takes,
    where re-folding the general way costs most of a message's assembly time.
    """
    if raw.startswith(b"."):
        return None
    lines = []
    start = 0
    while len(raw) - start > 76:  # RFC 2045: 76 characters a line, the "=" included
        cut = start + 75
        while raw[cut] == 46 and cut > start + 1:  # 46: "."
            cut -= 1
        if raw[cut] == 46:
            return None
        lines.append(raw[start:cut])
        start = cut
    lines.append(raw[start:])
    return b"=\r\n".join(lines)


def _no_leading_dots(encoded: bytes) -> bytes:
    """Re-fold quoted-printable so no line starts with ``.`` (written ``=2E`` there).

    A leading dot must be doubled on the wire (SMTP dot-stuffing), which means scanning
    every message; a body that never has one lets the transport skip that scan.
    """
    out = []
    logical: list[bytes] = []
    for line in encoded.split(b"\r\n"):
        if line.endswith(b"="):  # soft break: the logical line goes on
            logical.append(line[:-1])
            continue
        logical.append(line)
        out.append(_refold(b"".join(logical)))
        logical = []
    if logical:
        out.append(_refold(b"".join(logical)))
    return b"\r\n".join(out)


def _refold(content: bytes) -> bytes:
    lines = []
    current: list[bytes] = []
    size = 0
    for token in _QP_TOKEN.findall(content):
        if size + len(token) > 75:
            lines.append(b"".join(current))
            current, size = [], 0
        if size == 0 and token == b".":
            token = b"=2E"
        current.append(token)
        size += len(token)
    lines.append(b"".join(current))
    return b"=\r\n".join(lines)


# --------------------------------------------------------------------------- body template

@dataclass(frozen=True)
class _Body:
    """The MIME body cut at placeholders: constant pieces and the slot between each pair."""

    pieces: tuple[bytes, ...]  # wire form; len(slots) + 1 pieces
    canonical: tuple[bytes, ...]  # relaxed canonical form of each piece (DKIM)
    slots: tuple[tuple[str, str], ...]  # (placeholder, "text" | "html")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _build_body(boundary: str, text: str, html: str) -> _Body:
    pieces: list[bytes] = []
    slots: list[tuple[str, str]] = []
    current = [b"This is a multi-part message in MIME format.\r\n"]
    for kind, content in (("text", text), ("html", html)):
        current.append(
            f"\r\n--{boundary}\r\nContent-Type: text/{'plain' if kind == 'text' else 'html'}; "
            f'charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            .encode("ascii"))
        parts = _PLACEHOLDER.split(_crlf(content))
        for i, part in enumerate(parts):
            if i % 2 == 0:
                if part:
                    current.append(_qp(part))
            else:
                # Soft breaks around the slot keep every line under 76 octets whatever
                # the value, and make each piece start and end on a line boundary.
                current.append(b"=\r\n")
                pieces.append(b"".join(current))
                slots.append((part, kind))
                current = [b"=\r\n"]
    current.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    pieces.append(b"".join(current))
    canonical = [relaxed_body_piece(p) for p in pieces]
    # The end-of-body rule of relaxed canonicalisation: no trailing empty lines.
    canonical[-1] = canonical[-1].rstrip(b"\r\n") + b"\r\n"
    return _Body(tuple(pieces), tuple(canonical), tuple(slots))


# --------------------------------------------------------------------------- the template

class _DateCache:
    """RFC 5322 dates, formatted once per second (formatting costs more than sending)."""

    def __init__(self, now: Callable[[], datetime] | None):
        self._now = now
        self._second = -1
        self._value = ""
        self._lock = threading.Lock()

    def __call__(self) -> str:
        if self._now is not None:
            return format_datetime(self._now())
        second = int(time.time())
        with self._lock:
            if second != self._second:
                self._value = formatdate(second, usegmt=True)
                self._second = second
            return self._value


class MessageTemplate:
    """An issue encoded once; :meth:`for_recipient` yields each reader's message bytes."""

    def __init__(self, *, publication: Publication, mail_from: str, subject: str,
                 head_before_to: bytes, head_after: list[tuple[str, bytes]],
                 body: _Body, mailto: str, signer: DkimSigner | None,
                 now: Callable[[], datetime] | None = None):
        self.publication = publication
        self.mail_from = mail_from
        self.subject = subject
        self.signer = signer
        self._head_before_to = head_before_to
        self._head_after = head_after
        self._head_after_bytes = b"".join(line for _, line in head_after)
        self._body = body
        self._mailto = mailto
        self._date = _DateCache(now)
        self._domain = publication.sender_domain
        signed = [(n, relaxed_header(n, line.partition(b":")[2]))
                  for line in _HEADER_LINE.split(head_before_to) if line
                  for n in [line.partition(b":")[0].decode("ascii")]]
        signed += [(n, relaxed_header(n, line.partition(b":")[2])) for n, line in head_after]
        self._constant_signed = [(n, c) for n, c in signed if signer and signer.signs(n)]
        # The hash of the body up to the first slot is the same for everyone: keep its state.
        self._body_hash_prefix = hashlib.sha256(body.canonical[0])

    @classmethod
    def from_rendered(cls, rendered: RenderedIssue, settings: Settings, *, test: bool = False,
                      sign: bool = True, now: Callable[[], datetime] | None = None
                      ) -> MessageTemplate:
        """Encode ``rendered`` once for its publication (DKIM-signed when it has a key).

        ``test`` prefixes the subject with ``[TEST] ``; ``now`` overrides the Date clock.
        """
        pub = rendered.publication
        subject = headers.clean((TEST_PREFIX if test else "") + rendered.subject)
        boundary = "=_lp_" + secrets.token_hex(12)  # "=_" never occurs in quoted-printable
        body = _build_body(boundary, rendered.text, rendered.html)
        _check_address(pub.sender_email)
        before = [address_header("From", pub.sender_name, pub.sender_email)]
        if pub.reply_to:
            before.append(address_header("Reply-To", "", pub.reply_to))
        after: list[tuple[str, bytes]] = [
            ("Subject", encode_header_value("Subject", subject)),
            ("MIME-Version", b"MIME-Version: 1.0\r\n"),
            ("Content-Type", f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
             .encode("ascii")),
            ("List-Id", _list_id(pub)),
            ("List-Unsubscribe-Post", b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            ("List-Archive", f"List-Archive: <{_check_url(settings.base_url)}/{pub.slug}/>\r\n"
             .encode("ascii")),
            ("Auto-Submitted", b"Auto-Submitted: auto-generated\r\n"),
            ("Precedence", b"Precedence: bulk\r\n"),
        ]
        if pub.feedback_id_sender:
            number = getattr(rendered.issue, "number", "0")
            feedback = headers.clean(f"{pub.slug}-{number}:{pub.slug}:newsletter:{pub.feedback_id_sender}")
            after.append(("Feedback-ID", f"Feedback-ID: {feedback}\r\n".encode("ascii", "replace")))
        signer = None
        if sign and pub.dkim is not None:
            signer = DkimSigner.from_config(pub.dkim)
        mailto = ""
        if pub.unsubscribe_mailto:
            mailto = _check_address(pub.unsubscribe_mailto)
        head_before = b"".join(before)
        return cls(publication=pub, mail_from=pub.sender_email, subject=subject,
                   head_before_to=head_before, head_after=after, body=body, mailto=mailto,
                   signer=signer, now=now)

    def list_unsubscribe(self, unsubscribe_url: str) -> str:
        """The List-Unsubscribe value: the one-click URL, then the mailto with the token."""
        value = f"<{unsubscribe_url}>"
        if self._mailto:
            token = unsubscribe_url.rstrip("/").rpartition("/")[2]
            value += f",\r\n <mailto:{self._mailto}?subject=unsubscribe-{token}>"
        return value

    def for_recipient(self, email: str, name: str | None, unsubscribe_url: str,
                      preferences_url: str, *, message_id: str | None = None
                      ) -> tuple[str, WireMessage]:
        """``(message_id, bytes)`` of one reader's message; pass ``message_id`` to resend.

        The bytes are a :class:`~letterpress.wire.WireMessage`: no dot-stuffing needed.
        Raises :class:`MessageError` for an address, name, URL or Message-ID that cannot be
        written safely.
        """
        [result] = self.for_recipients([Reader(email, name, unsubscribe_url, preferences_url,
                                               message_id)])
        if isinstance(result, MessageError):
            raise result
        return result

    def for_recipients(self, readers: Sequence[Reader]
                       ) -> list[tuple[str, WireMessage] | MessageError]:
        """:meth:`for_recipient` of several readers, in order; a reader whose message cannot
        be built gets its :class:`MessageError` in its place.  With DKIM, the signatures are
        made together: one round trip to the signing helper during a send run."""
        return self.begin(readers).result()

    def begin(self, readers: Sequence[Reader]) -> MessageBatch:
        """Start :meth:`for_recipients`: the messages are built and, during a send run, the
        helper process signs them while the caller goes on; ``result()`` gives them."""
        built: list[_Unsigned | MessageError] = []
        for reader in readers:
            try:
                built.append(self._unsigned(reader))
            except MessageError as exc:
                built.append(exc)
        signing = None
        if self.signer is not None:
            signing = self.signer.request(
                [(b.fields, b.body_hash) for b in built if not isinstance(b, MessageError)],
                int(time.time()))
        return MessageBatch(built, signing)

    def _unsigned(self, reader: Reader) -> _Unsigned:
        to_line = address_header("To", reader.name or "", reader.email)
        unsubscribe_url, preferences_url = reader.unsubscribe_url, reader.preferences_url
        _check_url(unsubscribe_url)
        _check_url(preferences_url)
        message_id = reader.message_id or new_message_id(self._domain)
        if not message_id.startswith("<") or _CONTROL.search(message_id):
            raise MessageError("invalid Message-ID", value=message_id)
        clean_name = headers.clean(reader.name or "")
        values = {
            (UNSUBSCRIBE_URL, "text"): unsubscribe_url,
            (UNSUBSCRIBE_URL, "html"): str(escape(unsubscribe_url)),
            (PREFERENCES_URL, "text"): preferences_url,
            (PREFERENCES_URL, "html"): str(escape(preferences_url)),
            (RECIPIENT_NAME, "text"): clean_name,
            (RECIPIENT_NAME, "html"): str(escape(clean_name)),
        }
        encoded: dict[tuple[str, str], bytes] = {}
        body = self._body
        wire = [body.pieces[0]]
        hasher = self._body_hash_prefix.copy() if self.signer else None
        for i, slot in enumerate(body.slots, start=1):
            value = encoded.get(slot)
            if value is None:
                value = encoded[slot] = _qp(values[slot])
            wire.append(value)
            wire.append(body.pieces[i])
            if hasher is not None:
                hasher.update(relaxed_body_piece(value))
                hasher.update(body.canonical[i])
        date = self._date()
        date_line = b"Date: " + date.encode("ascii") + b"\r\n"
        mid_line = b"Message-ID: " + message_id.encode("ascii") + b"\r\n"
        lu_line = (b"List-Unsubscribe: " + self.list_unsubscribe(unsubscribe_url).encode("ascii")
                   + b"\r\n")
        parts = [self._head_before_to, to_line, date_line, mid_line, lu_line,
                 self._head_after_bytes, b"\r\n", *wire]
        if hasher is None:
            return _Unsigned(message_id, parts, [], b"")
        fields = [("To", relaxed_header("To", to_line[3:])),
                  ("Date", relaxed_header("Date", date_line[5:])),
                  ("Message-ID", relaxed_header("Message-ID", mid_line[11:])),
                  ("List-Unsubscribe", relaxed_header("List-Unsubscribe", lu_line[17:])),
                  *self._constant_signed]
        return _Unsigned(message_id, parts, fields, hasher.digest())


class MessageBatch:
    """Messages built by :meth:`MessageTemplate.begin`, their signatures perhaps under way."""

    def __init__(self, built: list[_Unsigned | MessageError],
                 signing: SignatureRequest | None):
        self._built = built
        self._signing = signing

    def result(self) -> list[tuple[str, WireMessage] | MessageError]:
        """``(message_id, bytes)`` or the :class:`MessageError` of each reader, in order."""
        signatures = iter(self._signing.result() if self._signing is not None else ())
        out: list[tuple[str, WireMessage] | MessageError] = []
        for b in self._built:
            if isinstance(b, MessageError):
                out.append(b)
                continue
            parts = b.parts
            if self._signing is not None:
                parts = [next(signatures), *parts]
            # By construction no line starts with a dot (see _build_body and _qp): say so.
            out.append((b.message_id, WireMessage(b"".join(parts))))
        return out


@dataclass(frozen=True)
class Reader:
    """Who one message is for: the envelope address, display name and personal links;
    ``message_id`` to send again under the Message-ID of an earlier attempt."""

    email: str
    name: str | None
    unsubscribe_url: str
    preferences_url: str
    message_id: str | None = None


@dataclass(frozen=True)
class _Unsigned:
    message_id: str
    parts: list[bytes]
    fields: list[tuple[str, bytes]]  # what DKIM signs (empty without a signer)
    body_hash: bytes


def _list_id(pub: Publication) -> bytes:
    if not _URL_SAFE.match(pub.list_id) or ">" in pub.list_id:
        raise MessageError("List-Id contains spaces, controls or non-ASCII characters",
                           value=pub.list_id)
    return headers.name_addr("List-Id", pub.name, pub.list_id, bare=False)


# --------------------------------------------------------------------------- other messages

def sample_message(rendered: RenderedIssue, settings: Settings) -> bytes:
    """The ``.eml`` written by ``letterpress build``: a sample reader, example links, unsigned."""
    template = MessageTemplate.from_rendered(rendered, settings, sign=False)
    base = settings.base_url
    name, email = SAMPLE_RECIPIENT
    _, data = template.for_recipient(email, name, f"{base}/u/exemple", f"{base}/p/exemple")
    return data


def build_simple_message(publication: Publication, settings: Settings, to: str, subject: str,
                         text: str, html: str | None = None, *, to_name: str = "",
                         now: datetime | None = None) -> bytes:
    """A one-off message (confirmation, notification) with the publication's sender.

    DKIM-signed when the publication has a key; ``Auto-Submitted`` so auto-responders stay
    quiet.  CR/LF in any value never reach the headers.
    """
    # Headers are encoded here, as for the issue itself: the email package's own folding
    # (policy.SMTP) splits long non-ASCII subjects into broken encoded words.  The email
    # package only builds the MIME body.
    lines = [address_header("From", publication.sender_name, publication.sender_email)]
    if publication.reply_to:
        lines.append(address_header("Reply-To", "", publication.reply_to))
    lines += [
        address_header("To", to_name, to),
        encode_header_value("Subject", subject),
        f"Date: {format_datetime(now) if now is not None else formatdate(usegmt=True)}\r\n".encode(),
        f"Message-ID: {new_message_id(publication.sender_domain)}\r\n".encode(),
        b"Auto-Submitted: auto-generated\r\n",
    ]
    body = EmailMessage()
    body.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        body.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    from email import policy

    data = b"".join(lines) + body.as_bytes(policy=policy.SMTP)
    if publication.dkim is not None:
        data = DkimSigner.from_config(publication.dkim).sign_message(data, int(time.time()))
    return data
