"""Double opt-in: the subscription form, the confirmation mail, and the confirm page.

The form answers the same page whether the address is new, pending, already active or
suppressed, so it cannot be used to learn who is subscribed.  Bots meet a honeypot field,
a CSRF token and per-IP / per-address rate limits.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, request

from ..audience import Consent, confirm, find_subscriber, sendable_email, subscribe
from ..errors import InvalidEmail, Suppressed, TokenExpired
from .antiabuse import ProofOfWork, is_disposable
from .app import check_csrf, client_ip, render_page, web, write_session
from .i18n import gettext
from .mailing import page_mail
from .readers import load_target, mask_email, resolve_token, verify_token
from .security import CSP, Limit

__all__ = ["CONFIRM_MAX_AGE", "HONEYPOT_FIELD", "LIMIT_PER_ADDRESS", "LIMIT_PER_IP", "blueprint"]

blueprint = Blueprint("subscribe", __name__)

CONFIRM_MAX_AGE_DAYS = 7
CONFIRM_MAX_AGE = CONFIRM_MAX_AGE_DAYS * 24 * 3600
HONEYPOT_FIELD = "website"
LIMIT_PER_IP = Limit(count=10, seconds=3600)
# Stops the form being used to flood one mailbox with confirmation mails.
LIMIT_PER_ADDRESS = Limit(count=3, seconds=3600)


def _publication_or_404(slug: str):
    pub = web().settings.publications.get(slug)
    if pub is None:
        from werkzeug.exceptions import NotFound

        raise NotFound()
    return pub


# The form page alone runs our proof-of-work script (served from our own origin).
FORM_CSP = CSP.replace("script-src 'none'", "script-src 'self'")
SHOWN_FIELD = "shown"
SOLUTION_FIELD = "altcha"


def _proof_of_work() -> ProofOfWork:
    extensions = current_app.extensions
    if "letterpress.pow" not in extensions:
        extensions["letterpress.pow"] = ProofOfWork(web().settings.secret_keys,
                                                    clock=web().project.clock)
    return extensions["letterpress.pow"]


def _form_page(pub, *, status=200, values=None, errors=None, shown=None, wait=None):
    challenge = None
    if pub.subscribe.proof_of_work:
        challenge = _proof_of_work().issue(pub.subscribe.proof_of_work_max, shown)
        g.csp = FORM_CSP
    return render_page("subscribe.html", pub, status=status, values=values or {},
                       errors=errors or {}, honeypot=HONEYPOT_FIELD, challenge=challenge,
                       wait=wait, consent_text=pub.subscribe.consent_text
                       or gettext(pub.language, "sub_consent_default"))


def _too_soon(pub, form) -> int | None:
    """Seconds still to wait when the post carries no valid proof of work (None: go on)."""
    if not pub.subscribe.proof_of_work:
        return None
    checker = _proof_of_work()
    if checker.verify(form.get(SOLUTION_FIELD, "")):
        return None
    age = checker.shown_age(form.get(SHOWN_FIELD, ""))
    if age is not None and age >= pub.subscribe.nojs_wait_seconds:
        return None  # the slow path of readers without JavaScript
    return max(1, int(pub.subscribe.nojs_wait_seconds - (age or 0) + 0.999))


@blueprint.get("/subscribe")
def subscribe_default():
    """Without a publication: the first publication's form."""
    return redirect(f"/{web().publication().slug}/subscribe", code=302)


@blueprint.get("/<slug>/subscribe")
def subscribe_form(slug: str):
    """The subscription form, with the information notice and an unticked consent box."""
    return _form_page(_publication_or_404(slug))


