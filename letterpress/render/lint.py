"""Checks on the built mail that no template or content validation can see.

* HTML over 100 KB: Gmail clips the message and the unsubscribe link disappears (error);
* links with an empty, ``#`` or placeholder-like target;
* images without width or height (layout jumps, Outlook blows them up);
* template markers left over (``{{``, ``{%``), unknown ``%%LP_…%%`` placeholders and MJML
  tags the compiler did not know (a misspelt ``<mj-…>`` passes through as is);
* theme colours whose contrast is below WCAG AA (warnings on ``letterpress.toml``).

Positions are line:column in the built files (``index.html`` / ``index.txt``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from ..errors import Problem
from .placeholders import PLACEHOLDERS

__all__ = ["GMAIL_CLIP_BYTES", "contrast_ratio", "lint", "lint_errors", "lint_html", "lint_text",
           "lint_theme"]

GMAIL_CLIP_BYTES = 102_400
"""Gmail clips HTML bodies above about 102 KB (100 KiB)."""
SIZE_WARNING_BYTES = 90 * 1024

_PLACEHOLDER_TARGETS = re.compile(
    r"^(#|#!|javascript:.*|about:blank|https?://(www\.)?example\.(com|org|net)/?|"
    r"https?://?|todo|tbd|xxx+|url|lien|link)$", re.I)
_MARKERS = re.compile(r"\{\{|\{%|%%LP_[A-Z0-9_]*%%|%%LP_")
_MJML_TAG = re.compile(r"</?mj-[a-z-]*")


def lint(rendered: Any, *, html_name: str = "index.html",
         text_name: str = "index.txt") -> list[Problem]:
    """Every problem found in a :class:`RenderedIssue` (errors and warnings), sorted."""
    problems = lint_html(rendered.html, html_name) + lint_text(rendered.text, text_name)
    publication = getattr(rendered, "publication", None)
    if publication is not None:
        problems += lint_theme(publication.theme, publication.slug)
    return sorted(problems)


def lint_errors(rendered: Any) -> list[Problem]:
    """The problems of :func:`lint` that are errors: what stops a send or a schedule to a
    list (a test send still goes)."""
    return [p for p in lint(rendered) if p.severity == "error"]


# Text drawn in each theme colour, on which background (WCAG AA: 4.5:1 for normal text).
_CONTRASTS = (
    ("text_color", "content_background", "body text"),
    ("muted_color", "content_background", "credits and footer notes"),
    ("primary_color", "content_background", "headings and links"),
    ("accent_color", "content_background", "kickers"),
    ("#ffffff", "primary_color", "button labels and the share band"),
    ("muted_color", "background_color", "the preheader line"),
)
MIN_CONTRAST = 4.5


def lint_theme(theme: Any, slug: str) -> list[Problem]:
    """Theme colour pairs whose contrast is below WCAG AA (4.5:1), as warnings."""
    problems = []
    for fore, back, used_for in _CONTRASTS:
        fg = fore if fore.startswith("#") else getattr(theme, fore, "")
        bg = getattr(theme, back, "")
        ratio = contrast_ratio(fg, bg)
        if ratio is not None and ratio < MIN_CONTRAST:
            field = fore if not fore.startswith("#") else back
            problems.append(Problem(
                "letterpress.toml", 1, 1, f"publications.{slug}.theme.{field}",
                f"{fg} on {bg} has a contrast of {ratio:.1f}:1 for {used_for}; readers need "
                f"at least {MIN_CONTRAST}:1 (WCAG AA)", severity="warning"))
    return problems


def contrast_ratio(first: str, second: str) -> float | None:
    """WCAG contrast ratio of two ``#rrggbb``/``#rgb`` colours, None if one is not such a colour."""
    a, b = _luminance(first), _luminance(second)
    if a is None or b is None:
        return None
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)


def _luminance(colour: str) -> float | None:
    value = colour.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        return None
    channels = []
    for i in (0, 2, 4):
        c = int(value[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def lint_html(html: str, name: str = "index.html") -> list[Problem]:
    """Size, links, images and leftover markers of a built HTML mail."""
    problems: list[Problem] = []
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        problems.append(Problem(name, 1, 1, "html", f"HTML is {size / 1024:.1f} KB: Gmail clips "
                                f"mails over {GMAIL_CLIP_BYTES // 1024} KB and hides the "
                                "unsubscribe link; shorten the issue"))
    elif size > SIZE_WARNING_BYTES:
        problems.append(Problem(name, 1, 1, "html", f"HTML is {size / 1024:.1f} KB, close to "
                                f"Gmail's {GMAIL_CLIP_BYTES // 1024} KB clipping limit",
                                severity="warning"))
    checker = _TagChecker(name)
    checker.feed(html)
    checker.close()
    problems.extend(checker.problems)
    problems.extend(_markers(html, name))
    # MJML passes unknown tags through: a misspelt <mj-…> in a template ends up in the mail.
    for match in _MJML_TAG.finditer(html):
        line = html.count("\n", 0, match.start()) + 1
        column = match.start() - (html.rfind("\n", 0, match.start()) + 1) + 1
        problems.append(Problem(name, line, column, "", f"unknown MJML tag {match.group(0)}> left "
                                "in the HTML (misspelt in a template?)"))
    return problems


def lint_text(text: str, name: str = "index.txt") -> list[Problem]:
    """Leftover template markers in the text part."""
    return _markers(text, name)


def _markers(content: str, name: str) -> list[Problem]:
    problems = []
    for match in _MARKERS.finditer(content):
        if match.group(0) in PLACEHOLDERS:
            continue
        line = content.count("\n", 0, match.start()) + 1
        column = match.start() - (content.rfind("\n", 0, match.start()) + 1) + 1
        snippet = content[match.start():match.start() + 30].split("\n")[0]
        problems.append(Problem(name, line, column, "", f"leftover template marker {snippet!r}"))
    return problems


class _TagChecker(HTMLParser):
    """Finds links with placeholder targets and images without dimensions."""

    def __init__(self, name: str):
        super().__init__(convert_charrefs=True)
        self.name = name
        self.problems: list[Problem] = []

    def _add(self, path: str, message: str, severity: str = "error") -> None:
        line, column = self.getpos()
        self.problems.append(Problem(self.name, line, column + 1, path, message, severity))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "") for k, v in attrs}
        if tag == "a":
            if "href" not in values and ("id" in values or "name" in values):
                return  # an anchor target, not a link
            href = values.get("href", "").strip()
            if href in PLACEHOLDERS:
                return
            if not href:
                self._add("a[href]", "link with an empty target")
            elif _PLACEHOLDER_TARGETS.match(href):
                self._add("a[href]", f"link with a placeholder target {href!r}")
            elif "%%" in href or "{{" in href:
                self._add("a[href]", f"link target contains a template marker {href!r}")
        elif tag == "img":
            missing = [attr for attr in ("width", "height") if not values.get(attr)]
            if missing:
                src = values.get("src", "")[-60:]
                self._add("img", f"image without {' and '.join(missing)}: {src}",
                          severity="warning")
            if "alt" not in values:
                self._add("img[alt]", f"image without alt text: {values.get('src', '')[-60:]}")
