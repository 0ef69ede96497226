"""Every word a reader sees that does not come from the issue, per language ('fr' first).

Templates reach them as ``t.<key>``; the plain-text writer uses the same table, so both parts
of a mail say the same thing.  A new language is one more entry here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STRINGS", "strings_for"]

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "masthead": "LETTRE D'INFORMATION #{number}",
        "web_version": "Voir la version en ligne",
        "subscribe_before": "Pour vous inscrire à cette lettre d'information, ",
        "subscribe_link": "cliquez ici",
        "subscribe_after": ".",
        "unsubscribe": "Se désinscrire",
        "preferences": "Gérer mes préférences",
        "online": "En ligne",
        "in_person": "Sur place",
        "register": "S'inscrire",
        "read_more": "En savoir plus",
        "organised_by": "Organisé par {organiser}",
        "credit": "© {credit}",
        "links": "Liens",
        "question": "Q.",
        "answer": "R.",
        "date_range": "du {start} au {end}",
        "colon": "\u00a0: ",  # "Directeur de publication : …", unbreakable before the colon
        "logo_fallback": "{name}",
        "why": "Vous recevez cette lettre parce que vous y êtes inscrit(e).",
        "text_web_version": "Version en ligne\u00a0: {url}",
        "text_unsubscribe": "Se désinscrire\u00a0: {url}",
        "text_preferences": "Gérer mes préférences\u00a0: {url}",
        "text_subscribe": "S'inscrire à cette lettre\u00a0: {url}",
    },
    "en": {
        "masthead": "NEWSLETTER #{number}",
        "web_version": "View it in your browser",
        "subscribe_before": "To subscribe to this newsletter, ",
        "subscribe_link": "click here",
        "subscribe_after": ".",
        "unsubscribe": "Unsubscribe",
        "preferences": "Manage my preferences",
        "online": "Online",
        "in_person": "In person",
        "register": "Register",
        "read_more": "Read more",
        "organised_by": "Organised by {organiser}",
        "credit": "© {credit}",
        "links": "Links",
        "question": "Q.",
        "answer": "A.",
        "date_range": "from {start} to {end}",
        "colon": ": ",  # "Publisher: …"
        "logo_fallback": "{name}",
        "why": "You receive this newsletter because you subscribed to it.",
        "text_web_version": "Web version: {url}",
        "text_unsubscribe": "Unsubscribe: {url}",
        "text_preferences": "Manage my preferences: {url}",
        "text_subscribe": "Subscribe to this newsletter: {url}",
    },
}


class _Strings(dict):
    """A read-only table whose missing keys fall back to French, then to the key itself."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __missing__(self, key: str) -> str:
        return STRINGS["fr"].get(key, key)


def strings_for(language: str) -> _Strings:
    """The reader-facing strings of a language (French for unknown languages)."""
    base = language.split("-")[0].split("_")[0]
    return _Strings(STRINGS.get(base, STRINGS["fr"]))
