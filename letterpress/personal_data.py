"""Every place that holds a copy of a person's data, for the GDPR rights the audience carries
out (:mod:`letterpress.audience.gdpr`): erasure (art. 17) and access (art. 15).

The audience must not import the modules downstream of it; the command line and the
dashboard both take the lists from here, so an erasure or an access request reaches the same
places whichever of them it comes from.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from .audience.gdpr import AccessSection, Eraser, ErasureReport, forget
from .clock import Clock

__all__ = ["access_sections", "erase_person", "erasers"]


def erase_person(session: Session, email: str, *, clock: Clock,
                 project_dir: str | Path) -> ErasureReport:
    """A person's erasure at their request (GDPR art. 17): :func:`~.audience.gdpr.forget`
    with every eraser, and the project's erasure journal, so restoring a backup taken before
    erases them again (:mod:`letterpress.backup`)."""
    from .backup import record_erasure

    report = forget(session, email, clock=clock, erasers=erasers())
    record_erasure(project_dir, report.email_hash, clock.now())
    return report


def erasers() -> list[Eraser]:
    """The erasers of the delivery ledger, the bounce records and the dashboard's audit log."""
    from .admin import anonymise_audit
    from .bounces.erasure import erase_bounces
    from .delivery import erase_recipient

    # Bounce records first: they find the person's ledger rows before those are blanked.
    # The audit log keeps its lines, with the address replaced by its hash.
    return [erase_bounces, erase_recipient, anonymise_audit]


def access_sections() -> list[AccessSection]:
    """What the delivery ledger and the bounce records hold about a person."""
    from .bounces.erasure import recipient_bounces
    from .delivery.erasure import recipient_deliveries

    return [recipient_deliveries, recipient_bounces]