@blueprint.post("/<slug>/subscribe")
def subscribe_post(slug: str):
    """Record a pending subscription and mail the confirmation link; same answer for all."""
    pub = _publication_or_404(slug)
    ctx = web()
    form = request.form
    raw_email = form.get("email", "").strip()[:320]
    sent_page = render_page("message.html", pub, title_key="sub_sent_title",
                            text_key="sub_sent_text", text_values={"email": raw_email})
    if form.get(HONEYPOT_FIELD):
        # A bot filled the invisible field: look exactly as if it worked, do nothing.
        return sent_page
    check_csrf(f"subscribe:{pub.slug}")
    ctx.limiter.hit(f"subscribe-ip:{client_ip()}", LIMIT_PER_IP)

    values = {"email": raw_email, "name": form.get("name", "").strip()[:200]}
    attributes = {}
    for key, _label in pub.subscribe.attributes:
        value = form.get(f"attr_{key}", "").strip()[:200]
        values[f"attr_{key}"] = value
        if value:
            attributes[key] = value
    errors = {}
    try:
        email = sendable_email(raw_email)  # never "mail sent" to an address we cannot serve
    except InvalidEmail:
        errors["email"] = "sub_err_email"
    else:
        if pub.subscribe.refuse_disposable and is_disposable(email):
            errors["email"] = "sub_err_disposable"
    if form.get("consent") != "yes":
        errors["consent"] = "sub_err_consent"
    if errors:
        return _form_page(pub, status=400, values=values, errors=errors,
                          shown=form.get(SHOWN_FIELD))
    wait = _too_soon(pub, form)
    if wait is not None:
        return _form_page(pub, values={**values, "consent": "yes"},
                          shown=form.get(SHOWN_FIELD), wait=wait)

    ctx.limiter.hit(f"subscribe-address:{email.lower()}", LIMIT_PER_ADDRESS)
    consent = Consent(source="form", text=pub.subscribe.consent_text
                      or gettext(pub.language, "sub_consent_default"),
                      ip=client_ip(), form_id=f"{pub.slug}/subscribe")
    with write_session() as session:
        try:
            subscription = subscribe(session, email, list_name=pub.default_list, consent=consent,
                                     clock=ctx.project.clock, name=values["name"] or None,
                                     attributes=attributes or None, status="pending")
            kind = subscription.status
            ids = (subscription.subscriber_id, subscription.list_id,
                   subscription.subscriber.link_key)
        except Suppressed:
            # They left (or bounced) before.  Nothing changes until the mailbox owner says so:
            # mail them a resubscribe link (a stranger typing their address changes nothing).
            kind, ids = "stopped", _stopped_subscription(session, email, pub.default_list)
    if kind == "pending":
        token = ctx.signer.dumps("confirm", *ids)
        _send(pub, email, "mail_confirm_subject", "mail_confirm_text",
              ctx.url(f"/confirm/{token}"), button_key="mail_confirm_button")
    elif kind == "active":
        token = ctx.signer.dumps("preferences", *ids)
        _send(pub, email, "mail_active_subject", "mail_active_text", ctx.url(f"/p/{token}"))
    elif ids is not None:
        token = ctx.signer.dumps("resubscribe", *ids)
        _send(pub, email, "mail_resub_subject", "mail_resub_text",
              ctx.url(f"/resubscribe/{token}"), button_key="resub_button")
    # An erased address (only its hash is left) gets nothing: there is no one to write to
    # without recording them again, which only their own new subscription may do.
    return sent_page


def _stopped_subscription(session, email: str, list_name: str) -> tuple[int, int, str] | None:
    subscriber = find_subscriber(session, email)
    if subscriber is None:
        return None
    for sub in subscriber.subscriptions:
        if sub.mailing_list.name == list_name:
            return sub.subscriber_id, sub.list_id, subscriber.link_key
    return None


def _send(pub, email: str, subject_key: str, text_key: str, url: str, *,
          button_key: str | None = None) -> None:
    """Queue a mail to ``email``; the answer does not wait for it (see mailing.py)."""
    ctx = web()
    settings = ctx.settings
    ctx.mails.submit(pub, email, lambda: page_mail(
        pub, settings, email, subject_key=subject_key, text_key=text_key, url=url,
        button_key=button_key))


@blueprint.get("/confirm/<token>")
def confirm_page(token: str):
    """Show a button; opening the link alone (a mail scanner) confirms nothing."""
    ctx = web()
    with ctx.project.read_session() as session:
        try:
            target = resolve_token(session, ctx.signer, ctx.settings, "confirm", token,
                                   max_age=CONFIRM_MAX_AGE)
        except TokenExpired:
            return _expired()
        pending = target.subscription.status == "pending"
        return render_page("confirm.html", target.publication, token=token, pending=pending,
                           masked=mask_email(target.subscriber.email))


@blueprint.post("/confirm/<token>")
def confirm_post(token: str):
    """Activate the pending subscription."""
    check_csrf("confirm")
    ctx = web()
    try:
        data = verify_token(ctx.project, ctx.signer, "confirm", token, max_age=CONFIRM_MAX_AGE)
    except TokenExpired:
        return _expired()
    with write_session() as session:
        target = load_target(session, ctx.settings, data)
        if target.subscription.status == "pending":
            confirm(session, target.subscription.id, clock=ctx.project.clock, ip=client_ip())
        elif target.subscription.status != "active":
            return render_page("confirm.html", target.publication, token=token, pending=False,
                               masked=mask_email(target.subscriber.email))
        return render_page("message.html", target.publication, title_key="confirm_done_title",
                           text_key="confirm_done_text",
                           text_values={"email": mask_email(target.subscriber.email)},
                           link=f"/{target.publication.slug}/", link_key="footer_archive")


def _expired():
    # An expired token is still signed by us, but its payload is not trusted for anything:
    # send the reader to the form of the first publication (or the only one).
    pub = web().publication()
    return render_page("message.html", pub, status=410, title_key="confirm_expired_title",
                       text_key="confirm_expired_text",
                       text_values={"days": CONFIRM_MAX_AGE_DAYS},
                       link=f"/{pub.slug}/subscribe", link_key="confirm_expired_link")
