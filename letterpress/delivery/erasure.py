"""A person in the delivery ledger: erasure (GDPR art. 17) and access (art. 15).

The ledger keeps the address and name each message went to.  When the audience erases a
person, these copies go too: the address becomes ``erased:<hash>`` (the same hash as the
suppression entry, which keeps a run's rows unique without being readable), and the name and
the server's reply text (which often quotes the address) are cleared.  Counts, states and
dates stay, so a run's figures do not change.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from .models import Delivery, SendRun

__all__ = ["erase_recipient", "recipient_deliveries"]


class _Target(Protocol):
    email: str
    email_hash: str
    subscriber_id: int | None


def _about(target: _Target):
    matches = [func.lower(Delivery.email) == target.email.lower()]
    if target.subscriber_id is not None:
        matches.append(Delivery.subscriber_id == target.subscriber_id)
    return or_(*matches)


def recipient_deliveries(session: Session, target: _Target) -> dict[str, list[dict[str, Any]]]:
    """``{"deliveries": [...]}``: each message of a send run addressed to ``target``, oldest
    first — issue, list, address, state, dates, the receiving server's answer and what came
    back later (bounce, complaint).  Test sends included."""
    rows = session.execute(
        select(Delivery, SendRun).join(SendRun, SendRun.id == Delivery.run_id)
        .where(_about(target)).order_by(Delivery.id)).all()
    return {"deliveries": [{
        "run": run.id, "issue": f"{run.publication}#{run.issue_number}", "subject": run.subject,
        "list": run.list_name, "test": run.is_test, "address": d.email, "state": d.state,
        "attempts": d.attempts, "sent_at": _iso(d.sent_at),
        "last_attempt_at": _iso(d.last_attempt_at), "message_id": d.message_id,
        "server_reply": d.detail, "later": d.async_outcome, "later_at": _iso(d.async_at),
    } for d, run in rows]}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def erase_recipient(session: Session, target: _Target) -> int:
    """Blank every ledger row about ``target``; returns how many rows were erased."""
    result = session.execute(
        update(Delivery).where(_about(target))
        .values(email=f"erased:{target.email_hash}", name="", detail="", subscriber_id=None,
                subscription_id=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0
