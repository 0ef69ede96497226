"""The audit log of the dashboard: every admin action, appended, shown on the dashboard.

An erasure keeps the lines about the person but replaces the address in them by
``erased:<sha256>`` — the same hash as the suppression entry — so the log still proves what was
done, and when, without holding the address.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..clock import Clock
from .models import AuditEntry

__all__ = ["anonymise_audit", "audit", "recent_audit"]


def audit(session: Session, *, actor: str, action: str, subject: str = "", detail: str = "",
          clock: Clock) -> AuditEntry:
    """Append one line: who (``actor``), what (``action``), on which subscriber or run."""
    entry = AuditEntry(at=clock.now(), actor=actor, action=action, subject=subject[:500],
                       detail=detail[:2000])
    session.add(entry)
    session.flush()
    return entry


def recent_audit(session: Session, limit: int = 50) -> list[AuditEntry]:
    """The newest lines first."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


def anonymise_audit(session: Session, target) -> int:
    """An eraser (see :func:`letterpress.audience.gdpr.forget`): the address in audit lines
    becomes ``erased:<hash>``; returns how many lines changed."""
    replacement = f"erased:{target.email_hash}"
    changed = 0
    for column in (AuditEntry.subject, AuditEntry.detail):
        for address in {target.email, target.email.lower()}:
            result = session.execute(
                update(AuditEntry).where(func.lower(column).contains(address.lower()))
                .values({column.key: func.replace(column, address, replacement)})
                .execution_options(synchronize_session=False))
            changed += result.rowcount or 0
    return changed
