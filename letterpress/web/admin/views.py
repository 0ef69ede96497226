"""The dashboard's pages.  Every route but the login form needs a logged-in account; editors
read, admins may also unsubscribe and erase; every action lands in the audit log."""

from __future__ import annotations

import json
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import func, select

from ...admin import audit, authenticate, recent_audit
from ...audience import count_by_status
from ...audience.emails import email_key, normalise_email
from ...audience.gdpr import export_person
from ...audience.models import Subscriber, Subscription
from ...audience.unsubscribing import unsubscribe
from ...delivery import list_runs
from ...delivery.models import Delivery, SendRun
from ...personal_data import access_sections, erase_person
from ...report import report_for
from ...report.charts import growth_charts
from ...report.html import chart_figure, report_body, report_charts
from ...report.series import list_growth
from ..app import check_csrf, client_ip, csrf_field, web, write_session
from ..security import Limit
from .auth import SESSION_COOKIE, SESSION_HOURS, AdminUser, SessionSigner, current_user
from .strings import admin_translator

__all__ = ["blueprint"]

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/static")

PUBLIC = {"admin.login", "admin.static"}
LOGIN_PER_ADDRESS = Limit(5, 300)  # five tries per five minutes from one address
LOGIN_PER_ACCOUNT = Limit(20, 3600)  # and twenty an hour on one user name, from anywhere
LIVE_STATES = ("pending", "sending")


def _signer() -> SessionSigner:
    return SessionSigner(web().settings.secret_keys)


def _language() -> str:
    return web().publication().language


def page(template: str, status: int = 200, **context):
    """Render an admin page in the project's language."""
    return render_template(f"admin/{template}", t=admin_translator(_language()),
                           lang=_language(), user=g.get("admin_user"),
                           csrf_field=csrf_field, **context), status


@blueprint.before_request
def _require_login():
    g.publication = web().publication()
    if request.endpoint in PUBLIC:
        return None
    with web().project.read_session() as session:
        user = current_user(session, _signer(), web().settings.admin_auth_header)
    if user is None:
        return redirect(url_for("admin.login", next=request.path))
    g.admin_user = user
    return None


