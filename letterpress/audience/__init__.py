"""The subscriber database: lists, subscriptions, consent, status changes and signed tokens.

Everything takes a SQLAlchemy session (and a clock where time matters); nothing here knows
about the CLI, the web server or how mail is sent.
"""

from .emails import email_hash, email_key, envelope_address, normalise_email, sendable_email
from .models import MailingList, Subscriber, Subscription, SubscriptionEvent, Suppression
from .queries import (
    Recipient,
    count_by_status,
    count_recipients,
    count_subscriptions,
    get_subscription,
    inactive_among,
    iter_recipients,
    iter_subscriptions,
)
from .service import (
    Consent,
    confirm,
    ensure_lists,
    find_subscriber,
    get_list,
    mark_bounced,
    mark_complained,
    subscribe,
    update_profile,
)
from .tokens import TokenData, TokenSigner
from .unsubscribing import unsubscribe

__all__ = [
    "Consent",
    "MailingList",
    "Recipient",
    "Subscriber",
    "Subscription",
    "SubscriptionEvent",
    "Suppression",
    "TokenData",
    "TokenSigner",
    "confirm",
    "count_by_status",
    "count_recipients",
    "count_subscriptions",
    "email_hash",
    "email_key",
    "ensure_lists",
    "envelope_address",
    "find_subscriber",
    "get_list",
    "get_subscription",
    "inactive_among",
    "iter_recipients",
    "iter_subscriptions",
    "mark_bounced",
    "mark_complained",
    "normalise_email",
    "sendable_email",
    "subscribe",
    "unsubscribe",
    "update_profile",
]
