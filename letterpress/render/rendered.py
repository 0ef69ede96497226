"""The result of rendering one issue: HTML and text with per-recipient placeholders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import escape

from .placeholders import PREFERENCES_URL, RECIPIENT_NAME, UNSUBSCRIBE_URL

if TYPE_CHECKING:
    from ..settings import Publication

__all__ = ["RenderedIssue", "content_hash"]


def content_hash(subject: str, html: str, text: str) -> str:
    """sha256 hex of what every recipient receives, before personalisation."""
    digest = hashlib.sha256()
    for part in (subject, html, text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class RenderedIssue:
    """One issue rendered once; :meth:`personalise` makes each recipient's copy cheaply."""

    issue: Any  # letterpress.content.Issue (kept loose: render never mutates it)
    publication: Publication
    subject: str
    preheader: str
    html: str
    text: str
    web_url: str
    content_hash: str
    assets: dict[str, Path] = field(default_factory=dict)
    base_url: str = ""
    links: tuple = ()  # click-statistics targets of the HTML part (letterpress.stats.links)

    def personalise(self, unsubscribe_url: str, preferences_url: str,
                    recipient_name: str = "") -> tuple[str, str]:
        """The (html, text) one recipient receives: placeholders replaced, name escaped."""
        html = (self.html.replace(UNSUBSCRIBE_URL, str(escape(unsubscribe_url)))
                .replace(PREFERENCES_URL, str(escape(preferences_url)))
                .replace(RECIPIENT_NAME, str(escape(recipient_name))))
        text = (self.text.replace(UNSUBSCRIBE_URL, unsubscribe_url)
                .replace(PREFERENCES_URL, preferences_url)
                .replace(RECIPIENT_NAME, recipient_name))
        return html, text

    @property
    def subscribe_url(self) -> str:
        """The public subscription form of the publication."""
        return f"{self.base_url}/{self.publication.slug}/subscribe"

    def archive_html(self) -> str:
        """The web version: no recipient data; personal links lead to the subscription page."""
        html, _ = self.personalise(self.subscribe_url, self.subscribe_url, "")
        return html

    def archive_text(self) -> str:
        """The text part as shown on the web: no recipient data."""
        _, text = self.personalise(self.subscribe_url, self.subscribe_url, "")
        return text
