"""The double opt-in reminder mail, and the sweep that sends it and expires old sign-ups.

No Flask here: the scheduler daemon and the command line call :func:`sweep_pending_subscriptions`
as well as the pages.  The list rules themselves live in :mod:`letterpress.audience.health`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..audience.health import PendingSubscription, SweepReport, sweep_pending
from ..audience.tokens import TokenSigner
from ..project import Project
from ..settings import Publication
from .mailing import page_mail

__all__ = ["confirm_url", "reminder_sender", "sweep_pending_subscriptions"]


def confirm_url(project: Project, signer: TokenSigner, subscriber_id: int, list_id: int,
                link_key: str) -> str:
    """The confirmation link of a pending subscription (the same as the first mail's), bound
    to the subscriber's link key like every link (letterpress.audience.links)."""
    token = signer.dumps("confirm", subscriber_id, list_id, link_key)
    return f"{project.settings.base_url}/confirm/{token}"


def reminder_sender(project: Project, transport_factory: Callable[[Publication], Any] | None = None
                    ) -> Callable[[PendingSubscription], None]:
    """A callable mailing one reminder through the publication's transport (raises on failure)."""
    settings = project.settings
    signer = TokenSigner(settings.secret_keys)
    if transport_factory is None:
        from ..transports import transport_for

        def transport_factory(pub: Publication):
            return transport_for(settings, pub)

    def remind(pending: PendingSubscription) -> None:
        pub = settings.publication(pending.publication)
        url = confirm_url(project, signer, pending.subscriber_id, pending.list_id,
                          pending.link_key)
        data = page_mail(pub, settings, pending.email, subject_key="mail_reminder_subject",
                         text_key="mail_reminder_text", url=url,
                         button_key="mail_confirm_button")
        transport = transport_factory(pub)
        try:
            transport.send(pub.sender_email, [pending.email], data)
        finally:
            close = getattr(transport, "close", None)
            if close is not None:
                close()

    return remind


def sweep_pending_subscriptions(project: Project, *, transport_factory=None,
                                dry_run: bool = False) -> SweepReport:
    """Send the due double opt-in reminders and remove the expired pending subscriptions."""
    return sweep_pending(project.session, project.settings, clock=project.clock,
                         remind=reminder_sender(project, transport_factory), dry_run=dry_run)
