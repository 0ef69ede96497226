"""Accounts and audit log of the operations dashboard (``letterpress serve`` → ``/admin``)."""

from .accounts import add_account, authenticate, get_account, list_accounts, set_password
from .audit import anonymise_audit, audit, recent_audit
from .models import ROLES, AdminAccount, AuditEntry

__all__ = ["ROLES", "AdminAccount", "AuditEntry", "add_account", "anonymise_audit", "audit",
           "authenticate", "get_account", "list_accounts", "recent_audit", "set_password"]
