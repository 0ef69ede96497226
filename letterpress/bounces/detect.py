"""What a returned message says: a DSN, a complaint, an auto-reply, or nothing we understand.

In order of authority:

1. RFC 5965 ARF (``message/feedback-report``, Feedback-Type abuse/fraud) → a complaint.
2. RFC 3464 DSN (``message/delivery-status``): per recipient Action, Status, Diagnostic-Code.
3. RFC 3834 auto-replies (``Auto-Submitted: auto-replied``, ``X-Autoreply``, vacation and
   out-of-office subjects) and challenge-response mail → ignored, never a bounce.
4. The non-standard formats of real MTAs and providers (Exim, qmail, Exchange, Yahoo …):
   Mailman's ``flufl.bounce`` detectors, temporary → soft, permanent → hard.
5. Anything else is *unparsed*.

RFC 3463 status codes decide the kind (:func:`kind_of_status`)::

    5.1.x bad mailbox/address, 5.2.1 mailbox disabled, 5.4.x no such domain  → hard
    5.7.x policy: authentication, DMARC, blocklisting (aimed at the sender)     → policy
    5.2.2 over quota, 4.x.x any temporary failure, other 5.x.x                 → soft
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

# flufl.bounce logs a detector that trips over an odd message (no From:, binary junk) with
# its traceback.  Such a message is simply "unparsed" here; without a handler of its own, a
# command-line user would see that traceback through logging's last-resort handler.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())

__all__ = ["Failure", "Verdict", "detect", "is_auto_reply", "kind_of_status"]

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_UNKNOWN_USER = re.compile(r"user unknown|unknown user|no such user|does not exist|"
                           r"mailbox unavailable|invalid recipient|unknown recipient|"
                           r"no mailbox|recipient address rejected", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|answer)|autoreply|out of (?:the )?office|"
    r"absence|absent|vacation|away from|r[ée]ponse automatique|message d'absence|"
    r"je suis absent|cong[ée]s?\b|abwesenheit|automatische antwort)", re.IGNORECASE)
_CHALLENGE = ("x-boxtrapper", "x-challenge", "x-challengeresponse", "x-spamarrest",
              "x-mailwasher", "x-bluebottle-request")
_DAEMONS = re.compile(r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)",
                      re.IGNORECASE)
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                     "X-Rcpt-To", "To")


@dataclass(frozen=True)
class Failure:
    """One recipient's outcome in a DSN, a complaint or a webhook event."""

    recipient: str
    kind: str  # hard | soft | policy | complaint | ignored
    status: str = ""
    diagnostic: str = ""


@dataclass(frozen=True)
class Verdict:
    """What :func:`detect` understood of one message."""

    kind: str  # dsn | complaint | autoreply | success | unparsed
    detector: str = ""  # rfc3464 | rfc5965 | rfc3834 | flufl.bounce | ''
    failures: tuple[Failure, ...] = ()
    original_message_id: str = ""
    envelope_addresses: tuple[str, ...] = field(default=())  # where the message was sent to
    reason: str = ""


def kind_of_status(status: str, diagnostic: str = "") -> str:
    """hard, soft or policy for an RFC 3463 code (a generic x.0.0 looks in the diagnostic)."""
    match = _STATUS.search(status or "")
    if match and match.group(2) == "0" and match.group(3) == "0":
        refined = _STATUS.search(diagnostic or "")
        if refined and refined.group(1) == match.group(1):
            match = refined
    if match is None:
        match = _STATUS.search(diagnostic or "")
    if match is None:
        return "hard" if _UNKNOWN_USER.search(diagnostic or "") else "soft"
    klass, subject, detail = match.groups()
    if klass != "5":
        return "soft"
    if subject == "7":
        return "policy"
    if subject == "1" or subject == "4" or (subject == "2" and detail == "1"):
        return "hard"
    if subject == "0" and _UNKNOWN_USER.search(diagnostic or ""):
        return "hard"
    return "soft"


def _status_of(text: str) -> str:
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else ""


