"""From a token in a URL to the subscription it names, revealing nothing when it does not.

Every failure — forged, altered, truncated, wrong purpose, erased subscriber, a token issued to
someone else, list removed from the configuration — becomes the same
:class:`~letterpress.errors.TokenError`, which the app answers with one and the same 404 page,
after the same work (see :func:`letterpress.audience.links.check_link`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..audience.links import check_link, is_bound
from ..audience.models import MailingList, Subscriber, Subscription
from ..audience.tokens import Purpose, TokenData, TokenSigner
from ..errors import TokenError
from ..settings import Publication, Settings

__all__ = ["TokenTarget", "load_target", "mask_email", "resolve_token",
           "signed_token", "verify_token"]


@dataclass(frozen=True)
class TokenTarget:
    """A verified token and what it points at."""

    token: TokenData
    subscription: Subscription
    subscriber: Subscriber
    mailing_list: MailingList
    publication: Publication


def mask_email(email: str) -> str:
    """``dominique@example.org`` → ``d•••••@example.org``: recognisable, not readable."""
    local, at, domain = email.partition("@")
    if not at:
        return "•••••"
    return f"{local[:1]}•••••@{domain}"


def resolve_token(session: Session, signer: TokenSigner, settings: Settings, purpose: str,
                  token: str, *, max_age: float | None = None) -> TokenTarget:
    """Verify ``token`` for ``purpose`` and load its subscription (raises TokenError)."""
    data = check_link(session, signer, purpose, token, max_age=max_age)  # type: ignore[arg-type]
    return load_target(session, settings, data)


def signed_token(signer: TokenSigner, purpose: Purpose, token: str) -> TokenData | None:
    """The data ``token`` carries if letterpress signed it for ``purpose``, else ``None`` —
    its binding not yet checked
    (:func:`~letterpress.audience.unsubscribing.unsubscribe_links` does, with the others)."""
    try:
        return signer.loads(purpose, token)
    except TokenError:
        return None


def verify_token(project, signer: TokenSigner, purpose: str, token: str, *,
                 max_age: float | None = None) -> TokenData:
    """Verify ``token`` and its binding in a short read-only transaction.

    Pages that write call this before opening their write transaction: a flood of forged
    or stale tokens never queues for the database's write lock.  One statement on a plain
    connection: a session costs more CPU than the read.
    """
    with project.lookup_engine.connect() as conn:
        return check_link(conn, signer, purpose, token, max_age=max_age)  # type: ignore[arg-type]


# Built once: building the statement on every one-click cost more CPU than running it.
_TARGET = (select(Subscription, Subscriber, MailingList)
           .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
           .join(MailingList, MailingList.id == Subscription.list_id)
           .where(Subscription.subscriber_id == bindparam("subscriber_id"),
                  Subscription.list_id == bindparam("list_id")))


def load_target(session: Session, settings: Settings, data: TokenData) -> TokenTarget:
    """The subscription an already verified token names (raises TokenError when gone).

    Pages that write verify the token first (:func:`verify_token`), then open their write
    transaction and load the target with this; the binding is checked again here, since the
    row may have changed in between.
    """
    row = session.execute(_TARGET, {"subscriber_id": data.subscriber_id,
                                    "list_id": data.list_id}).first()
    if row is None:
        raise TokenError()
    subscription, subscriber, mailing_list = row
    if not is_bound(data, subscriber.link_key, subscriber.created_at):
        raise TokenError()
    publication = settings.publications.get(mailing_list.publication)
    if publication is None:
        raise TokenError()
    return TokenTarget(data, subscription, subscriber, mailing_list, publication)
