"""The click redirect ``/c/<issue>/<link>`` and the open pixel ``/o/<issue>.gif``.

Neither URL carries anything about the reader: every recipient of an issue receives the same
links.  A click is counted on its link and day, as a person or as a scanner (the rule is in
:mod:`letterpress.stats.counting`), then answered with a 302 to the target recorded when the
issue was sent.  An unknown or altered link id is a 404: the redirect cannot be pointed
anywhere else.  The pixel is counted per issue and day, only for a publication that turned
``open_stats`` on.
"""

from __future__ import annotations

import atexit
import base64
import threading

from flask import Blueprint, abort, current_app, redirect, request
from sqlalchemy import exists, select

from ..delivery.models import SendRun
from ..stats.counting import BurstDetector, CountBuffer, Verdict, is_scanner_agent
from ..stats.links import link_target
from ..stats.rewrite import LINK_ID, parse_issue_key
from .app import web

__all__ = ["blueprint"]

blueprint = Blueprint("clicks", __name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


FLUSH_SECONDS = 1.0
"""How often counts held in memory are written (``LETTERPRESS_STATS_FLUSH_SECONDS`` in the
app's config overrides it; 0 writes on every request)."""


class _ClickState:
    """Per app: targets already looked up (they never change), the burst detector and the
    buffer of counts not yet written."""

    def __init__(self, ctx, seconds: float):
        self.targets: dict[tuple[str, int, str], str] = {}
        self.issues: set[tuple[str, int]] = set()
        self.lock = threading.Lock()
        self.bursts = BurstDetector(monotonic=ctx.project.clock.monotonic)

        def write(apply) -> None:
            project = ctx.project
            if project.engine.dialect.name == "sqlite":
                with ctx.write_lock, project.session() as session:
                    apply(session)
            else:
                with project.session() as session:
                    apply(session)

        self.counts = CountBuffer(write, seconds=seconds)
        atexit.register(self.counts.close)


def _state() -> _ClickState:
    state = current_app.extensions.get("letterpress.clicks")
    if state is None:
        with _CREATE:
            state = current_app.extensions.get("letterpress.clicks")
            if state is None:
                seconds = float(current_app.config.get("LETTERPRESS_STATS_FLUSH_SECONDS",
                                                       FLUSH_SECONDS))
                state = current_app.extensions["letterpress.clicks"] = _ClickState(web(), seconds)
    return state


_CREATE = threading.Lock()


def _target(publication: str, number: int, link_id: str) -> str | None:
    state = _state()
    key = (publication, number, link_id)
    with state.lock:
        found = state.targets.get(key)
    if found is None:
        with web().project.read_session() as session:
            found = link_target(session, publication, number, link_id)
        if found is not None:
            with state.lock:
                state.targets[key] = found
    return found


def _client() -> tuple[str, str]:
    return request.remote_addr or "", request.headers.get("User-Agent", "")


@blueprint.route("/c/<issue>/<link_id>", methods=["GET", "HEAD"])
def click_redirect(issue: str, link_id: str):
    """Count one click on the link (never on the reader) and redirect to its target."""
    parsed = parse_issue_key(issue)
    if parsed is None or not LINK_ID.match(link_id):
        abort(404)
    publication, number = parsed
    target = _target(publication, number, link_id)
    if target is None:
        abort(404)
    address, agent = _client()
    if request.method == "HEAD" or is_scanner_agent(agent):
        verdict = Verdict(True)
    else:
        verdict = _state().bursts.check(issue, link_id, address, agent)
    _state().counts.click(publication, number, link_id, web().project.clock.now().date(), verdict)
    return redirect(target, code=302)


def _issue_sent(publication: str, number: int) -> bool:
    state = _state()
    if (publication, number) in state.issues:
        return True
    with web().project.read_session() as session:
        found = session.scalar(select(exists().where(SendRun.publication == publication,
                                                     SendRun.issue_number == number)))
    if found:
        state.issues.add((publication, number))
    return bool(found)


@blueprint.route("/o/<issue>.gif", methods=["GET", "HEAD"])
def open_pixel(issue: str):
    """Count one load of the issue's pixel (a rough indicator, see docs/reports.md)."""
    parsed = parse_issue_key(issue)
    if parsed is None:
        abort(404)
    publication, number = parsed
    pub = web().settings.publications.get(publication)
    if pub is None or not pub.open_stats or not _issue_sent(publication, number):
        abort(404)
    scanner = request.method == "HEAD" or is_scanner_agent(request.headers.get("User-Agent"))
    _state().counts.open(publication, number, web().project.clock.now().date(), scanner)
    return PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store, private"}
