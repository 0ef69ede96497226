"""The ``mailto:`` half of List-Unsubscribe: ingest the mails readers send to unsubscribe.

Every issue's ``List-Unsubscribe`` header offers ``mailto:ADDRESS?subject=unsubscribe-TOKEN``.
Mail clients that use it send a message whose subject (or, when a client drops the subject,
body) holds that token.  :func:`ingest` reads such messages — one RFC 5322 message, an mbox
file or a Maildir — verifies each token and unsubscribes with channel ``mailto``.

    letterpress unsubscribe-mail < message.eml            # e.g. from a Postfix pipe alias
    letterpress unsubscribe-mail ~/Maildir/.unsubscribe   # or a mailbox fetchmail fills

The token is the proof, as for the one-click URL; the sender's address is not required to
match (people write from an alias), only reported.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import BinaryIO, Literal

from sqlalchemy import select

from .audience import unsubscribe
from .audience.links import check_link
from .audience.models import Subscriber, Subscription
from .audience.tokens import TokenSigner
from .errors import AudienceError, TokenError
from .project import Project

__all__ = ["MailtoResult", "find_tokens", "ingest", "iter_messages", "process_message"]

# itsdangerous URL-safe timed token: payload.timestamp.signature
TOKEN = re.compile(r"unsubscribe-([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
MAX_BODY_SCAN = 64 * 1024  # the token is near the top; do not scan huge attachments

Outcome = Literal["unsubscribed", "already", "invalid", "no-token"]


@dataclass(frozen=True)
class MailtoResult:
    """What one ingested message did."""

    outcome: Outcome
    message_id: str = ""
    subscription_id: int | None = None
    sender_matches: bool | None = None

    def __str__(self) -> str:
        where = self.message_id or "(no Message-ID)"
        match = {True: "", False: " (sent from another address)", None: ""}[self.sender_matches]
        return f"{where}: {self.outcome}{match}"


def find_tokens(message: EmailMessage) -> list[str]:
    """Candidate tokens: from the subject first, then from the text parts of the body."""
    found = TOKEN.findall(str(message.get("Subject", "")))
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        try:
            content = part.get_content()
        except (LookupError, UnicodeError, AssertionError):
            continue
        found += TOKEN.findall(str(content)[:MAX_BODY_SCAN])
    return list(dict.fromkeys(found))


def process_message(session, signer: TokenSigner, message: EmailMessage, *,
                    clock) -> MailtoResult:
    """Unsubscribe the subscription named by the first valid token of ``message``."""
    message_id = str(message.get("Message-ID", "")).strip()
    tokens = find_tokens(message)
    if not tokens:
        return MailtoResult("no-token", message_id)
    sender = parseaddr(str(message.get("From", "")))[1].casefold()
    for token in tokens:
        try:
            data = check_link(session, signer, "unsubscribe", token)
        except TokenError:  # forged, or issued to someone no longer here
            continue
        row = session.execute(
            select(Subscription.id, Subscriber.email)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscription.subscriber_id == data.subscriber_id,
                   Subscription.list_id == data.list_id)).first()
        if row is None:  # erased since: nothing left to unsubscribe
            continue
        subscription_id, email = row
        try:
            changed = unsubscribe(session, subscription_id, channel="mailto", clock=clock)
        except AudienceError:
            changed = False
        return MailtoResult("unsubscribed" if changed else "already", message_id,
                            subscription_id, sender == email.casefold() if sender else None)
    return MailtoResult("invalid", message_id)


def _parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def iter_messages(source: str | Path | BinaryIO) -> Iterator[EmailMessage]:
    """Messages from a binary stream (one message), a Maildir folder, an mbox or .eml file."""
    if not isinstance(source, (str, Path)):
        yield _parse(source.read())
        return
    path = Path(source)
    if path.is_dir():
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield _parse(box.get_bytes(key))
        return
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        box = mailbox.mbox(path, factory=None, create=False)
        for key in box.iterkeys():
            yield _parse(box.get_bytes(key))
        return
    yield _parse(path.read_bytes())


def ingest(project: Project, messages: Iterable[EmailMessage]) -> list[MailtoResult]:
    """Process ``messages``, one transaction each (one bad message does not undo the others)."""
    signer = TokenSigner(project.settings.secret_keys)
    results = []
    for message in messages:
        with project.session() as session:
            results.append(process_message(session, signer, message, clock=project.clock))
    return results
