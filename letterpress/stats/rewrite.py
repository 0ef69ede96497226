"""The statistics step applied to a rendered issue's HTML part (never to its text part).

With ``click_stats = true`` every ``http(s)`` link of the HTML part becomes
``{base_url}/c/<publication>-<number>/<link id>``; the link id is derived from the target
alone (the same target twice is one link), so it carries nothing about the recipient — every
recipient receives the very same URL.  The targets are written to ``issue_links`` when the
issue is sent (:func:`letterpress.stats.links.register_links`); the redirect answers only those, so an unknown or
altered id is a 404 and the redirect can never be pointed elsewhere.

With ``open_stats = true`` one image without identifier, ``{base_url}/o/<publication>-<number>.gif``,
is added at the end of the HTML part.

Per-recipient placeholders (unsubscribe, preferences) and ``mailto:`` links are left alone.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
from dataclasses import dataclass

__all__ = ["TrackedLink", "click_path", "issue_key", "link_id_for", "parse_issue_key",
           "prepare_html"]

LINK_ID = re.compile(r"^[0-9a-f]{12}$")
_ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class TrackedLink:
    """A link target of an issue, with the id its click URL carries."""

    link_id: str
    url: str
    label: str
    position: int


def issue_key(publication: str, number: int) -> str:
    """``pvd-42``: the issue part of a click URL."""
    return f"{publication}-{number}"


def parse_issue_key(key: str) -> tuple[str, int] | None:
    """``"pvd-42"`` → ``("pvd", 42)``; None when it is not of that form."""
    slug, _, number = key.rpartition("-")
    if not slug or not number.isdigit() or len(number) > 9:
        return None
    return slug, int(number)


def link_id_for(url: str) -> str:
    """12 hex digits of SHA-256 of the target: the same target, the same id, in every copy."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


def click_path(publication: str, number: int, link_id: str) -> str:
    return f"/c/{issue_key(publication, number)}/{link_id}"


def _trackable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://")) and "%%LP_" not in url


def prepare_html(html: str, *, publication: str, number: int, base_url: str,
                 click_stats: bool, open_stats: bool) -> tuple[str, tuple[TrackedLink, ...]]:
    """The HTML part with click URLs and/or the open pixel, and the links it now points to.

    A no-op (same string, no links) when both statistics are off.
    """
    links: dict[str, TrackedLink] = {}
    if click_stats:
        def anchor(m: re.Match) -> str:
            attrs, inner = m.group(1), m.group(2)
            href = _HREF.search(attrs)
            if href is None:
                return m.group(0)
            target = htmlmod.unescape(href.group(3)).strip()
            if not _trackable(target):
                return m.group(0)
            lid = link_id_for(target)
            if lid not in links:
                label = _SPACES.sub(" ", htmlmod.unescape(_TAGS.sub(" ", inner))).strip()[:200]
                links[lid] = TrackedLink(lid, target, label, len(links))
            new = f"{href.group(1)}{href.group(2)}{base_url}{click_path(publication, number, lid)}{href.group(2)}"
            return f"<a{attrs[:href.start()]}{new}{attrs[href.end():]}>{inner}</a>"

        html = _ANCHOR.sub(anchor, html)
    if open_stats:
        pixel = (f'<img src="{base_url}/o/{issue_key(publication, number)}.gif" width="1" '
                 'height="1" alt="" style="display:block;border:0;width:1px;height:1px">')
        ends = list(_BODY_END.finditer(html))
        html = (html[:ends[-1].start()] + pixel + html[ends[-1].start():]) if ends else html + pixel
    return html, tuple(links.values())