def admin_only(view):
    """Refuse editors (403): unsubscribing and erasing are for admins."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user: AdminUser = g.admin_user
        if not user.is_admin:
            return page("message.html", 403, title=admin_translator(_language())("forbidden"),
                        text="")
        return view(*args, **kwargs)

    return wrapper


def _record(action: str, subject: str = "", detail: str = "", session=None) -> None:
    user = g.get("admin_user")
    actor = user.username if user else "-"

    def write(s):
        audit(s, actor=actor, action=action, subject=subject, detail=detail,
              clock=web().project.clock)

    if session is not None:
        write(session)
    else:
        with write_session() as s:
            write(s)


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/") \
            or parts.path.startswith("/admin/login"):
        return url_for("admin.dashboard")
    return parts.path


# --------------------------------------------------------------------------- login

@blueprint.route("/login", methods=["GET", "POST"])
def login():
    """The login form; five tries per five minutes from one address."""
    error = False
    if request.method == "POST":
        check_csrf("admin-login")
        ctx = web()
        username = request.form.get("username", "").strip()[:100]
        ctx.limiter.hit(f"admin-login:{client_ip()}", LOGIN_PER_ADDRESS)
        ctx.limiter.hit(f"admin-login-user:{username.lower()}", LOGIN_PER_ACCOUNT)
        with write_session() as session:
            account = authenticate(session, username, request.form.get("password", ""))
            if account is not None:
                cookie = _signer().dumps(account)
                audit(session, actor=account.username, action="login", detail=client_ip(),
                      clock=ctx.project.clock)
            else:
                audit(session, actor=username or "-", action="login-failed",
                      detail=client_ip(), clock=ctx.project.clock)
        if account is not None:
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_HOURS * 3600,
                                secure=True, httponly=True, samesite="Strict", path="/admin")
            return response
        error = True
    body, status = page("login.html", 401 if error else 200, error=error)
    return body, status


@blueprint.post("/logout")
def logout():
    check_csrf("admin-logout")
    _record("logout")
    response = redirect(url_for("admin.login"))
    response.delete_cookie(SESSION_COOKIE, path="/admin", secure=True, httponly=True,
                           samesite="Strict")
    return response


# --------------------------------------------------------------------------- runs

def _run_rows(session, limit: int = 30):
    runs = list_runs(session, limit=limit)
    ids = [r.id for r in runs]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for run_id, state, n in session.execute(
                select(Delivery.run_id, Delivery.state, func.count())
                .where(Delivery.run_id.in_(ids)).group_by(Delivery.run_id, Delivery.state)):
            counts[run_id][state] = n
    rows = []
    for r in runs:
        c = counts[r.id]
        settled = sum(c.get(s, 0) for s in ("sent", "failed", "skipped", "uncertain"))
        rows.append({"run": r, "sent": c.get("sent", 0), "failed": c.get("failed", 0),
                     "deferred": c.get("deferred", 0), "settled": settled,
                     "total": r.total or sum(c.values())})
    return rows


@blueprint.get("/")
def dashboard():
    """The runs, newest first, with their progress; the latest admin actions."""
    with web().project.read_session() as session:
        rows = _run_rows(session)
        entries = recent_audit(session, 15)
        live = any(row["run"].state in LIVE_STATES for row in rows)
        return page("dashboard.html", rows=rows, entries=entries, live=live)


@blueprint.get("/runs/<int:run_id>")
def run_report(run_id: int):
    """A run's report with its charts; refreshes itself while the run is sending."""
    project = web().project
    with project.read_session() as session:
        if session.get(SendRun, run_id) is None:
            abort(404)
    figures = report_for(project, run_id)
    with project.read_session() as session:
        charts = report_charts(session, figures, now=project.clock.now())
    body = report_body(figures, charts, inline=False)
    return page("run.html", figures=figures, body=body, live=figures.state in LIVE_STATES)


# --------------------------------------------------------------------------- schedule

@blueprint.get("/schedule")
def schedule():
    """Next sends (scheduled and by rule) and missed occurrences."""
    from ...schedule.lifecycle import OccurrenceOutcome, ScheduleState
    from ...schedule.models import ScheduledSend, ScheduleOccurrence
    from ...schedule.service import upcoming

    project = web().project
    coming = upcoming(project)
    with project.read_session() as session:
        missed_sends = session.scalars(select(ScheduledSend).where(
            ScheduledSend.state == ScheduleState.MISSED).order_by(ScheduledSend.planned_at.desc())
            .limit(20)).all()
        missed_rules = session.scalars(select(ScheduleOccurrence).where(
            ScheduleOccurrence.outcome == OccurrenceOutcome.MISSED)
            .order_by(ScheduleOccurrence.planned_at.desc()).limit(20)).all()
        return page("schedule.html", coming=coming, missed_sends=missed_sends,
                    missed_rules=missed_rules)


# --------------------------------------------------------------------------- lists

@blueprint.get("/lists")
def lists():
    """Every list with its counts per status and its growth over a year."""
    project = web().project
    with project.read_session() as session:
        counts = count_by_status(session)
        charts = {name: growth_charts(list_growth(session, name, now=project.clock.now()))
                  for name in counts}
    figures = {name: Markup("").join(chart_figure(c, inline=False) for c in cs)
               for name, cs in charts.items()}
    owners = {n: p.slug for p in project.settings.publications.values() for n in p.lists}
    return page("lists.html", counts=counts, figures=figures, owners=owners)


# --------------------------------------------------------------------------- subscribers

