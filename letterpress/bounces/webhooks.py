"""Relay webhooks: the bounce and complaint events of Brevo and Mailjet, as our outcomes.

Brevo posts one JSON object per event (transactional and marketing webhooks)::

    {"event": "hard_bounce", "email": "a@example.org", "id": 26224, "date": "2020-08-28 19:08:29",
     "ts": 1598634509, "message-id": "<…@…>", "ts_event": 1598034509, "subject": "…",
     "reason": "…", …}

    hard_bounce, invalid_email → hard   soft_bounce → soft   spam → complaint
    blocked, deferred, delivered, opened, click, unsubscribed … → ignored

Mailjet posts one object, or an array of them when grouping is on::

    {"event": "bounce", "time": 1430812195, "MessageID": 13792286917004336, "email": "…",
     "blocked": false, "hard_bounce": true, "error_related_to": "recipient",
     "error": "user unknown", …}

    bounce hard_bounce=true → hard (error_related_to spam/content/system → policy)
    bounce hard_bounce=false → soft   blocked → policy unless related to the recipient
    spam → complaint   sent, open, click, unsub … → ignored

Each event is processed like a returned message: its fingerprint (the event's canonical
JSON) makes a relay's retries harmless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..clock import Clock
from ..errors import WebhookPayloadError
from ..settings import Settings
from .detect import Failure, Verdict
from .record import Processed, record_failures

__all__ = ["RELAYS", "WebhookPayloadError", "brevo_events", "mailjet_events",
           "process_webhook"]


_BREVO = {"hard_bounce": ("hard", "5.0.0"), "invalid_email": ("hard", "5.1.3"),
          "soft_bounce": ("soft", "4.0.0"), "spam": ("complaint", ""),
          "complaint": ("complaint", "")}
_MAILJET_SENDER_SIDE = {"spam", "content", "system", "domain"}


def _when(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


def brevo_events(payload: Any) -> Iterator[tuple[dict, Verdict, datetime | None]]:
    """(event, verdict, when) for each Brevo event of ``payload``."""
    events = payload if isinstance(payload, list) else [payload]
    for event in events:
        if not isinstance(event, dict) or "event" not in event or "email" not in event:
            raise WebhookPayloadError("not a Brevo event (needs 'event' and 'email')")
        kind, status = _BREVO.get(str(event["event"]), ("ignored", ""))
        reason = str(event.get("reason") or event["event"])
        verdict = Verdict("complaint" if kind == "complaint" else "dsn", "brevo",
                          (Failure(str(event["email"]), kind, status, reason),),
                          original_message_id=str(event.get("message-id") or ""),
                          reason=f"Brevo {event['event']} event")
        yield event, verdict, _when(event.get("ts_event") or event.get("ts"))


def mailjet_events(payload: Any) -> Iterator[tuple[dict, Verdict, datetime | None]]:
    """(event, verdict, when) for each Mailjet event of ``payload``."""
    events = payload if isinstance(payload, list) else [payload]
    for event in events:
        if not isinstance(event, dict) or "event" not in event or "email" not in event:
            raise WebhookPayloadError("not a Mailjet event (needs 'event' and 'email')")
        name = str(event["event"])
        related = str(event.get("error_related_to") or "")
        error = str(event.get("error") or "")
        if name == "bounce":
            if related in _MAILJET_SENDER_SIDE:
                kind, status = "policy", "5.7.1"
            elif event.get("hard_bounce"):
                kind, status = "hard", "5.1.1" if "unknown" in error else "5.0.0"
            else:
                kind, status = "soft", "5.2.2" if "quota" in error else "4.0.0"
        elif name == "blocked":
            kind, status = (("hard", "5.1.1") if related == "recipient"
                            else ("policy", "5.7.1"))
        elif name == "spam":
            kind, status = "complaint", ""
        else:
            kind, status = "ignored", ""
        detail = f"{related}: {error}".strip(": ") or name
        verdict = Verdict("complaint" if kind == "complaint" else "dsn", "mailjet",
                          (Failure(str(event["email"]), kind, status, detail),),
                          reason=f"Mailjet {name} event")
        yield event, verdict, _when(event.get("time"))


RELAYS = {"brevo": brevo_events, "mailjet": mailjet_events}


def process_webhook(session: Session, relay: str, payload: Any, *, settings: Settings,
                    clock: Clock) -> list[Processed]:
    """Record every event of one webhook request; raises :class:`WebhookPayloadError`."""
    parse = RELAYS.get(relay)
    if parse is None:
        raise WebhookPayloadError(f"unknown relay {relay!r}")
    results = []
    for event, verdict, when in list(parse(payload)):
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
        fingerprint = hashlib.sha256(f"{relay}:{canonical}".encode()).hexdigest()
        ref = str(event.get("MessageID") or event.get("id") or "")
        results.append(record_failures(
            session, fingerprint, verdict, settings=settings, clock=clock, source=relay,
            source_ref=ref[:500], message_id=verdict.original_message_id[:500],
            subject=str(event.get("subject") or "")[:1000], received_at=when))
    return results
