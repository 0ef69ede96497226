"""Unsubscribe pages: RFC 8058 one-click POST, the page a reader opens, and resubscribing.

``POST /u/<token>`` with ``List-Unsubscribe=One-Click`` is what Gmail's and Yahoo's button
sends: no cookie, no CSRF token, no redirect — unsubscribe and answer 200.  ``GET /u/<token>``
never changes anything (mail scanners open every link); its button posts the same URL with a
CSRF token.  The confirmation page offers an optional reason and a time-limited resubscribe.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from flask import Blueprint, request
from sqlalchemy.orm import Session

from ..audience import Consent, SubscriptionEvent, subscribe, unsubscribe
from ..audience.tokens import TokenData
from ..audience.unsubscribing import links_named, unsubscribe_links, unsubscribe_links_at_once
from ..errors import AudienceError, TokenError, TokenExpired
from ..settings import Publication
from .app import WebContext, check_csrf, client_ip, render_page, web, write_session
from .readers import (
    load_target,
    mask_email,
    resolve_token,
    signed_token,
    verify_token,
)

__all__ = ["REASONS", "RESUBSCRIBE_MAX_AGE", "apply_one_clicks", "blueprint",
           "screen_one_clicks"]

blueprint = Blueprint("unsubscribe", __name__)

# A resubscribe offer is only good for a week: unlike the unsubscribe link, which must work
# forever, an old page left in a browser history must not be able to put someone back.
RESUBSCRIBE_MAX_AGE = 7 * 24 * 3600
# A closed set of reasons: useful to editors, and no free text that could hold personal data.
REASONS = ("too_many", "not_relevant", "never_asked", "other")


def _is_one_click() -> bool:
    if request.form.get("List-Unsubscribe", "").strip() == "One-Click":
        return True
    # Some senders of the one-click POST omit the Content-Type; the body says it all.
    return not request.form and request.get_data(cache=True)[:64].strip() == (
        b"List-Unsubscribe=One-Click")


def _unsubscribe(token: str, channel: str):
    ctx = web()
    data = verify_token(ctx.project, ctx.signer, "unsubscribe", token)
    with write_session() as session:
        target = load_target(session, ctx.settings, data)
        # A bounced address already receives nothing, which is what was asked: no error.
        with contextlib.suppress(AudienceError):
            unsubscribe(session, target.subscription.id, channel=channel,
                        clock=ctx.project.clock)
        return target, target.subscriber.email


def _one_click(token: str) -> Publication:
    """Unsubscribe the reader ``token`` names, once the writer's commit holds it
    (letterpress.web.writes.GroupCommit).

    The request thread checks only the signature: the writer reads every binding of its
    batch in one statement anyway (and on SQLite screens the batch before the write lock,
    :func:`screen_one_clicks`); a read per request beforehand cost a quarter of the
    one-clicks per second.  A forged token does the same work as an erased one (signature
    check, one lookup among the others) and gets the same 404.
    """
    ctx = web()
    return ctx.one_clicks.submit(signed_token(ctx.signer, "unsubscribe", token))


def screen_one_clicks(ctx: WebContext, tokens: Sequence[TokenData | None]
                      ) -> list[TokenError | None]:
    """(SQLite) The writer's batch read without the write lock: a :class:`TokenError` for
    each token that names nobody (forged, erased, re-keyed), answered at once, so such
    tokens never wait for a send run's writes; None for the others, which
    :func:`apply_one_clicks` checks again under the lock."""
    with ctx.project.lookup_engine.connect() as conn:
        named = links_named(conn, tokens, publications=ctx.settings.publications.keys())
    return [None if ok else TokenError() for ok in named]


def apply_one_clicks(ctx: WebContext, session: Session, tokens: Sequence[TokenData | None],
                     ) -> list[Publication | TokenError]:
    """Unsubscribe the reader of each signed token in ``session``: the writer's batch.

    For each token, its publication (for the answer page), or the :class:`TokenError` of a
    token that names nobody now — forged (``None``), erased, or changed since it was
    verified (nothing written for it).  A ``session`` in autocommit mode (the PostgreSQL
    writer's, letterpress.web.app) writes the group in two statements that commit
    themselves, or in a transaction of its own when a row changed between them.
    """
    pubs = ctx.settings.publications
    if session.get_bind().get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        named = unsubscribe_links_at_once(session.connection(), tokens,
                                          publications=pubs.keys(), channel="one-click",
                                          clock=ctx.project.clock)
        if named is not None:
            return [pubs[slug] if slug is not None else TokenError() for slug in named]
        with ctx.project.session() as transaction:
            return _apply_in_transaction(ctx, transaction, tokens)
    return _apply_in_transaction(ctx, session, tokens)


def _apply_in_transaction(ctx: WebContext, session: Session,
                          tokens: Sequence[TokenData | None]) -> list[Publication | TokenError]:
    pubs = ctx.settings.publications
    try:
        named = unsubscribe_links(session, tokens, publications=pubs.keys(),
                                  channel="one-click", clock=ctx.project.clock)
    except AudienceError:
        if len(tokens) > 1:
            raise  # the writer tries each alone: the others must not share this one's fate
        # As the page does (_unsubscribe): a subscription the audience cannot stop is no
        # error for the reader, who asked to receive nothing and receives nothing.
        if tokens[0] is None:
            return [TokenError()]
        try:
            return [load_target(session, ctx.settings, tokens[0]).publication]
        except TokenError as exc:
            return [exc]
    return [pubs[slug] if slug is not None else TokenError() for slug in named]


@blueprint.get("/u/<token>")
def unsubscribe_page(token: str):
    """Show whose address and which letter this is, with a button that POSTs."""
    ctx = web()
    with ctx.project.read_session() as session:
        target = resolve_token(session, ctx.signer, ctx.settings, "unsubscribe", token)
        already = target.subscription.status == "unsubscribed"
        return render_page("unsubscribe.html", target.publication, token=token,
                           masked=mask_email(target.subscriber.email),
                           list_name=target.mailing_list.name, already=already,
                           resub_token=_resub_token(target) if already else None,
                           reasons=REASONS)


@blueprint.post("/u/<token>")
def unsubscribe_post(token: str):
    """One-click (RFC 8058) or the page's button: unsubscribe now."""
    if _is_one_click():
        return render_page("one_click.html", _one_click(token))
    check_csrf("unsubscribe")
    target, email = _unsubscribe(token, "page")
    resub = _resub_token(target)
    return render_page("unsubscribed.html", target.publication, token=token,
                       masked=mask_email(email), resub_token=resub, reasons=REASONS)


@blueprint.post("/u/<token>/reason")
def unsubscribe_reason(token: str):
    """Record the optional reason given after unsubscribing."""
    check_csrf("unsubscribe-reason")
    reason = request.form.get("reason", "")
    if reason not in REASONS:
        reason = ""
    ctx = web()
    data = verify_token(ctx.project, ctx.signer, "unsubscribe", token)
    with write_session() as session:
        target = load_target(session, ctx.settings, data)
        if reason and target.subscription.status == "unsubscribed":
            _record_reason(target.subscription, reason, ctx.project.clock.now())
        return render_page("unsubscribed.html", target.publication, token=token,
                           masked=mask_email(target.subscriber.email),
                           resub_token=_resub_token(target), reasons=REASONS,
                           reason_thanks=True)


def _resubscribe_expired():
    pub = web().publication()
    return render_page("message.html", pub, status=410, title_key="resub_title",
                       text_key="resub_expired", link=f"/{pub.slug}/subscribe",
                       link_key="confirm_expired_link")


@blueprint.get("/resubscribe/<resub_token>")
def resubscribe_page(resub_token: str):
    """The link of a resubscribe mail: a button, since opening a link must change nothing."""
    ctx = web()
    with ctx.project.read_session() as session:
        try:
            target = resolve_token(session, ctx.signer, ctx.settings, "resubscribe", resub_token,
                                   max_age=RESUBSCRIBE_MAX_AGE)
        except TokenExpired:
            return _resubscribe_expired()
        return render_page("resubscribe.html", target.publication, resub_token=resub_token,
                           masked=mask_email(target.subscriber.email),
                           active=target.subscription.status == "active")


@blueprint.post("/resubscribe/<resub_token>")
def resubscribe(resub_token: str):
    """Put the reader back on the list: a new consent, recorded as such."""
    check_csrf("resubscribe")
    ctx = web()
    try:
        data = verify_token(ctx.project, ctx.signer, "resubscribe", resub_token,
                            max_age=RESUBSCRIBE_MAX_AGE)
    except TokenExpired:
        return _resubscribe_expired()
    with write_session() as session:
        target = load_target(session, ctx.settings, data)
        pub = target.publication
        consent = Consent(source="form", text=_resub_consent(pub), ip=client_ip(),
                          form_id="unsubscribe-page")
        subscribe(session, target.subscriber.email, list_name=target.mailing_list.name,
                  consent=consent, clock=ctx.project.clock, status="active", resubscribe=True)
        return render_page("message.html", pub, title_key="resub_done_title",
                           text_key="resub_done_text",
                           text_values={"email": mask_email(target.subscriber.email)})


def _resub_token(target) -> str:
    return web().signer.dumps("resubscribe", target.token.subscriber_id, target.token.list_id,
                              target.subscriber.link_key)


def _record_reason(subscription, reason: str, now) -> None:
    # The status does not change, so this is a plain entry in the append-only event log.
    subscription.events.append(SubscriptionEvent(
        at=now, old_status="unsubscribed", new_status="unsubscribed", actor="reader",
        channel="page", detail=f"reason: {reason}", data={"reason": reason}))


def _resub_consent(pub) -> str:
    from .i18n import gettext

    return gettext(pub.language, "resub_consent")
