"""Typography of the publication's language, applied to the content before it is rendered.

French (Lexique des règles typographiques en usage à l'Imprimerie nationale): a no-break
space before ``:`` and a narrow no-break space (U+202F) before ``;``, ``!`` and ``?``; no-break
spaces inside ``« »``; narrow no-break spaces between the digit groups of a number
(``4 430``, ``+1 600``) and before ``%``.  So no line of the HTML or of the text part starts with ``»``, ``?``
or the last digits of a number.  Only spaces the editor typed are made unbreakable (a ``?``
glued to a word, as in an URL, is left alone); ``« `` and `` »`` get theirs when missing.

Other languages keep their own rules: the text is left as written.

The maintained French packages found (french-typo) write HTML entities and also rewrite
units, ordinals and hours (``14h00`` → ``14&nbsp;h00``); the rules here are the few the mail
needs, as Unicode characters valid in both parts.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

__all__ = ["NARROW_NBSP", "NBSP", "typeset", "typeset_issue"]

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"

_SPACES = "[ \t\u00a0\u202f]"
_BEFORE_COLON = re.compile(_SPACES + r"+:(?=\s|$)")
_BEFORE_HIGH = re.compile(_SPACES + r"+([;!?])")
_OPEN_QUOTE = re.compile("«" + _SPACES + "*")
_CLOSE_QUOTE = re.compile(_SPACES + "*»")
_PERCENT = re.compile(r"(\d)[ \u00a0]%")
_DIGIT_GROUPS = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0]\d{3})+(?![\d])")


def _french(text: str) -> str:
    if not any(c in text for c in ":;!?«»") and not any(c.isdigit() for c in text):
        return text
    text = _BEFORE_COLON.sub(NBSP + ":", text)
    text = _BEFORE_HIGH.sub(NARROW_NBSP + r"\1", text)
    text = _OPEN_QUOTE.sub("«" + NBSP, text)
    text = _CLOSE_QUOTE.sub(NBSP + "»", text)
    text = _PERCENT.sub(r"\1" + NARROW_NBSP + "%", text)
    return _DIGIT_GROUPS.sub(lambda m: re.sub("[ \u00a0]", NARROW_NBSP, m.group(0)), text)


def typeset(text: str, language: str) -> str:
    """``text`` with the typography of ``language`` (only French changes anything)."""
    if not text or not language.lower().startswith("fr"):
        return text
    return _french(text)


def typeset_issue(value: Any, language: str) -> Any:
    """A copy of an issue (or any content model) with every text typeset for ``language``."""
    if not language.lower().startswith("fr"):
        return value
    return _walk(value, language)


def _walk(value: Any, language: str) -> Any:
    if isinstance(value, str):
        new = _french(value)
        return value if new == value else new
    if isinstance(value, BaseModel):
        changes = {}
        for name in type(value).model_fields:
            current = getattr(value, name)
            new = _walk(current, language)
            if new is not current:
                changes[name] = new
        return value.model_copy(update=changes) if changes else value
    if isinstance(value, list):
        items = [_walk(v, language) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, tuple):
        items = tuple(_walk(v, language) for v in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value
