"""Section types a publication declares in ``letterpress.toml``, without Python.

A declaration names the fields of the new section and their types; the section is then
validated exactly like the built-in ones (unknown keys refused with a did-you-mean, required
fields, ``file:line:col`` positions) and rendered by the publication's own template
``templates/mjml/<slug>/sections/<type>.mjml.j2``::

    [publications.mag.section_types.temoignage]
    title = "Témoignage"                       # default heading ("" for none)
    [publications.mag.section_types.temoignage.fields]
    person = "text"                            # required one-line text
    quote = "markdown"                         # required Markdown
    portrait = "image?"                        # "?": optional
    day = "date?"
    links = "list of link?"                    # a list of {label, url}
    events = { title = "text", day = "date", url = "url?" }   # a list of items

Field types: ``text``, ``line`` (one line, e.g. for a name), ``markdown``, ``date``, ``time``,
``url``, ``image``, ``link``, ``number``, ``yes/no``; ``list of <type>``; a table is a list of
items with those fields.  Required lists hold at least one item.
"""

from __future__ import annotations

import datetime as dt
import difflib
import typing
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from ..errors import ConfigError
from .fields import ContentModel, Line, Markdown, Prose, Text, TextLine, Url
from .parts import Image, Link

__all__ = ["FIELD_TYPES", "check_declarations", "custom_sections", "issue_model"]

# type name → (required annotation, optional annotation, optional default)
FIELD_TYPES: dict[str, tuple[Any, Any, Any]] = {
    "text": (Text, str, ""),
    "line": (TextLine, Line, ""),
    "markdown": (Prose, Markdown, ""),
    "date": (dt.date, dt.date | None, None),
    "time": (dt.time, dt.time | None, None),
    "url": (Url, Url | None, None),
    "image": (Image, Image | None, None),
    "link": (Link, Link | None, None),
    "number": (int, int | None, None),
    "yes/no": (bool, bool, False),
}
_RESERVED = {"type", "title", "anchor"}


def _problem(where: str, message: str) -> ConfigError:
    return ConfigError(f"[{where}] {message}", source="letterpress.toml")


def _field(name: str, spec: Any, where: str, model_name: str) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of one declared field."""
    if isinstance(spec, Mapping):
        item = _model(f"{model_name}_{name}", spec, f"{where}.{name}")
        return list[item], Field(min_length=1)
    if not isinstance(spec, str):
        raise _problem(where, f"{name}: a field type is a word such as \"text\", or a table of "
                       "fields for a list of items")
    kind = spec.strip()
    optional = kind.endswith("?")
    kind = kind.rstrip("?").strip()
    if kind.startswith("list of "):
        inner = kind[len("list of "):].strip()
        if inner not in FIELD_TYPES:
            raise _problem(where, f"{name}: unknown field type {inner!r}{_suggest(inner)}")
        annotation = list[FIELD_TYPES[inner][0]]
        return (annotation, Field(default=[]) if optional else Field(min_length=1))
    if kind not in FIELD_TYPES:
        raise _problem(where, f"{name}: unknown field type {kind!r}{_suggest(kind)}")
    required, loose, default = FIELD_TYPES[kind]
    return (loose, Field(default=default)) if optional else (required, Field())


def _suggest(word: str) -> str:
    close = difflib.get_close_matches(word, list(FIELD_TYPES), n=1, cutoff=0.5)
    known = ", ".join(FIELD_TYPES)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {known}, list of …)"


def _model(name: str, fields: Mapping[str, Any], where: str, base: type = ContentModel,
           extra: dict[str, Any] | None = None) -> type:
    if not fields:
        raise _problem(where, "declares no fields")
    definitions: dict[str, Any] = dict(extra or {})
    for field_name, spec in fields.items():
        if field_name in _RESERVED:
            raise _problem(where, f"{field_name!r} is a field of every section; choose another "
                           "name")
        if not field_name.isidentifier():
            raise _problem(where, f"{field_name!r} is not a field name (letters, digits, _)")
        definitions[field_name] = _field(field_name, spec, where, name)
    return create_model(name, __base__=base, **definitions)


def _section_model(slug: str, type_name: str, declaration: Mapping[str, Any]) -> type:
    from .model import SECTION_TYPES, _Section

    where = f"publications.{slug}.section_types.{type_name}"
    if type_name in SECTION_TYPES:
        raise _problem(where, f"{type_name!r} is a built-in section type: override its template "
                       "instead, or choose another name")
    if not isinstance(declaration, Mapping):
        raise _problem(where, "expected a table with 'fields' (and optionally 'title')")
    unknown = set(declaration) - {"fields", "title", "description"}
    if unknown:
        raise _problem(where, f"unknown key(s) {', '.join(sorted(unknown))} (allowed: fields, "
                       "title, description)")
    fields = declaration.get("fields") or {}
    model = _model(f"Section_{slug}_{type_name}", fields, where, base=_Section,
                   extra={"type": (Literal[type_name], ...)})
    model.__doc__ = str(declaration.get("description") or f"The {type_name} section of {slug}.")
    model.default_heading = str(declaration.get("title", ""))  # type: ignore[attr-defined]
    return model


def check_declarations(slug: str, declarations: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` when a publication's section declarations are invalid."""
    custom_sections(slug, _freeze(declarations))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2
                                        and isinstance(p[0], str) for p in value):
        return {k: _thaw(v) for k, v in value}
    return value


@lru_cache(maxsize=64)
def custom_sections(slug: str, frozen: Any) -> dict[str, type]:
    """The section models a publication declares (type name → model class)."""
    declarations = _thaw(frozen) or {}
    return {name: _section_model(slug, name, decl) for name, decl in declarations.items()}


@lru_cache(maxsize=64)
def _issue_model_for(slug: str, frozen: Any) -> type:
    from .model import BUILTIN_SECTIONS, Issue

    custom = custom_sections(slug, frozen)
    members = tuple(BUILTIN_SECTIONS) + tuple(custom.values())
    union = typing.Union[members]  # noqa: UP007 - built from a tuple of classes
    model = create_model(f"Issue_{slug}", __base__=Issue,
                         sections=(list[Annotated[union, Field(discriminator="type")]],
                                   Field(min_length=1)))
    model.section_types = Issue.section_types + tuple(custom)  # type: ignore[attr-defined]
    return model


def issue_model(publication: Any) -> type:
    """The issue model of a publication: the built-in sections plus its declared ones."""
    from .model import Issue

    declarations = getattr(publication, "section_types", None) if publication else None
    if not declarations:
        return Issue
    return _issue_model_for(publication.slug, _freeze(declarations))
