"""The online archive: index, each issue's web version, an Atom feed, and issue images.

Only issues that were actually sent (a non-test send run that started) or published with
``letterpress publish`` appear.  The web version is ``RenderedIssue.archive_html()``: the
e-mail's own HTML with every personal link pointed at the public subscription form.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from datetime import UTC, datetime, time
from xml.etree import ElementTree as ET

from flask import Blueprint, g, send_file
from werkzeug.exceptions import NotFound

from ..errors import LetterpressError
from .app import render_page, web
from .published import archived_issues, find_archived
from .security import ARCHIVE_CSP

__all__ = ["blueprint"]

log = logging.getLogger("letterpress.web")
blueprint = Blueprint("archive", __name__)

ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
ATOM = "http://www.w3.org/2005/Atom"


def _publication(slug: str):
    pub = web().settings.publications.get(slug)
    if pub is None:
        raise NotFound()
    return pub


def _entries(slug: str):
    ctx = web()
    with ctx.project.read_session() as session:
        return archived_issues(session, slug)


@blueprint.get("/<slug>/")
def index(slug: str):
    """Every archived issue of the publication, newest first, with date and subject."""
    pub = _publication(slug)
    from ..render.dates import format_long

    ctx = web()
    entries = [(e, format_long(e.issue_date, pub.language), _preheader(ctx, e))
               for e in _entries(slug)]
    body, status = render_page("archive.html", pub, entries=entries)
    return body, status, {"Cache-Control": "public, max-age=300"}


@blueprint.get("/<slug>/<int:number>")
def issue_page(slug: str, number: int):
    """The web version of one sent issue: no recipient data."""
    pub = _publication(slug)
    ctx = web()
    with ctx.project.read_session() as session:
        entry = find_archived(session, slug, number)
    if entry is None:
        raise NotFound()
    try:
        rendered = ctx.issues.rendered(entry.path)
    except FileNotFoundError:
        log.error("archived issue %s#%s: file %s is gone", slug, number, entry.path)
        raise NotFound() from None
    except LetterpressError as exc:
        log.error("archived issue %s#%s no longer renders: %s", slug, number, exc)
        raise
    g.publication = pub
    g.csp = ARCHIVE_CSP
    return rendered.archive_html(), 200, {"Content-Type": "text/html; charset=utf-8",
                                          "Cache-Control": "public, max-age=300"}


@blueprint.get("/<slug>/feed.xml")
def feed(slug: str):
    """An Atom feed of the archive."""
    pub = _publication(slug)
    ctx = web()
    base = ctx.settings.base_url
    entries = _entries(slug)
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": pub.language})

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    def stamp(entry) -> str:
        when = entry.published_at or datetime.combine(entry.issue_date, time(0), tzinfo=UTC)
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")

    sub(root, "id", f"{base}/{slug}/")
    sub(root, "title", pub.name)
    sub(root, "link", href=f"{base}/{slug}/feed.xml", rel="self",
        type="application/atom+xml")
    sub(root, "link", href=f"{base}/{slug}/", rel="alternate", type="text/html")
    updated = max((stamp(e) for e in entries), default="1970-01-01T00:00:00Z")
    sub(root, "updated", updated)
    author = sub(root, "author")
    sub(author, "name", pub.sender_name or pub.name)
    for entry in entries:
        item = sub(root, "entry")
        url = f"{base}/{slug}/{entry.number}"
        sub(item, "id", url)
        sub(item, "title", entry.subject)
        sub(item, "link", href=url, rel="alternate", type="text/html")
        sub(item, "updated", stamp(entry))
        sub(item, "published", stamp(entry))
        sub(item, "summary", _preheader(ctx, entry) or entry.subject)
        sub(item, "content", type="text/html", src=url)
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml, 200, {"Content-Type": "application/atom+xml; charset=utf-8",
                      "Cache-Control": "public, max-age=300"}


def _preheader(ctx, entry) -> str:
    """The issue's preheader, from the render cache; empty when the file cannot be read."""
    try:
        return ctx.issues.rendered(entry.path).preheader
    except (OSError, LetterpressError):
        return ""


@blueprint.get("/assets/<name>")
def asset(name: str):
    """A local image of an issue, under its content-hashed name: cached for a year."""
    if not ASSET_NAME.match(name):
        raise NotFound()
    ctx = web()

    def candidates():
        with ctx.project.read_session() as session:
            paths = [e.path for slug in ctx.settings.publications
                     for e in archived_issues(session, slug)]
        issues_dir = ctx.settings.issues_dir
        if issues_dir.is_dir():
            # Test sends and previews use images of issues not archived yet.
            paths += sorted(issues_dir.glob("**/*.yaml")) + sorted(issues_dir.glob("**/*.yml"))
        return paths

    path = ctx.issues.asset(name, candidates)
    if path is None or not path.is_file():
        raise NotFound()
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
