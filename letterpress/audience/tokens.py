"""Signed reader tokens for unsubscribe, confirm, preferences and resubscribe links.

A token is ``itsdangerous.URLSafeTimedSerializer`` output over ``[subscriber_id, list_id]``
with one salt per purpose, so a confirm token is never accepted as an unsubscribe token.
It carries no address.  Keys come from ``Settings.secret_keys`` (newest first): the newest
signs, every key verifies, so a rotation keeps the links in mail already sent working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from ..errors import TokenError, TokenExpired

__all__ = ["PURPOSES", "Purpose", "TokenData", "TokenSigner"]

Purpose = Literal["unsubscribe", "confirm", "preferences", "resubscribe"]
PURPOSES: tuple[str, ...] = ("unsubscribe", "confirm", "preferences", "resubscribe")


@dataclass(frozen=True)
class TokenData:
    """What a valid token says: who, which list, and when it was signed (UTC)."""

    subscriber_id: int
    list_id: int
    issued_at: datetime


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

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        try:
            return self._serializers[purpose]
        except KeyError:
            raise ValueError(f"unknown token purpose {purpose!r}") from None

    def dumps(self, purpose: Purpose, subscriber_id: int, list_id: int) -> str:
        """A URL-safe token for one subscriber on one list."""
        return self._serializer(purpose).dumps([int(subscriber_id), int(list_id)])

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
        if (not isinstance(payload, list) or len(payload) != 2
                or not all(type(v) is int and v > 0 for v in payload)):
            raise TokenError()
        if signed_at.tzinfo is None:
            signed_at = signed_at.replace(tzinfo=UTC)
        return TokenData(payload[0], payload[1], signed_at)