def _address(value: str) -> str:
    """``rfc822; user@example.org`` → ``user@example.org``."""
    value = (value or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    return parseaddr(value.strip())[1] or value.strip().strip("<>")


def _clean(value) -> str:
    return " ".join(str(value or "").split())


def _original_headers(msg: Message) -> Message | None:
    """The returned message's headers (message/rfc822 or text/rfc822-headers part)."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        elif ctype == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            return HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return None


def _envelope_addresses(msg: Message, original: Message | None) -> tuple[str, ...]:
    found: list[str] = []
    for name in _ENVELOPE_HEADERS:
        for _, addr in getaddresses([str(v) for v in msg.get_all(name, [])]):
            if addr:
                found.append(addr)
    if original is not None:
        found += [parseaddr(str(v))[1] for v in original.get_all("Return-Path", [])]
    return tuple(dict.fromkeys(a for a in found if a))


_QUOTED_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)


def _message_id(original: Message | None, msg: Message) -> str:
    if original is not None and original.get("Message-ID"):
        return _clean(original["Message-ID"])
    for name in ("In-Reply-To", "References"):
        value = _clean(msg.get(name))
        if value:
            return value.split()[0]
    # Non-MIME bounces (Exim, qmail) quote the original's headers in the text.
    quoted = _QUOTED_MESSAGE_ID.search(_body_text(msg, 65_536))
    return quoted.group(1) if quoted else ""


def _subject(msg: Message) -> str:
    try:
        return _clean(str(make_header(decode_header(str(msg.get("Subject", ""))))))
    except (LookupError, UnicodeError, ValueError):
        return _clean(msg.get("Subject"))


def is_auto_reply(msg: Message) -> bool:
    """RFC 3834 auto-replies, vacation/out-of-office messages and challenge-response mail."""
    auto = _clean(msg.get("Auto-Submitted")).lower()
    if auto.startswith("auto-replied"):
        return True
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder",
                                "X-MS-Exchange-Inbox-Rules-Loop")):
        return True
    if _clean(msg.get("Precedence")).lower() == "auto_reply":
        return True
    if any(msg.get(h) for h in _CHALLENGE):
        return True
    subject = _subject(msg)
    return bool(_AUTO_SUBJECT.match(subject)) or auto.startswith("auto-generated") and bool(
        re.search(r"confirm|verify|challenge", subject, re.IGNORECASE))


def _feedback(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                # The fields may come as one block or split in several by a blank line.
                merged = Message()
                for block in payload:
                    for key, value in block.items():
                        merged[key] = value
                return merged
            text = part.get_payload(decode=True) or b""
            return HeaderParser().parsestr(text.decode("utf-8", "replace").strip())
    return None


def _delivery_status(msg: Message) -> list[Message] | None:
    for part in msg.walk():
        if part.get_content_type() in ("message/delivery-status",
                                       "message/global-delivery-status"):
            payload = part.get_payload()
            if isinstance(payload, list):
                return payload
            text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
            return [HeaderParser().parsestr(block)
                    for block in re.split(r"\r?\n\s*\r?\n", text.strip()) if block.strip()]
    return None


def detect(msg: Message) -> Verdict:
    """Classify one returned message (parsed with the ``compat32`` policy)."""
    original = _original_headers(msg)
    envelope = _envelope_addresses(msg, original)
    message_id = _message_id(original, msg)
    common = {"original_message_id": message_id, "envelope_addresses": envelope}

    report = _feedback(msg)
    if report is not None:
        feedback_type = _clean(report.get("Feedback-Type")).lower()
        if feedback_type in ("abuse", "fraud", "virus", "other", ""):
            recipient = _address(_clean(report.get("Original-Rcpt-To")))
            if not recipient and original is not None:
                recipient = parseaddr(str(original.get("To", "")))[1]
            reporter = _clean(report.get("Reported-Domain") or report.get("User-Agent"))
            return Verdict("complaint", "rfc5965", (Failure(
                recipient, "complaint", "", f"ARF {feedback_type or 'abuse'} report "
                f"{reporter}".strip()),), reason="spam complaint (ARF)", **common)
        return Verdict("autoreply", "rfc5965", reason=f"ARF {feedback_type} report, not a "
                       "complaint", **common)

    blocks = _delivery_status(msg)
    if blocks:
        failures = []
        delivered = 0
        for block in blocks[1:] or blocks:
            recipient = _address(_clean(block.get("Final-Recipient")
                                        or block.get("Original-Recipient")))
            if not recipient:
                continue
            action = _clean(block.get("Action")).lower()
            diagnostic = _clean(block.get("Diagnostic-Code"))
            if ";" in diagnostic[:20]:
                diagnostic = diagnostic.split(";", 1)[1].strip()
            status = _status_of(_clean(block.get("Status"))) or _status_of(diagnostic)
            if action in ("delivered", "relayed", "expanded"):
                delivered += 1
                continue
            kind = "soft" if action == "delayed" else kind_of_status(status, diagnostic)
            failures.append(Failure(recipient, kind, status, diagnostic[:2000]))
        if failures:
            return Verdict("dsn", "rfc3464", tuple(failures), reason="RFC 3464 DSN", **common)
        if delivered:
            return Verdict("success", "rfc3464", reason="delivery success notification",
                           **common)

    daemon = _DAEMONS.search(str(msg.get("From", ""))) or not parseaddr(
        str(msg.get("Return-Path", "x")))[1]
    if not daemon and is_auto_reply(msg):
        return Verdict("autoreply", "rfc3834", reason="automatic reply (RFC 3834)", **common)

    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 - a detector tripping over junk: nothing recognised
        temporary, permanent = set(), set()
    if temporary or permanent:
        text = _body_text(msg)
        status = _status_of(text)
        failures = []
        for raw in sorted(permanent):
            addr = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            kind = kind_of_status(status, text) if status else "hard"
            failures.append(Failure(addr, kind, status, _diagnostic(text, addr)))
        for raw in sorted(temporary - permanent):
            addr = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            failures.append(Failure(addr, "soft", status if status.startswith("4") else "",
                                    _diagnostic(text, addr)))
        return Verdict("dsn", "flufl.bounce", tuple(failures),
                       reason="non-standard bounce recognised by flufl.bounce", **common)

    if is_auto_reply(msg):
        return Verdict("autoreply", "rfc3834", reason="automatic reply (RFC 3834)", **common)
    return Verdict("unparsed", "", reason="neither a DSN, a complaint nor an auto-reply",
                   **common)


def _body_text(msg: Message, limit: int = 16_384) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            data = part.get_payload(decode=True) or b""
            return data[:limit].decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def _diagnostic(text: str, address: str) -> str:
    """The line of the bounce text that mentions the address, else its first lines."""
    for line in text.splitlines():
        if address and address.lower() in line.lower() and len(line.strip()) > len(address) + 2:
            return _clean(line)[:500]
    return _clean(text)[:500]
