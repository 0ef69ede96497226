"""Turn pydantic validation errors into editor-facing problems with exact file positions.

Each problem says ``file:line:column: field.path: message``; the position is the offending
key (unknown field), value (bad value) or, for a missing field, the mapping that lacks it.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from ..errors import Problem
from .model import SECTION_TYPES, Issue, markdown_link_errors
from .yaml_loader import Document, Position

__all__ = ["format_path", "problems_from_errors"]

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """``("sections", 3, "items", 0, "title")`` → ``sections[3].items[0].title``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _field_names(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if not info.exclude]


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Optional / Annotated / unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                found.extend(_unwrap(arg))
        return found
    return [annotation]


def _model_at(path: Path, data: Any, root: type[BaseModel] = Issue) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (None when not a model)."""
    current: list[Any] = [root]
    value = data
    for part in path:
        nxt: list[Any] = []
        for candidate in current:
            if isinstance(part, int):
                if typing.get_origin(candidate) in (list, tuple):
                    args = typing.get_args(candidate)
                    nxt.extend(_unwrap(args[0] if typing.get_origin(candidate) is list
                                       else args[min(part, len(args) - 1)]))
            elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
                info = candidate.model_fields.get(part)
                if info is not None:
                    nxt.extend(_unwrap(info.annotation))
        value = _step(value, part)
        if isinstance(value, dict) and "type" in value:
            # A discriminated union: keep the member whose tag matches.
            tagged = [c for c in nxt if isinstance(c, type) and issubclass(c, BaseModel)
                      and "type" in c.model_fields
                      and value["type"] in typing.get_args(c.model_fields["type"].annotation)]
            nxt = tagged or nxt
        current = nxt
    for candidate in current:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _step(value: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return value[part] if isinstance(value, list) and part < len(value) else None
    return value.get(part) if isinstance(value, dict) else None


def _data_path(loc: tuple[str | int, ...], data: Any) -> Path:
    """The error location as a path in the YAML data (pydantic adds union tags to ``loc``)."""
    path: list[str | int] = []
    value = data
    for part in loc:
        if (isinstance(value, dict) and isinstance(part, str) and part not in value
                and value.get("type") == part):
            continue  # the discriminator tag pydantic inserts for a section
        path.append(part)
        value = _step(value, part)
    return tuple(path)


def _find_in_source(doc: Document, where: Position, needle: str, start: int = 0) -> Position | None:
    """The position of ``needle`` inside a scalar's source text, for links in Markdown.

    A Markdown link ``](target`` is looked for first, so a bare ``#`` target is not confused
    with a ``#`` elsewhere in the text.
    """
    begin, end = max(where.start, start), max(where.end, where.start + 1)
    index = doc.text.find("](" + needle + ("" if needle else ")"), begin, end)
    if index >= 0:
        index += 2 if needle else 1  # at the target, or at "()" when it is empty
    elif needle:
        index = doc.text.find(needle, begin, end)
    if index < 0:
        return None
    line = doc.text.count("\n", 0, index) + 1
    column = index - (doc.text.rfind("\n", 0, index) + 1) + 1
    return Position(line, column, index, index + len(needle))


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_KIND = {dict: "a mapping", list: "a list", str: "text"}


def _kind(value: Any) -> str:
    return _KIND.get(type(value), "nothing" if value is None else type(value).__name__)


def _message(error: ErrorDetails, path: Path, data: Any,
             types: tuple[str, ...] = SECTION_TYPES) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    name = path[-1] if path else ""
    shown = value if isinstance(value, str) else _kind(value)
    if "colophon" in path and kind in ("too_long", "too_short", "missing"):
        return "expected a [label, value] pair"
    if kind == "missing":
        return f"missing required field '{name}'"
    if value is None and kind in ("string_type", "list_type", "tuple_type", "model_type",
                                  "model_attributes_type",
                                  "dict_type", "date_type", "time_type", "int_type"):
        return "must not be empty"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
                "date_type"):
        return f"invalid date '{shown}': write it as YYYY-MM-DD, e.g. 2024-12-16"
    if kind in ("time_parsing", "time_type"):
        return f"invalid time '{shown}': write it as HH:MM (24 h), e.g. 14:00"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"'{shown}' is not a whole number"
    if kind in ("bool_parsing", "bool_type"):
        if str(shown).strip().lower() in ("oui", "non", "vrai", "faux", "o", "si"):
            return f"'{shown}' is not true or false: write true (for oui) or false (for non)"
        return f"'{shown}' is not true or false"
    if kind == "string_type":
        return f"expected text, found {_kind(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, found {_kind(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of fields, found {_kind(value)}"
    if kind == "too_short":
        if isinstance(value, str):
            return "must not be empty"
        return f"needs at least {ctx.get('min_length', 1)} item(s)"
    if kind == "too_long":
        return f"too many items (at most {ctx.get('max_length')})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"too long: at most {ctx.get('max_length')} characters"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "literal_error":
        return f"'{shown}' is not allowed: use {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        if name == "departement":
            return (f"'{shown}' is not a département code (01–95, 2A, 2B, 971–978; "
                    "quote it: \"03\")")
        if name == "anchor":
            return f"'{shown}' is not a valid anchor: use lowercase letters, digits, '-' and '_'"
        return f"'{shown}' does not match {ctx.get('pattern')}"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", shown)
        return (f"unknown section type '{tag}'{_suggest(str(tag), list(types))}; "
                f"valid types: {', '.join(types)}")
    if kind == "union_tag_not_found":
        return f"a section needs a 'type': one of {', '.join(types)}"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return message.replace("Input should be", "should be")


def problems_from_errors(errors: list[ErrorDetails], doc: Document, file: str,
                         root: type[BaseModel] = Issue) -> list[Problem]:
    """One :class:`Problem` per validation error, positioned in the YAML source; ``root`` is
    the issue model used (a publication's, with its declared section types)."""
    problems: list[Problem] = []
    types = getattr(root, "section_types", SECTION_TYPES)
    for error in errors:
        path = _data_path(tuple(error["loc"]), doc.data)
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "extra_forbidden":
            model = _model_at(path[:-1], doc.data, root)
            choices = _field_names(model) if model else []
            where = doc.key_at(path)
            message = f"unknown field '{path[-1]}'{_suggest(str(path[-1]), choices)}"
            if choices and not _suggest(str(path[-1]), choices):
                message += f"; allowed: {', '.join(choices)}"
        elif kind == "union_tag_invalid":
            path = path + ("type",)
            where = doc.value_at(path)
            message = _message(error, path, doc.data, types)
        elif kind == "markdown_link" and isinstance(error.get("input"), str):
            # One problem per refused link, each at its own position in the text.
            field_at = doc.values.get(path)
            cursor = 0
            for url, message in markdown_link_errors(error["input"]):
                found = _find_in_source(doc, field_at, url, cursor) if field_at else None
                cursor = found.end if found else cursor
                where = found or doc.value_at(path)
                problems.append(Problem(file, where.line, where.column, format_path(path),
                                        message))
            continue
        else:
            if kind == "missing" and path and isinstance(path[-1], int):
                path = path[:-1]  # a list or pair that is too short: point at it
            if "field" in ctx:
                path = path + (ctx["field"],)
            if "at" in ctx:  # a whole-model check naming the field it concerns
                path = path + tuple(int(p) if p.isdigit() else p
                                    for p in str(ctx["at"]).split("."))
            where = doc.value_at(path)
            message = _message(error, path, doc.data, types)
            if "url" in ctx and path in doc.values:
                where = _find_in_source(doc, doc.values[path], str(ctx["url"])) or where
        problems.append(Problem(file, where.line, where.column, format_path(path), message))
    return problems
