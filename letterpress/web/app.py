"""The reader-facing web application: ``create_app(project)`` builds it.

Everything the pages need (project, token signer, CSRF protector, rate limiter, mail transport
factory, rendered-issue cache) hangs off one :class:`WebContext` stored on the app; there is no
module-level state, so several apps (several projects, or tests) live side by side.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from ..audience import ensure_lists
from ..audience.tokens import TokenSigner
from ..errors import LetterpressError, TokenError
from ..project import Project
from ..settings import Publication
from .i18n import translator
from .issues import IssueCache
from .mailing import MailQueue
from .security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRFError,
    CsrfProtector,
    RateLimited,
    RateLimiter,
    security_headers,
)
from .writes import FairLock, GroupCommit, WalCheckpointer

__all__ = ["ONE_CLICK_WRITERS_POSTGRESQL", "WebContext", "create_app", "redact", "render_page", "web", "write_session"]

log = logging.getLogger("letterpress.web")

TransportFactory = Callable[[Publication], Any]


@dataclass
class WebContext:
    """What every view needs, built once per app."""

    project: Project
    signer: TokenSigner
    csrf: CsrfProtector
    limiter: RateLimiter
    issues: IssueCache
    transport_factory: TransportFactory
    mails: MailQueue
    # SQLite has one writer at a time; queueing this process's writers on a mutex hands the
    # lock over at once, where SQLite's busy handler would make them poll and sleep.  In
    # arrival order (FairLock), so no request waits behind many that came after it.
    write_lock: FairLock = field(default_factory=FairLock)
    checkpointer: WalCheckpointer | None = None  # SQLite only
    # The writer of one-click unsubscribes: many requests, one transaction (see writes.py).
    one_clicks: GroupCommit | None = None

    @property
    def settings(self):
        return self.project.settings

    def publication(self, slug: str | None = None) -> Publication:
        """The publication ``slug``, or the first one; unknown slugs fall back to the first."""
        pubs = self.settings.publications
        if slug and slug in pubs:
            return pubs[slug]
        return next(iter(pubs.values()))

    def url(self, path: str) -> str:
        """An absolute URL under the configured base URL."""
        return self.settings.base_url + path


def web() -> WebContext:
    """The :class:`WebContext` of the current app."""
    return current_app.extensions["letterpress"]


def _default_transport_factory(project: Project) -> TransportFactory:
    def factory(publication: Publication):
        from ..transports import transport_for

        return transport_for(project.settings, publication)

    return factory


@contextmanager
def write_session() -> Iterator[Session]:
    """A session for a request that will write, holding SQLite's write lock from the start.

    SQLite (WAL) cannot upgrade a read transaction to a write once another connection has
    committed since it began — it fails at once with "database is locked", whatever the busy
    timeout.  A send run commits all the time, so an unsubscribe that read first would fail
    under load.  Taking the write lock with a statement that changes nothing makes the busy
    timeout apply instead: the request waits its turn.  PostgreSQL needs none of this.
    """
    ctx = web()
    if ctx.project.engine.dialect.name != "sqlite":
        with ctx.project.session() as session:
            yield session
        return
    with ctx.write_lock, ctx.project.session() as session:
        # The engine starts SQLite transactions with BEGIN IMMEDIATE (letterpress.db): opening
        # the connection takes the write lock, no statement needed.
        session.connection()
        yield session
    if ctx.checkpointer is not None:
        ctx.checkpointer.wrote()  # after the lock: nobody waits for the fsync


# PostgreSQL writes different rows at once: while one group waits for its round trips and its
# WAL flush, the next is written.  Two writers: with request threads that no longer read before
# submitting, more writers only make smaller groups, each paying for its own transaction
# (bench_web, idle: 1 → 420, 2 → 446, 4 → 360, 8 → 308 one-clicks/s).  SQLite has one writer
# at a time.
ONE_CLICK_WRITERS_POSTGRESQL = 2


def _one_click_writer(ctx: WebContext, apply, screen) -> GroupCommit:
    """The group-commit writer of one-click unsubscribes; on SQLite it queues with the other
    writers of the process (``write_lock``), after ``screen`` answered the links that name
    nobody without it, and counts its writes for the checkpointer."""
    sqlite = ctx.project.engine.dialect.name == "sqlite"
    after = None
    if ctx.checkpointer is not None:
        checkpointer = ctx.checkpointer

        def after(count: int) -> None:
            checkpointer.wrote(count, wait=False)  # the writer goes on with the next batch

    # PostgreSQL: the group's statements commit themselves (no BEGIN, no COMMIT round trip);
    # apply_one_clicks says when it needs a transaction after all.
    sessions = (ctx.project.sessionmaker if sqlite else sessionmaker(
        ctx.project.engine.execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False))
    return GroupCommit(sessions, lambda session, items: apply(ctx, session, items),
                       lock=ctx.write_lock if sqlite else None, after_commit=after,
                       writers=1 if sqlite else ONE_CLICK_WRITERS_POSTGRESQL,
                       name="letterpress-one-click",
                       screen=(lambda items: screen(ctx, items)) if sqlite else None)


def csrf_field(form: str) -> Markup:
    """The hidden CSRF input for ``form``; sets the cookie on this response if needed."""
    ctx = web()
    value = request.cookies.get(CSRF_COOKIE) or g.get("new_csrf_cookie")
    if not value:
        value = g.new_csrf_cookie = ctx.csrf.new_cookie_value()
    token = ctx.csrf.token_for(value, form)
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def check_csrf(form: str) -> None:
    """Refuse the POST unless it carries the CSRF token of ``form`` matching the cookie."""
    web().csrf.check(request.cookies.get(CSRF_COOKIE), request.form.get(CSRF_FIELD), form)


def client_ip() -> str:
    """The client address (``letterpress serve`` trusts X-Forwarded-For only from loopback)."""
    return request.remote_addr or "unknown"


def render_page(template: str, publication: Publication | None = None, *, status: int = 200,
                **context: Any):
    """Render ``template`` in the publication's language and theme."""
    pub = publication or web().publication()
    g.publication = pub
    return render_template(template, pub=pub, lang=pub.language, _=translator(pub.language),
                           **context), status


