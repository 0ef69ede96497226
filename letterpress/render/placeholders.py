"""Markers left in a rendered issue where each recipient's own values go.

They are pure ASCII without ``=`` so they survive quoted-printable encoding unchanged: delivery
substitutes them in its byte template for every recipient, after rendering the issue once.
"""

from __future__ import annotations

__all__ = ["PLACEHOLDERS", "PREFERENCES_URL", "RECIPIENT_NAME", "UNSUBSCRIBE_URL"]

UNSUBSCRIBE_URL = "%%LP_UNSUBSCRIBE_URL%%"
PREFERENCES_URL = "%%LP_PREFERENCES_URL%%"
RECIPIENT_NAME = "%%LP_RECIPIENT_NAME%%"

PLACEHOLDERS: tuple[str, ...] = (UNSUBSCRIBE_URL, PREFERENCES_URL, RECIPIENT_NAME)
"""Every placeholder; lint flags any other ``%%LP_`` marker left in the output."""
