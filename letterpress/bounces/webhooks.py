"""Relay webhooks: the bounce and complaint events of Brevo and Mailjet, as our outcomes.

Brevo posts one JSON object per event.  Transactional webhooks (developers.brevo.com
"Transactional webhooks"; mail sent through Brevo's SMTP relay)::

    {"event": "hard_bounce", "email": "a@example.org", "id": 26224, "date": "2020-10-09 00:00:00",
     "ts": 1604933619, "message-id": "<…@…>", "ts_event": 1604933654, "subject": "…",
     "tag": "…", "sending_ip": "…", "ts_epoch": 1604933654000, "reason": "…", …}

``id`` is the *webhook's* id, the same in every post to one URL: never an event reference;
``ts_event`` and ``ts_epoch`` (milliseconds) are UTC, ``date`` is CET/CEST.  Marketing webhooks
(developers.brevo.com "Marketing webhooks") carry ``camp_id``, ``date_sent``, ``date_event``,
``ts_sent``, ``ts_event``, ``reason`` and no ``message-id``.  Event names are those of the
transactional event list (``GET /smtp/statistics/events``)::

    hard_bounce, invalid_email → hard   soft_bounce → soft   spam (and "complaint") → complaint
    blocked → policy: Brevo did not send ("blacklisted sender etc."; the reason may be the
              address on Brevo's own blocklist) — counted, the reader untouched
    request, delivered, deferred, opened, click, unsubscribed, error … → ignored

Mailjet posts one object, or an array of them when grouping is on (Event API version 2;
github.com/mailjet/api-documentation, guides/_event-api.md)::

    {"event": "bounce", "time": 1430812195, "MessageID": 13792286917004336, "email": "…",
     "mj_campaign_id": 0, "mj_contact_id": 0, "customcampaign": "", "CustomID": "",
     "Payload": "", "blocked": false, "hard_bounce": true, "error_related_to": "recipient",
     "error": "user unknown"}

``error_related_to`` is one of recipient, domain, spam, system, mailjet (the error table)::

    bounce: spam/system → policy (sender blocked, content blocked, policy issue, our side)
            mailjet preblocked (recently bounced, not sent) → soft
            otherwise hard_bounce=true → hard, false → soft
    blocked: recipient, or domain "invalid domain" / "no mail host" → hard
             mailjet "preblocked" → soft, "duplicate in campaign" → ignored, else policy
    spam → complaint   sent, open, click, unsub … → ignored

Unsubscriptions (Brevo ``unsubscribed``, Mailjet ``unsub``) are ignored: letterpress mail
carries its own unsubscribe link and List-Unsubscribe header, which record them.

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
          "soft_bounce": ("soft", "4.0.0"), "blocked": ("policy", "5.7.1"),
          "spam": ("complaint", ""), "complaint": ("complaint", "")}
# Mailjet's error table: errors on the sender's side, never the reader's fault.
_MAILJET_SENDER_SIDE = {"spam", "system"}
_MAILJET_BAD_DOMAIN = {"invalid domain", "no mail host"}


def _when(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


def _brevo_when(event: dict) -> datetime | None:
    """The event's UTC time: ``ts_event`` (seconds), else ``ts_epoch`` (milliseconds)."""
    if event.get("ts_event") not in (None, ""):
        return _when(event["ts_event"])
    try:
        return _when(float(event["ts_epoch"]) / 1000)
    except (KeyError, TypeError, ValueError):
        return None


def _mailjet_kind(name: str, event: dict) -> tuple[str, str]:
    """(kind, RFC 3463 status) of one Mailjet event, after its error table."""
    related = str(event.get("error_related_to") or "").strip().lower()
    error = str(event.get("error") or "").strip().lower()
    if name == "spam":
        return "complaint", ""
    if name not in ("bounce", "blocked"):
        return "ignored", ""
    if related == "mailjet":
        # preblocked: an address that recently bounced, not even tried.
        return ("soft", "4.0.0") if error == "preblocked" else ("ignored", "")
    if related in _MAILJET_SENDER_SIDE:
        return "policy", "5.7.1"
    if name == "blocked":
        if related == "recipient" and "quota" not in error:
            return "hard", "5.1.1"
        if related == "domain" and error in _MAILJET_BAD_DOMAIN:
            return "hard", "5.1.2"
        return "policy", "5.7.1"
    if event.get("hard_bounce") is True or str(event.get("hard_bounce")).lower() == "true":
        if related == "domain":
            return "hard", "5.1.2"
        return "hard", "5.1.1" if "unknown" in error else "5.0.0"
    return "soft", "5.2.2" if "quota" in error else "4.0.0"


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
        yield event, verdict, _brevo_when(event)


def mailjet_events(payload: Any) -> Iterator[tuple[dict, Verdict, datetime | None]]:
    """(event, verdict, when) for each Mailjet event of ``payload``."""
    events = payload if isinstance(payload, list) else [payload]
    for event in events:
        if not isinstance(event, dict) or "event" not in event or "email" not in event:
            raise WebhookPayloadError("not a Mailjet event (needs 'event' and 'email')")
        name = str(event["event"])
        related = str(event.get("error_related_to") or "")
        error = str(event.get("error") or "")
        kind, status = _mailjet_kind(name, event)
        detail = f"{related}: {error}".strip(": ") or name
        verdict = Verdict("complaint" if kind == "complaint" else "dsn", "mailjet",
                          (Failure(str(event["email"]), kind, status, detail),),
                          reason=f"Mailjet {name} event")
        yield event, verdict, _when(event.get("time"))


RELAYS = {"brevo": brevo_events, "mailjet": mailjet_events}


def _reference(relay: str, event: dict) -> str:
    """The relay's own reference of the message (Brevo's ``id`` names the webhook)."""
    if relay == "brevo":
        if event.get("message-id"):
            return str(event["message-id"])
        return f"camp_id {event['camp_id']}" if event.get("camp_id") is not None else ""
    return str(event.get("MessageID") or "")


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
        ref = _reference(relay, event)
        results.append(record_failures(
            session, fingerprint, verdict, settings=settings, clock=clock, source=relay,
            source_ref=ref[:500], message_id=verdict.original_message_id[:500],
            subject=str(event.get("subject") or "")[:1000], received_at=when))
    return results
