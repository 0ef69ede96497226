"""Tables of the operations dashboard: admin accounts and the audit log.

    admin_accounts  who may log in to /admin: user name, password hash (Argon2id), role
    admin_audit     append-only: every admin action — who, what, when, on which subscriber
                    or run.  Erasing a person replaces the address in these lines by its hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

__all__ = ["ROLES", "AdminAccount", "AuditEntry"]

ROLES = ("editor", "admin")


class AdminAccount(Base):
    """A person who may log in to the dashboard."""

    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(20), default="editor")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(default=False)


class AuditEntry(Base):
    """One admin action; rows are only ever inserted (and anonymised by an erasure)."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(Text, default="")  # an address, erased:<hash>, run N
    detail: Mapped[str] = mapped_column(Text, default="")
