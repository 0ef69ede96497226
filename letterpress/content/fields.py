"""Field types of the issue model: links, Markdown text and one-line text, checked once.

URLs accept only http(s) with a host and mailto with an address; Markdown links are checked
through :func:`letterpress.markup.links` (the one Markdown parser of the project).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ..markup import links as markdown_links

__all__ = ["URL_SCHEME", "ContentModel", "Line", "Markdown", "Prose", "Text", "TextLine", "Url",
           "markdown_link_errors"]

URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_PLACEHOLDERS = {"", "#", "about:blank"}


def _check_url(value: str) -> str:
    """A link target the reader can follow: http(s) with a host, or mailto with an address."""
    url = value.strip()
    if url in _PLACEHOLDERS or url.startswith("#"):
        raise PydanticCustomError("placeholder_url", "placeholder link '{url}': give the real "
                                  "address (https://…)", {"url": url})
    match = URL_SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("http", "https"):
        rest = url.split(":", 1)[1]
        if (not rest.startswith("//") or not re.match(r"^//[^/\s?#]+", rest)
                or any(c.isspace() for c in url)):
            raise PydanticCustomError("bad_url", "invalid address '{url}'", {"url": url})
    elif scheme == "mailto":
        if "@" not in url or any(c.isspace() for c in url):
            raise PydanticCustomError("bad_url", "invalid mailto address '{url}'", {"url": url})
    else:
        shown = scheme + ":" if scheme else "no scheme"
        raise PydanticCustomError(
            "bad_url_scheme", "link '{url}' refused ({shown}): only http, https and mailto links "
            "are allowed", {"url": url, "shown": shown})
    return url


def _check_markdown(value: str) -> str:
    """Every link written in a Markdown text must be a real, allowed target."""
    bad = markdown_link_errors(value)
    if bad:
        url, message = bad[0]
        raise PydanticCustomError("markdown_link", "{message}", {"url": url, "message": message})
    return value


def markdown_link_errors(value: str) -> list[tuple[str, str]]:
    """(target, message) for every link of a Markdown text that may not be published."""
    if not value:
        return []
    bad = []
    for url in markdown_links(value):
        stripped = url.strip()
        if stripped.startswith("#") and len(stripped) > 1:
            continue  # an in-page anchor
        if stripped.lower().startswith("tel:") and len(stripped) > 4:
            continue
        try:
            _check_url(stripped)
        except PydanticCustomError as exc:
            bad.append((url, exc.message()))
    return bad


_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")


def _single_line(value: str) -> str:
    # A header (Subject) must never be split by content: refuse every kind of line break.
    if _LINE_BREAKS.search(value):
        raise PydanticCustomError("multiline", "must be a single line (no line breaks)")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Markdown = Annotated[str, AfterValidator(_check_markdown)]
Line = Annotated[str, AfterValidator(_single_line)]

# Required text: empty (or only spaces, stripped first) is refused like missing text, so a
# heading, a figure or a question never renders empty.
Text = Annotated[str, Field(min_length=1)]
Prose = Annotated[str, Field(min_length=1), AfterValidator(_check_markdown)]
TextLine = Annotated[str, Field(min_length=1), AfterValidator(_single_line)]


# C0/C1 control characters other than tab and line breaks: invisible, refused by the MJML
# compiler, and in a mail header a way to smuggle content.  "\v" pasted from a word processor
# reaches us through a double-quoted YAML escape.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")


class ContentModel(BaseModel):
    """Base of every content model: frozen, unknown keys refused, text stripped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value):
        if isinstance(value, str) and (found := _CONTROL.search(value)):
            raise PydanticCustomError(
                "control_character", "contains an invisible control character (U+{code}, "
                "often pasted from a word processor): remove it",
                {"code": f"{ord(found.group()):04X}"})
        return value
