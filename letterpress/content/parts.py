"""Parts shared by several sections: images, links, signatures, events, edito, footer."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..settings import Footer
from .fields import URL_SCHEME, ContentModel, Prose, TextLine, Url

__all__ = ["PHOTO_CREDITS_LABEL", "Edito", "Event", "FooterOverride", "Image", "Link",
           "Signature"]

# The footer line that lists photo credits, per language.
PHOTO_CREDITS_LABEL = {"fr": "Crédits photos", "en": "Photo credits"}


class Image(ContentModel):
    """An image: https URL or a path relative to the issue file's folder, with its alt text."""

    src: str
    decorative: bool = False
    alt: str | None = Field(default=None, validate_default=True)
    credit: str = ""
    width: int | None = Field(default=None, gt=0, le=2000)
    height: int | None = Field(default=None, gt=0, le=4000)
    link: Url | None = None
    # Set by the loader for local images; never read from YAML.
    local_path: Path | None = Field(default=None, exclude=True)

    @property
    def is_local(self) -> bool:
        """True when the image is a file next to the issue (published under /assets/)."""
        return self.local_path is not None

    @model_validator(mode="before")
    @classmethod
    def _resolve_local(cls, data: Any, info: ValidationInfo) -> Any:
        base = (info.context or {}).get("base_dir")
        if isinstance(data, dict) and base is not None and isinstance(data.get("src"), str):
            src = data["src"].strip()
            if src and not URL_SCHEME.match(src) and not src.startswith("/"):
                data = {**data, "local_path": (Path(base) / src).resolve()}
        return data

    @field_validator("src")
    @classmethod
    def _check_src(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise PydanticCustomError("empty_src", "an image needs a src (https URL or file path)")
        match = URL_SCHEME.match(value)
        if match:
            if match.group(1).lower() not in ("http", "https") or not value.lower().startswith(
                    ("http://", "https://")):
                raise PydanticCustomError(
                    "bad_image_src", "image source '{url}' refused: use an https URL or a file "
                    "in the issue folder", {"url": value})
            return value
        if value.startswith("/") or value.startswith("\\"):
            raise PydanticCustomError("image_outside", "image path '{path}' must be relative to "
                                      "the issue folder", {"path": value})
        base = (info.context or {}).get("base_dir")
        if base is not None:
            folder = Path(base).resolve()
            path = (folder / value).resolve()
            if not path.is_relative_to(folder):
                raise PydanticCustomError("image_outside", "image '{path}' is outside the issue "
                                          "folder", {"path": value})
            if not path.is_file():
                raise PydanticCustomError("image_not_found", "image file not found: {path}",
                                          {"path": value})
        return value

    @field_validator("alt")
    @classmethod
    def _needs_alt(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not info.data.get("decorative") and not (value or "").strip():
            raise PydanticCustomError(
                "missing_alt", "alt text is required: describe the image, or set "
                "'decorative: true' for a purely decorative one")
        return value


class Link(ContentModel):
    """A labelled link (a button or a "read more")."""

    label: TextLine
    url: Url


class Signature(ContentModel):
    """Who signs a piece: name and role."""

    name: TextLine
    role: str = ""


class Event(ContentModel):
    """When and where something happens: a date, an optional time range, place or online."""

    date: dt.date
    start: dt.time | None = None
    end: dt.time | None = None
    place: str = ""
    online: bool = False

    @model_validator(mode="after")
    def _end_after_start(self) -> Event:
        if self.end is not None and self.start is None:
            raise PydanticCustomError("end_without_start", "an end time needs a start time",
                                      {"field": "end"})
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise PydanticCustomError("end_before_start", "end time must be after start time",
                                      {"field": "end"})
        return self


class Edito(ContentModel):
    """A signed word from the programme direction at the top of the issue."""

    title: str = ""
    text: Prose
    name: TextLine
    role: str = ""
    image: Image | None = None


class FooterOverride(ContentModel):
    """Per-issue changes to the publication's footer (the colophon changes each month)."""

    organisation: str | None = None
    contact_label: str | None = None
    contact_email: str | None = None
    colophon: list[tuple[str, str]] | None = None
    photo_credits: str | None = None
    legal_mention: str | None = None
    copyright: str | None = None
    share_text: str | None = None
    # Footer blocks this issue does not carry.
    hide: list[Literal["share", "organisation", "contact", "colophon", "subscribe", "legal",
                       "copyright"]] = []

    def apply(self, footer: Footer, language: str = "fr") -> Footer:
        """The publication footer with this issue's overrides applied."""
        changes: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("organisation", "contact_label", "contact_email", "legal_mention",
                         "copyright", "share_text")
            if getattr(self, name) is not None
        }
        colophon = tuple(self.colophon) if self.colophon is not None else footer.colophon
        if self.photo_credits is not None:
            label = PHOTO_CREDITS_LABEL.get(language, PHOTO_CREDITS_LABEL["fr"])
            colophon = tuple(p for p in colophon if p[0] != label) + ((label, self.photo_credits),)
        changes["colophon"] = tuple(tuple(p) for p in colophon)
        for block, fields in _BLOCKS.items():
            if block in self.hide:
                changes.update(fields)
        return replace(footer, **changes)


_BLOCKS: dict[str, dict[str, Any]] = {
    "share": {"share_text": ""},
    "organisation": {"organisation": ""},
    "contact": {"contact_email": "", "contact_label": ""},
    "colophon": {"colophon": ()},
    "legal": {"legal_mention": ""},
    "copyright": {"copyright": ""},
}
