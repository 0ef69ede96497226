"""Rendering: a validated issue → MJML (Jinja2) → responsive HTML email + plain text.

No database and no network here: :func:`render_issue` is a pure function of the issue, the
settings and the templates.  Per-recipient values are placeholders that
:meth:`RenderedIssue.personalise` (or delivery's byte template) fills in.
"""

from __future__ import annotations

from .issue import render_issue, render_mjml, single_line
from .lint import lint, lint_errors
from .placeholders import PLACEHOLDERS, PREFERENCES_URL, RECIPIENT_NAME, UNSUBSCRIBE_URL
from .rendered import RenderedIssue

__all__ = [
    "PLACEHOLDERS",
    "PREFERENCES_URL",
    "RECIPIENT_NAME",
    "UNSUBSCRIBE_URL",
    "RenderedIssue",
    "lint",
    "lint_errors",
    "render_issue",
    "render_mjml",
    "single_line",
]
