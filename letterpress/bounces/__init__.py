"""Bounces and complaints that come back after the SMTP dialogue.

A DSN days after the handover, an over-quota notice, an ARF complaint, a relay's webhook:
each is matched to the delivery that caused it (VERP return path, else the original
Message-ID, else the failed recipient), recorded on the delivery and acted on in the
audience — hard bounces and complaints stop and suppress, soft bounces add to a decaying
score, sender-policy rejections are counted against the run and never touch a reader.

    verp      the signed return path of each delivery
    detect    RFC 3464 / 5965 / 3834 parsing and flufl.bounce for the rest
    record    matching, recording, actions, the soft-bounce score (idempotent)
    sources   IMAP (imapclient), POP3, Maildir, mbox, one message; the fetch loop
    webhooks  Brevo and Mailjet events
    queries   list, show, per-run counts, per-subscriber history
"""

from .detect import Failure, Verdict, detect, kind_of_status
from .models import BOUNCE_KINDS, BounceRecord, BounceScore
from .queries import get_record, list_records, run_bounce_counts, subscriber_bounces
from .record import Processed, fingerprint_of, process_bytes, record_failures
from .sources import FetchReport, fetch, ingest, open_mailbox
from .verp import ForgedVerp, ReturnPath, parse_verp, verp_address
from .webhooks import WebhookPayloadError, process_webhook

__all__ = [
    "BOUNCE_KINDS",
    "BounceRecord",
    "BounceScore",
    "Failure",
    "FetchReport",
    "ForgedVerp",
    "Processed",
    "ReturnPath",
    "Verdict",
    "WebhookPayloadError",
    "detect",
    "fetch",
    "fingerprint_of",
    "get_record",
    "ingest",
    "kind_of_status",
    "list_records",
    "open_mailbox",
    "parse_verp",
    "process_bytes",
    "process_webhook",
    "record_failures",
    "run_bounce_counts",
    "subscriber_bounces",
    "verp_address",
]
