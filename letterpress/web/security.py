"""Security of the reader-facing pages: response headers, CSRF protection and rate limits.

* Every response carries a strict Content-Security-Policy (no script at all), no referrer
  (tokens travel in URLs and must not leak to the sites an issue links to), nosniff and
  frame-ancestors 'none'.
* CSRF is a *signed double submit*: a random value in a ``SameSite=Strict`` cookie and, in the
  form, that value signed (itsdangerous, namespaced per form, time-limited).  A page on another
  site can neither read the cookie nor forge the signature.  No server-side session is kept.
* Rate limits are sliding windows held in memory, per process, driven by the project clock so
  tests never sleep.  ``letterpress serve`` runs one process with threads, so one table is
  enough; behind several processes each keeps its own (the limits then multiply).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from ..clock import Clock
from ..errors import LetterpressError

__all__ = [
    "ARCHIVE_CSP",
    "CSP",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRFError",
    "CsrfProtector",
    "RateLimited",
    "RateLimiter",
    "security_headers",
]

CSP = ("default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'none'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# The online version of an issue is the e-mail's own HTML: its CSS is inlined into style=""
# attributes (that is how e-mail clients need it), so that one page must allow inline styles.
# Scripts stay forbidden there too, so inline styles cannot become code execution.
ARCHIVE_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

CSRF_COOKIE = "lp_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 6 * 3600  # a form left open in a tab for an afternoon still works


def security_headers(*, csp: str = CSP) -> dict[str, str]:
    """The headers every page gets."""
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    }


class CSRFError(LetterpressError):
    """A form was posted without a valid CSRF token (HTTP 400)."""

    status = 400

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"CSRF check failed: {reason}")


class CsrfProtector:
    """Issues and checks signed double-submit tokens bound to one form name."""

    def __init__(self, secret_keys: Sequence[str], *, max_age: float = CSRF_MAX_AGE):
        # The newest key signs; every key verifies, so a key rotation does not break open forms.
        self._serializer = URLSafeTimedSerializer(list(reversed(secret_keys)), salt="letterpress.csrf")
        self.max_age = max_age

    @staticmethod
    def new_cookie_value() -> str:
        """A fresh random value for the CSRF cookie."""
        return secrets.token_urlsafe(24)

    @staticmethod
    def _binding(cookie_value: str) -> str:
        # The page carries a digest of the cookie, never the (HttpOnly) cookie itself.
        return hashlib.sha256(cookie_value.encode()).hexdigest()[:32]

    def token_for(self, cookie_value: str, form: str) -> str:
        """The hidden-field value for ``form``, bound to the browser's cookie value."""
        return self._serializer.dumps([self._binding(cookie_value), form])

    def check(self, cookie_value: str | None, token: str | None, form: str) -> None:
        """Raise :class:`CSRFError` unless ``token`` was issued for this cookie and form."""
        if not cookie_value:
            raise CSRFError("no CSRF cookie")
        if not token:
            raise CSRFError("no CSRF token in the form")
        try:
            value, signed_form = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise CSRFError("CSRF token expired") from None
        except (BadData, ValueError, TypeError):
            raise CSRFError("CSRF token altered") from None
        if signed_form != form or not hmac.compare_digest(str(value),
                                                          self._binding(cookie_value)):
            raise CSRFError("CSRF token does not match")


class RateLimited(LetterpressError):
    """Too many requests for one key in the window (HTTP 429)."""

    status = 429

    def __init__(self, key: str, retry_after: float):
        self.key = key
        self.retry_after = retry_after
        super().__init__(f"rate limit reached for {key}; retry in {retry_after:.0f} s")


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per ``seconds``."""

    count: int
    seconds: float


class RateLimiter:
    """Sliding-window counters per key, thread-safe, timed by the injected clock."""

    def __init__(self, clock: Clock, *, max_keys: int = 100_000):
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def hit(self, key: str, limit: Limit) -> None:
        """Count one event for ``key``; raise :class:`RateLimited` when over the limit."""
        now = self._now()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - limit.seconds:
                hits.popleft()
            if len(hits) >= limit.count:
                raise RateLimited(key, hits[0] + limit.seconds - now)
            hits.append(now)

    def _prune(self, now: float, horizon: float = 86400) -> None:
        # Keeps memory bounded under a flood of distinct keys (e.g. random addresses).
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - horizon]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:
            oldest = sorted(self._hits, key=lambda k: self._hits[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._hits[key]