def _error_page(status: int, title_key: str, text_key: str, publication=None):
    return render_page("error.html", publication, status=status, title_key=title_key,
                       text_key=text_key)


_THEME_VARIABLES = (("primary", "primary_color"), ("accent", "accent_color"),
                    ("text", "text_color"), ("muted", "muted_color"),
                    ("background", "background_color"), ("surface", "content_background"),
                    ("font", "font_family"), ("heading-font", "heading_font_family"))


_UNSAFE_CSS = re.compile(r"[;{}<>\\]")


def theme_css(theme) -> str:
    """The publication's colours and fonts as CSS custom properties for letterpress.css."""
    # Theme values come from letterpress.toml; still, a stray ";" or "}" must not let one
    # value spill into other CSS rules.
    lines = [f"  --{name}: {_UNSAFE_CSS.sub('', str(getattr(theme, attr)))};"
             for name, attr in _THEME_VARIABLES]
    return ":root {\n" + "\n".join(lines) + "\n}\n"


_TOKEN_PATH = re.compile(r"^/(u|p|confirm|resubscribe)/[^/]+")


def redact(path: str) -> str:
    """``/u/<token>/reason`` → ``/u/…/reason``: tokens are credentials, never logged."""
    return _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/…", path)


class LetterpressFlask(Flask):
    """Flask whose exception log names the route without the reader's token."""

    def log_exception(self, exc_info) -> None:
        self.logger.error("Exception on %s [%s]", redact(request.path), request.method,
                          exc_info=exc_info)


def create_app(project: Project, *, transport_factory: TransportFactory | None = None) -> Flask:
    """The Flask app serving ``project``'s pages; mail goes through ``transport_factory(pub)``."""
    app = LetterpressFlask(__name__)
    app.config.update(
        # Forms are tiny; the same limit as the server's (letterpress.web.server).
        MAX_CONTENT_LENGTH=project.settings.max_request_body,
        TEMPLATES_AUTO_RELOAD=False,
        JSON_AS_ASCII=False,
    )
    settings = project.settings
    factory = transport_factory or _default_transport_factory(project)
    ctx = WebContext(
        project=project,
        signer=TokenSigner(settings.secret_keys),
        csrf=CsrfProtector(settings.secret_keys),
        limiter=RateLimiter(project.clock),
        issues=IssueCache(settings),
        transport_factory=factory,
        mails=MailQueue(factory),
    )
    if project.engine.dialect.name == "sqlite":
        ctx.checkpointer = WalCheckpointer(project.engine)
    app.extensions["letterpress"] = ctx
    with project.session() as session:
        # The forms subscribe to lists by name: make sure every configured list exists.
        ensure_lists(session, settings)
    app.jinja_env.autoescape = True
    app.jinja_env.globals.update(csrf_field=csrf_field, base_url=settings.base_url)

    from . import archive, clicks, preferences, subscribe, unsubscribe, webhooks
    from .admin import views as admin

    for module in (unsubscribe, subscribe, preferences, archive, webhooks, clicks, admin):
        app.register_blueprint(module.blueprint)
    ctx.one_clicks = _one_click_writer(ctx, unsubscribe.apply_one_clicks,
                                        unsubscribe.screen_one_clicks)

    @app.get("/healthz")
    def healthz():
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8",
                             "Cache-Control": "no-store"}

    @app.after_request
    def _headers(response):
        csp = getattr(g, "csp", None)
        for name, value in security_headers(**({"csp": csp} if csp else {})).items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        cookie = g.get("new_csrf_cookie")
        if cookie:
            response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="Lax",
                                secure=settings.base_url.startswith("https:"), path="/")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return _error_page(400, "csrf_title", "csrf_text", g.get("publication"))

    @app.errorhandler(RateLimited)
    def _rate(exc: RateLimited):
        body, status = _error_page(429, "rate_title", "rate_text", g.get("publication"))
        return body, status, {"Retry-After": str(max(1, int(exc.retry_after)))}

    @app.errorhandler(TokenError)
    def _token(exc: TokenError):
        # The same page for forged, truncated, unknown and erased: it must reveal nothing.
        return _error_page(404, "not_found_title", "not_found_text")

    @app.errorhandler(LetterpressError)
    def _library(exc: LetterpressError):
        log.error("library error: %s", exc.__class__.__name__)
        return _error_page(500, "server_error_title", "server_error_text")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        keys = {404: ("not_found_title", "not_found_text"),
                405: ("method_title", "bad_request_text"),
                429: ("rate_title", "rate_text")}
        title, text = keys.get(exc.code or 500, ("bad_request_title", "bad_request_text"))
        if (exc.code or 500) >= 500:
            title, text = "server_error_title", "server_error_text"
        return _error_page(exc.code or 500, title, text, g.get("publication"))

    @app.get("/theme/<slug>.css")
    def theme_stylesheet(slug: str):
        pub = ctx.publication(slug)
        return theme_css(pub.theme), 200, {"Content-Type": "text/css; charset=utf-8",
                                           "Cache-Control": "public, max-age=3600"}

    return app