@blueprint.get("/subscribers")
def subscribers():
    """Search by address (part of it is enough)."""
    q = request.args.get("q", "").strip()[:200]
    if not q:
        return page("subscribers.html", q=q, found=[])
    _record("search", detail=q)
    pattern = "%" + q.lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
    with web().project.read_session() as session:
        found = session.scalars(select(Subscriber).where(
            Subscriber.email_key.like(pattern, escape="\\")).order_by(Subscriber.email_key)
            .limit(50)).all()
        return page("subscribers.html", q=q, found=found)


def _subscriber_or_404(session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


@blueprint.get("/subscribers/<int:subscriber_id>")
def subscriber(subscriber_id: int):
    """What ``letterpress subscribers show`` shows, with the GDPR actions."""
    with web().project.read_session() as session:
        person = _subscriber_or_404(session, subscriber_id)
        _record("view-subscriber", subject=person.email)
        subs = sorted(person.subscriptions, key=lambda s: s.id)
        return page("subscriber.html", person=person, subs=subs, done=request.args.get("done"))


@blueprint.post("/subscribers/<int:subscriber_id>/export")
def export(subscriber_id: int):
    """GDPR right of access: everything held about the person, as a JSON download."""
    check_csrf("admin-export")
    with web().project.read_session() as session:
        email = _subscriber_or_404(session, subscriber_id).email
        data = export_person(session, email, sections=access_sections())
    _record("export-person", subject=email)
    return (json.dumps(data, ensure_ascii=False, indent=2), 200,
            {"Content-Type": "application/json; charset=utf-8",
             "Content-Disposition": f'attachment; filename="personne-{subscriber_id}.json"'})


@blueprint.post("/subscribers/<int:subscriber_id>/unsubscribe/<int:subscription_id>")
@admin_only
def unsubscribe_one(subscriber_id: int, subscription_id: int):
    """Unsubscribe the person from one list (recorded as done by an administrator)."""
    check_csrf("admin-unsubscribe")
    with write_session() as session:
        sub = session.get(Subscription, subscription_id)
        if sub is None or sub.subscriber_id != subscriber_id:
            abort(404)
        unsubscribe(session, sub.id, channel="admin", clock=web().project.clock,
                    actor=f"admin:{g.admin_user.username}")
        _record("unsubscribe", subject=sub.subscriber.email, detail=f"list {sub.mailing_list.name}",
                session=session)
    return redirect(url_for("admin.subscriber", subscriber_id=subscriber_id, done="unsubscribed"))


@blueprint.route("/subscribers/<int:subscriber_id>/forget", methods=["GET", "POST"])
@admin_only
def forget_person(subscriber_id: int):
    """GDPR erasure, behind a confirmation: the address must be typed again."""
    with web().project.read_session() as session:
        person = _subscriber_or_404(session, subscriber_id)
        email = person.email
        if request.method == "GET":
            return page("forget.html", person=person, mismatch=False)
        check_csrf("admin-forget")
        typed = request.form.get("confirm", "").strip()
        try:
            same = email_key(normalise_email(typed)) == email_key(normalise_email(email))
        except Exception:  # noqa: BLE001 - anything unparsable is simply not the same address
            same = False
        if not same:
            return page("forget.html", 400, person=person, mismatch=True)
    with write_session() as session:
        # Every copy (ledger, bounce records, audit log) and the erasure journal, as the
        # command line does: a backup restored later erases the person again.
        report = erase_person(session, email, clock=web().project.clock,
                              project_dir=web().settings.project_dir)
        _record("forget", subject=f"erased:{report.email_hash}",
                detail=f"{report.subscriptions} subscription(s), {report.events} event(s)",
                session=session)
    t = admin_translator(_language())
    return page("message.html", title=t("forget_title"),
                text=t("forget_done", hash=report.email_hash[:16]))


# --------------------------------------------------------------------------- audit

@blueprint.get("/audit")
def audit_log():
    """Every admin action, newest first."""
    with web().project.read_session() as session:
        return page("audit.html", entries=recent_audit(session, 500))
