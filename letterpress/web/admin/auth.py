"""Who is logged in to /admin: a signed session cookie, or the reverse proxy's header.

The cookie (``lp_admin``, path ``/admin``) is ``Secure``, ``HttpOnly`` and ``SameSite=Strict``,
signed with the project's secret keys (itsdangerous, namespaced) and valid 8 hours.  It holds
the user name and a fingerprint of the password hash, so changing a password or disabling an
account ends its sessions.  Each request reloads the account: a role change applies at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import request
from itsdangerous import BadData, URLSafeTimedSerializer

from ...admin import get_account
from ...admin.models import AdminAccount

__all__ = ["SESSION_COOKIE", "SESSION_HOURS", "AdminUser", "SessionSigner", "current_user"]

SESSION_COOKIE = "lp_admin"
SESSION_HOURS = 8
LOOPBACK = {"127.0.0.1", "::1"}


@dataclass(frozen=True)
class AdminUser:
    """The person behind the request."""

    username: str
    role: str
    via: str  # "password" | "proxy"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _fingerprint(account: AdminAccount) -> str:
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


class SessionSigner:
    """Signs and reads the session cookie."""

    def __init__(self, secret_keys):
        self._s = URLSafeTimedSerializer(list(reversed(secret_keys)),
                                         salt="letterpress.admin-session")

    def dumps(self, account: AdminAccount) -> str:
        return self._s.dumps({"u": account.username, "f": _fingerprint(account)})

    def loads(self, value: str | None) -> dict | None:
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=SESSION_HOURS * 3600)
        except (BadData, ValueError, TypeError):
            return None
        return data if isinstance(data, dict) else None


def current_user(session, signer: SessionSigner, header: str) -> AdminUser | None:
    """The logged-in user of this request, or None."""
    if header and request.remote_addr in LOOPBACK:
        name = request.headers.get(header, "").strip()
        if name:
            account = get_account(session, name)
            return AdminUser(account.username, account.role, "proxy") if account else None
    data = signer.loads(request.cookies.get(SESSION_COOKIE))
    if data is None:
        return None
    account = get_account(session, str(data.get("u", "")))
    if account is None or not account.password_hash or data.get("f") != _fingerprint(account):
        return None
    return AdminUser(account.username, account.role, "password")
