"""Signed reader tokens for unsubscribe, confirm, preferences and resubscribe links.

A token is ``itsdangerous.URLSafeTimedSerializer`` output over
``[subscriber_id, list_id, link_key]`` with one salt per purpose, so a confirm token is never
accepted as an unsubscribe token.  ``link_key`` is the random key stored with the subscriber
(:func:`new_link_key`): the signature proves we issued the token, the key proves it was issued
to the person who holds the row today (see :mod:`letterpress.audience.links`).  Tokens mailed
before keys existed carry ``[subscriber_id, list_id]`` only (the legacy form).  A token
carries no address.  Keys come from ``Settings.secret_keys`` (newest first): the newest
signs, every key verifies, so a rotation keeps the links in mail already sent working.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from ..errors import TokenError, TokenExpired

__all__ = ["PURPOSES", "Purpose", "TokenData", "TokenSigner", "new_link_key", "new_link_keys"]

Purpose = Literal["unsubscribe", "confirm", "preferences", "resubscribe"]
PURPOSES: tuple[str, ...] = ("unsubscribe", "confirm", "preferences", "resubscribe")
LINK_KEY_BYTES = 16  # 128 random bits, 22 URL-safe characters


def new_link_key() -> str:
    """A fresh random key for a subscriber's links (never derived from the id or address)."""
    return secrets.token_urlsafe(LINK_KEY_BYTES)


def new_link_keys(count: int) -> list[str]:
    """``count`` keys as :func:`new_link_key` makes them, from one read of the system's
    random source (an import creates thousands at once)."""
    raw = secrets.token_bytes(LINK_KEY_BYTES * count)
    return [base64.urlsafe_b64encode(raw[i:i + LINK_KEY_BYTES]).rstrip(b"=").decode("ascii")
            for i in range(0, len(raw), LINK_KEY_BYTES)]


@dataclass(frozen=True)
class TokenData:
    """What a validly signed token says: who, which list, when it was signed (UTC), and the
    link key it was issued for (``None`` for the legacy form, mailed before keys existed)."""

    subscriber_id: int
    list_id: int
    issued_at: datetime
    link_key: str | None = None


class TokenSigner:
    """Signs and verifies reader tokens with a list of keys, newest first."""

    def __init__(self, secret_keys: Sequence[str]):
        keys = [k for k in secret_keys if k]
        if not keys:
            raise TokenError("no secret key configured")
        # itsdangerous signs with the LAST key of the list and verifies with all of them;
        # our settings list the newest first, hence the reversal.
        self._keys = list(reversed(keys))
        self._serializers = {
            purpose: URLSafeTimedSerializer(self._keys, salt=f"letterpress.{purpose}")
            for purpose in PURPOSES
        }
        # Serializer.dumps builds a new signer for every token; a send run makes two tokens
        # per message, so each purpose's signer is built once (the same bytes: dumps is
        # make_signer(salt).sign(dump_payload(obj))).
        self._signers = {purpose: serializer.make_signer(serializer.salt)
                         for purpose, serializer in self._serializers.items()}

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        try:
            return self._serializers[purpose]
        except KeyError:
            raise ValueError(f"unknown token purpose {purpose!r}") from None

    def dumps(self, purpose: Purpose, subscriber_id: int, list_id: int,
              link_key: str = "") -> str:
        """A URL-safe token for one subscriber on one list, bound to their ``link_key``.

        An empty key (a subscriber created before keys existed) gives the legacy form.
        """
        payload: list = [int(subscriber_id), int(list_id)]
        if link_key:
            payload.append(str(link_key))
        serializer = self._serializer(purpose)
        return self._signers[purpose].sign(serializer.dump_payload(payload)).decode("ascii")

    def loads(self, purpose: Purpose, token: str, *, max_age: float | None = None) -> TokenData:
        """Verify ``token``; raises :class:`TokenError` (or :class:`TokenExpired`)."""
        serializer = self._serializer(purpose)
        if not isinstance(token, str) or not token or len(token) > 512:
            raise TokenError()
        try:
            payload, signed_at = serializer.loads(token, max_age=max_age, return_timestamp=True)
        except SignatureExpired:
            raise TokenExpired() from None
        except (BadData, UnicodeError, ValueError):
            raise TokenError() from None
        if (not isinstance(payload, list) or len(payload) not in (2, 3)
                or not all(type(v) is int and v > 0 for v in payload[:2])):
            raise TokenError()
        key = None
        if len(payload) == 3:
            key = payload[2]
            if not isinstance(key, str) or not key or len(key) > 64:
                raise TokenError()
        if signed_at.tzinfo is None:
            signed_at = signed_at.replace(tzinfo=UTC)
        return TokenData(payload[0], payload[1], signed_at, key)
