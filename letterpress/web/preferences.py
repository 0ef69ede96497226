"""The preferences page linked from every issue: lists, name and attributes, leave everything.

The token proves the reader holds the mailbox (it came in a mail sent there), so ticking a
list activates it at once, recorded as a new consent given on this page.
"""

from __future__ import annotations

import contextlib

from flask import Blueprint, request
from sqlalchemy import select

from ..audience import Consent, subscribe, unsubscribe, update_profile
from ..audience.models import MailingList, Subscription
from ..errors import AudienceError
from .app import check_csrf, client_ip, render_page, web, write_session
from .i18n import gettext
from .readers import load_target, mask_email, resolve_token, verify_token

__all__ = ["blueprint"]

blueprint = Blueprint("preferences", __name__)


def _statuses(session, subscriber_id: int, list_names) -> dict[str, str]:
    rows = session.execute(
        select(MailingList.name, Subscription.status)
        .join(Subscription, Subscription.list_id == MailingList.id)
        .where(Subscription.subscriber_id == subscriber_id, MailingList.name.in_(list_names)))
    return dict(rows.all())


def _page(target, session, token: str, *, message_key: str | None = None):
    pub = target.publication
    statuses = _statuses(session, target.subscriber.id, pub.lists)
    return render_page("preferences.html", pub, token=token,
                       masked=mask_email(target.subscriber.email),
                       lists=[(name, statuses.get(name) == "active") for name in pub.lists],
                       name=target.subscriber.name or "",
                       attributes=dict(target.subscriber.attributes or {}),
                       message_key=message_key)


@blueprint.get("/p/<token>")
def preferences_page(token: str):
    """The reader's lists and details."""
    ctx = web()
    with ctx.project.read_session() as session:
        target = resolve_token(session, ctx.signer, ctx.settings, "preferences", token)
        return _page(target, session, token)


@blueprint.post("/p/<token>")
def preferences_post(token: str):
    """Save lists and details, or unsubscribe from every list of the publication."""
    check_csrf("preferences")
    ctx = web()
    clock = ctx.project.clock
    form = request.form
    data = verify_token(ctx.project, ctx.signer, "preferences", token)
    with write_session() as session:
        target = load_target(session, ctx.settings, data)
        pub = target.publication
        statuses = _statuses(session, target.subscriber.id, pub.lists)
        subs = {s.mailing_list.name: s for s in target.subscriber.subscriptions}
        if form.get("action") == "unsubscribe_all":
            for name in pub.lists:
                if statuses.get(name) in ("active", "pending"):
                    _leave(session, subs[name].id, clock)
            session.flush()
            session.expire_all()
            target = load_target(session, ctx.settings, data)
            return _page(target, session, token, message_key="prefs_unsub_all_done")

        wanted = set(form.getlist("lists")) & set(pub.lists)
        attributes = {key: form.get(f"attr_{key}", "").strip()[:200]
                      for key, _label in pub.subscribe.attributes}
        subscriber = update_profile(session, target.subscriber.id, clock=clock,
                                    name=form.get("name", "").strip()[:200],
                                    attributes=attributes)
        consent = Consent(source="form", text=gettext(pub.language, "prefs_consent"),
                          ip=client_ip(), form_id=f"{pub.slug}/preferences")
        for name in pub.lists:
            active = statuses.get(name) == "active"
            if name in wanted and not active:
                subscribe(session, subscriber.email, list_name=name, consent=consent, clock=clock,
                          status="active", resubscribe=True)
            elif name not in wanted and statuses.get(name) in ("active", "pending"):
                _leave(session, subs[name].id, clock)
        session.flush()
        session.expire_all()
        target = load_target(session, ctx.settings, data)
        return _page(target, session, token, message_key="prefs_saved")


def _leave(session, subscription_id: int, clock) -> None:
    # A bounced or complained subscription already receives nothing: leave it as it is.
    with contextlib.suppress(AudienceError):
        unsubscribe(session, subscription_id, channel="preferences", clock=clock)
