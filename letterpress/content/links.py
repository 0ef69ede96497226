"""Placeholder links left in an issue, found in the YAML so the editor is sent to the line.

A scaffold's own examples (``https://www.example.org/inscription``), any ``example.*`` host
(RFC 2606 reserves them for documentation), a bare ``#`` and ``TODO``-like targets are valid
addresses that no reader should get.  They are reported at the position of the value (or of
the link inside a Markdown text), not at a column of the built HTML.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Problem
from ..markup import links as markdown_links
from .yaml_loader import Document, Position

__all__ = ["is_placeholder_link", "placeholder_links", "same_number_elsewhere"]

_PLACEHOLDER = re.compile(
    r"^(#|#!|javascript:.*|about:blank|https?://?|todo|tbd|xxx+|url|lien|link|à compléter"
    r"|https?://([\w-]+\.)*example(\.[a-z]{2,})+(:\d+)?([/?#].*)?"
    r"|.*\bTODO\b.*)$", re.I)
_URL_KEYS = {"url", "link", "registration_url", "href"}


def is_placeholder_link(target: str) -> bool:
    """True for a link target that stands for a real one still to be written."""
    return bool(_PLACEHOLDER.match(target.strip()))


def _position(doc: Document, where: Position, needle: str, start: int) -> Position | None:
    end = max(where.end, where.start + 1)
    index = doc.text.find("](" + needle, max(where.start, start), end)
    if index < 0:
        return None
    index += 2
    line = doc.text.count("\n", 0, index) + 1
    column = index - (doc.text.rfind("\n", 0, index) + 1) + 1
    return Position(line, column, index, index + len(needle))


def placeholder_links(doc: Document, file: str) -> list[Problem]:
    """Every placeholder link target of a parsed issue, at its YAML position (errors)."""
    from .problems import format_path

    problems: list[Problem] = []
    for path, where in doc.values.items():
        value: Any = doc.data
        for part in path:
            value = value[part]
        if not isinstance(value, str) or not path:
            continue
        if path[-1] in _URL_KEYS:
            if is_placeholder_link(value):
                problems.append(Problem(file, where.line, where.column, format_path(path),
                                        f"link with a placeholder target {value!r}"))
            continue
        if "](" not in value:
            continue
        cursor = 0
        for target in markdown_links(value):
            if not is_placeholder_link(target):
                continue
            found = _position(doc, where, target, cursor)
            cursor = found.end if found else cursor
            at = found or where
            problems.append(Problem(file, at.line, at.column, format_path(path),
                                    f"link with a placeholder target {target!r}"))
    return problems


def same_number_elsewhere(path: Any, publication: str, number: int, issues_dir: Any) -> list[Any]:
    """Other files of ``issues_dir`` that claim the same publication and number."""
    from pathlib import Path

    from .scaffold import _header

    here = Path(path).resolve()
    folder = Path(issues_dir)
    if not folder.is_dir():
        return []
    return [other for other in sorted(folder.glob("*.y*ml"))
            if other.resolve() != here and _header(other) == (publication, number)]
