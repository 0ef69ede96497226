"""Names and attributes as they enter: one line of printable text.

A name or attribute value holding CR, LF, TAB or another control character (Unicode category
``Cc``), or a line/paragraph separator, would print one subscriber over several lines in
``subscribers list``, break CSV consumers and headers built from it.  Every such character
becomes a space, runs of spaces collapse, and the ends are trimmed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = ["clean_attributes", "clean_text"]

_SEPARATORS = {"\u2028", "\u2029", "\x85"}
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """``"Dominique\\r\\nMartin\\t"`` → ``"Dominique Martin"``."""
    if value.isprintable() and "  " not in value and value == value.strip():
        return value  # the common case, without building a new string
    chars = [" " if (c in _SEPARATORS or unicodedata.category(c) == "Cc") else c
             for c in value]
    return _SPACES.sub(" ", "".join(chars)).strip()


def clean_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attribute keys and string values cleaned with :func:`clean_text`."""
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        cleaned[clean_text(str(key))] = clean_text(value) if isinstance(value, str) else value
    return cleaned
