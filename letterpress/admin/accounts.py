"""Accounts of the dashboard: user names, roles and Argon2id password hashes (argon2-cffi).

Roles: an ``editor`` reads everything the dashboard shows (runs, reports, schedule, lists,
subscribers, the audit log) and may export a person's data; an ``admin`` may also unsubscribe
and erase.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import Clock
from ..errors import AdminAccountExists, AdminAccountNotFound, InvalidAdminAccount
from .models import ROLES, AdminAccount

__all__ = ["MIN_PASSWORD", "add_account", "authenticate", "get_account", "list_accounts",
           "set_password"]

MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
_DUMMY: list[str] = []  # verified against for unknown names, so both take the same time


def _dummy() -> str:
    if not _DUMMY:
        _DUMMY.append(_HASHER.hash("letterpress-no-such-account"))
    return _DUMMY[0]


def _check(username: str, role: str, password: str | None) -> None:
    if not _USERNAME.match(username):
        raise InvalidAdminAccount("a user name is 1-100 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise InvalidAdminAccount(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidAdminAccount(f"a password has at least {MIN_PASSWORD} characters")


def get_account(session: Session, username: str) -> AdminAccount | None:
    """The enabled account ``username``, or None."""
    return session.scalar(select(AdminAccount).where(AdminAccount.username == username,
                                                     AdminAccount.disabled.is_(False)))


def list_accounts(session: Session) -> list[AdminAccount]:
    return list(session.scalars(select(AdminAccount).order_by(AdminAccount.username)))


def add_account(session: Session, username: str, password: str | None, *, role: str = "editor",
                clock: Clock) -> AdminAccount:
    """Create an account; ``password`` None makes one usable only through the proxy header.

    Raises :class:`AdminAccountExists` or :class:`InvalidAdminAccount`.
    """
    _check(username, role, password)
    if session.scalar(select(AdminAccount.id).where(AdminAccount.username == username)):
        raise AdminAccountExists(username)
    account = AdminAccount(username=username, role=role, created_at=clock.now(),
                           password_hash=_HASHER.hash(password) if password else "")
    session.add(account)
    session.flush()
    return account


def set_password(session: Session, username: str, password: str, *,
                 role: str | None = None) -> AdminAccount:
    """Change an account's password (and role); raises :class:`AdminAccountNotFound`."""
    account = session.scalar(select(AdminAccount).where(AdminAccount.username == username))
    if account is None:
        raise AdminAccountNotFound(username)
    _check(username, role or account.role, password)
    account.password_hash = _HASHER.hash(password)
    if role:
        account.role = role
    session.flush()
    return account


def authenticate(session: Session, username: str, password: str) -> AdminAccount | None:
    """The account when ``password`` is right, else None (same work either way)."""
    account = get_account(session, username) if _USERNAME.match(username or "") else None
    dummy = _dummy()
    stored = account.password_hash if account is not None and account.password_hash else dummy
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if account is None or stored is dummy:
        return None
    if _HASHER.check_needs_rehash(stored):
        account.password_hash = _HASHER.hash(password)
    return account
