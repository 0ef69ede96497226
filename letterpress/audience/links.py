"""A link acts only on the person it was sent to.

A signature proves letterpress issued a token; it does not prove the row it names still
belongs to the person it was mailed to.  So every token is checked against the subscriber row
it names, with one lookup and one constant-time comparison of its link key:

* ``[subscriber_id, list_id, link_key]`` is accepted only when the row holds that key.  Keys are
  random (:func:`~letterpress.audience.tokens.new_link_key`), stored with the subscriber, and
  deleted with them: a token of an erased person matches nobody, even if an id were reused
  (ids are not: the tables are AUTOINCREMENT on SQLite, sequences on PostgreSQL).
* The legacy form ``[subscriber_id, list_id]``, mailed before keys existed, is accepted only
  while the row still has the migrated empty key **and** the token was signed after the row
  was created: a token older than its row was issued to someone else (an id reused before
  the migration).  A subscriber created since carries a key, so the legacy form never names
  them.

Forged, altered, wrong-purpose and erased-person tokens all take the same path (signature
check, one lookup, one comparison) and raise the same :class:`~letterpress.errors.TokenError`,
so neither the answer nor its timing tells them apart.  (PostgreSQL's one-click writer makes
the lookup and the comparison of keyed tokens inside the statement that stops them:
:func:`~letterpress.audience.unsubscribing.unsubscribe_links_at_once`.)
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from ..errors import TokenError, TokenExpired
from .models import Subscriber, Subscription
from .tokens import Purpose, TokenData, TokenSigner

__all__ = ["LEGACY_LINK_KEY", "active_link_keys", "check_link", "is_bound", "link_keys"]

LEGACY_LINK_KEY = ""  # what migration 0007 gives subscribers created before link keys
IN_CHUNK = 1000
# Compared when there is nothing to compare, so every refusal does the same work.
_NOTHING = "-" * 22
_NOT_THIS = "+" * 22


def is_bound(data: TokenData | None, stored: str | None, created_at: datetime | None) -> bool:
    """Whether a signed token's data belongs to the row holding ``stored`` (its link key)
    created at ``created_at``; ``None`` for no token / no row.  Always one comparison."""
    offered = (data.link_key if data is not None and data.link_key else _NOT_THIS)
    same_key = hmac.compare_digest((stored or _NOTHING).encode(), offered.encode())
    if data is None or stored is None:
        return False
    if data.link_key is not None:
        return same_key and stored != LEGACY_LINK_KEY
    # Legacy form: only for a row never re-keyed, and never for a row younger than the token
    # (itsdangerous timestamps are whole seconds).
    return (stored == LEGACY_LINK_KEY and created_at is not None
            and data.issued_at >= created_at.replace(microsecond=0))


# Built once: building and cache-keying the statement on every request cost more CPU than
# running it (one-click unsubscribes check a link each).
_BINDING = (select(Subscriber.link_key, Subscriber.created_at)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .where(Subscription.subscriber_id == bindparam("subscriber_id"),
                   Subscription.list_id == bindparam("list_id")))


def check_link(session: Session | Connection, signer: TokenSigner, purpose: Purpose,
               token: str, *, max_age: float | None = None) -> TokenData:
    """Verify ``token`` for ``purpose`` and its binding to the subscriber it names.

    ``session`` is a session or a plain connection (one read).  Returns the token's data;
    raises :class:`TokenError` for anything not issued to the person now holding the row,
    :class:`TokenExpired` for a genuine token past ``max_age``.
    """
    try:
        data: TokenData | None = signer.loads(purpose, token, max_age=max_age)
    except TokenExpired:
        raise
    except TokenError:
        data = None
    subscriber_id, list_id = (data.subscriber_id, data.list_id) if data else (0, 0)
    row = session.execute(_BINDING, {"subscriber_id": subscriber_id,
                                     "list_id": list_id}).first()
    stored, created_at = (row[0], row[1]) if row is not None else (None, None)
    if not is_bound(data, stored, created_at):
        raise TokenError()
    assert data is not None
    return data


def link_keys(session: Session, subscriber_ids: Collection[int]) -> dict[int, str]:
    """The link key of each of these subscribers (missing: erased)."""
    ids = sorted({int(i) for i in subscriber_ids if i})
    found: dict[int, str] = {}
    for start in range(0, len(ids), IN_CHUNK):
        found.update(session.execute(
            select(Subscriber.id, Subscriber.link_key)
            .where(Subscriber.id.in_(ids[start:start + IN_CHUNK]))).all())
    return found


_ACTIVE_KEYS = (select(Subscription.id, Subscriber.link_key)
                .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                .where(Subscription.id.in_(bindparam("ids", expanding=True)),
                       Subscription.status == "active"))


def active_link_keys(session: Session, subscription_ids: Collection[int]) -> dict[int, str]:
    """``{subscription id: its subscriber's link key}`` for those of ``subscription_ids`` still
    active; the others (unsubscribed, bounced, erased) are missing.  ``""``: a subscriber
    created before link keys (legacy tokens).

    What a send run asks before each batch, in one query on a statement compiled once:
    who has left since the run started, and the keys the others' links are signed with.
    """
    ids = sorted({int(i) for i in subscription_ids})
    found: dict[int, str] = {}
    connection = session.connection()
    for start in range(0, len(ids), IN_CHUNK):
        found.update((sid, key or "") for sid, key in connection.execute(
            _ACTIVE_KEYS, {"ids": ids[start:start + IN_CHUNK]}))
    return found
