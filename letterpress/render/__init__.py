"""Rendering: a validated issue → MJML (Jinja2) → responsive HTML email + plain text.

No database and no network here: :func:`render_issue` is a pure function of the issue, the
settings and the templates.
"""

from __future__ import annotations

from .placeholders import PLACEHOLDERS, PREFERENCES_URL, RECIPIENT_NAME, UNSUBSCRIBE_URL
from .rendered import RenderedIssue

__all__ = [
    "PLACEHOLDERS",
    "PREFERENCES_URL",
    "RECIPIENT_NAME",
    "UNSUBSCRIBE_URL",
    "RenderedIssue",
]
