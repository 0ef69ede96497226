"""The issue content model: what an editor may write in an issue's YAML file.

Every model is a frozen pydantic v2 model that forbids unknown keys.  Text fields hold the
Markdown source of the safe subset (see :mod:`letterpress.markup`); the model never converts
them.  Validation context (passed by the loader) may hold:

* ``language`` — the publication's language, for default section titles (``fr`` otherwise);
* ``publications`` — the known publication slugs, to refuse an unknown one;
* ``base_dir`` — the issue file's folder, to resolve and check local images.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..settings import Footer

__all__ = [
    "DEFAULT_TITLES",
    "SECTION_TYPES",
    "Actu",
    "ActuItem",
    "Agenda",
    "AgendaEntry",
    "AgendaGroup",
    "Chiffre",
    "Club",
    "ClubDepartemental",
    "ClubItem",
    "Edito",
    "Event",
    "FooterOverride",
    "Image",
    "ImageDuMois",
    "Interview",
    "Issue",
    "Link",
    "OffreDeServices",
    "OffreItem",
    "OnParleDeVous",
    "ProjectCard",
    "Projetotheque",
    "QuestionAnswer",
    "Recommandations",
    "Section",
    "Signature",
    "Texte",
    "Tribune",
    "VoirAussi",
    "VoirAussiItem",
    "Webinaire",
    "Webinaires",
    "default_title",
    "markdown_link_errors",
]

# Default section headings, per publication language ('fr' first).  A publication in another
# language gets its own defaults; an unknown language falls back to French.
DEFAULT_TITLES: dict[str, dict[str, str]] = {
    "fr": {
        "actu": "L'actu",
        "chiffre": "Le chiffre du mois",
        "image": "L'image du mois",
        "club": "Le Club",
        "club_departemental": "Le Club départemental",
        "projetotheque": "La projetothèque",
        "webinaires": "Webinaires",
        "offre_de_services": "L'offre de services",
        "on_parle_de_vous": "On parle de vous",
        "voir_aussi": "Voir aussi",
        "interview": "L'interview",
        "tribune": "Tribune",
        "agenda": "Agenda",
        "recommandations": "Nos recommandations",
        "texte": "",
    },
    "en": {
        "actu": "News",
        "chiffre": "Figure of the month",
        "image": "Picture of the month",
        "club": "The Club",
        "club_departemental": "The local Club",
        "projetotheque": "Project library",
        "webinaires": "Webinars",
        "offre_de_services": "Services on offer",
        "on_parle_de_vous": "In the press",
        "voir_aussi": "See also",
        "interview": "Interview",
        "tribune": "Opinion",
        "agenda": "Diary",
        "recommandations": "Our recommendations",
        "texte": "",
    },
}

# The footer line that lists photo credits, per language.
PHOTO_CREDITS_LABEL = {"fr": "Crédits photos", "en": "Photo credits"}


def default_title(section_type: str, language: str = "fr") -> str:
    """The default heading of a section type in a language (French when unknown)."""
    table = DEFAULT_TITLES.get(language) or DEFAULT_TITLES["fr"]
    return table.get(section_type, DEFAULT_TITLES["fr"].get(section_type, ""))


# --------------------------------------------------------------------------- field types

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_PLACEHOLDERS = {"", "#", "about:blank"}


def _check_url(value: str) -> str:
    """A link target the reader can follow: http(s) with a host, or mailto with an address."""
    url = value.strip()
    if url in _PLACEHOLDERS or url.startswith("#"):
        raise PydanticCustomError("placeholder_url", "placeholder link '{url}': give the real "
                                  "address (https://…)", {"url": url})
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("http", "https"):
        rest = url.split(":", 1)[1]
        if not rest.startswith("//") or not re.match(r"^//[^/\s?#]+", rest) or " " in url:
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
    links = _markdown_links()
    if links is None or not value:
        return []
    bad = []
    for url in links(value):
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


def _markdown_links():
    """``letterpress.markup.links`` (the one Markdown parser of the project), if present."""
    try:
        from ..markup import links
    except ImportError:  # the renderer's Markdown module is optional for the model itself
        return None
    return links


_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")


def _single_line(value: str) -> str:
    # A header (Subject) must never be split by content: refuse every kind of line break.
    if _LINE_BREAKS.search(value):
        raise PydanticCustomError("multiline", "must be a single line (no line breaks)")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Markdown = Annotated[str, AfterValidator(_check_markdown)]
Line = Annotated[str, AfterValidator(_single_line)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- shared parts

class Image(_Model):
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
            if src and not _SCHEME.match(src) and not src.startswith("/"):
                data = {**data, "local_path": (Path(base) / src).resolve()}
        return data

    @field_validator("src")
    @classmethod
    def _check_src(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise PydanticCustomError("empty_src", "an image needs a src (https URL or file path)")
        match = _SCHEME.match(value)
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


class Link(_Model):
    """A labelled link (a button or a "read more")."""

    label: Line
    url: Url


class Signature(_Model):
    """Who signs a piece: name and role."""

    name: Line
    role: str = ""


class Event(_Model):
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


class Edito(_Model):
    """A signed word from the programme direction at the top of the issue."""

    title: str = ""
    text: Markdown
    name: Line
    role: str = ""
    image: Image | None = None


class FooterOverride(_Model):
    """Per-issue changes to the publication's footer (the colophon changes each month)."""

    organisation: str | None = None
    contact_label: str | None = None
    contact_email: str | None = None
    colophon: list[tuple[str, str]] | None = None
    photo_credits: str | None = None
    legal_mention: str | None = None
    copyright: str | None = None
    share_text: str | None = None

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
        return replace(footer, **changes)


# --------------------------------------------------------------------------- sections

class _Section(_Model):
    """Fields every section has: its type, a heading (default per type) and an anchor."""

    title: str = ""
    anchor: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")

    @model_validator(mode="before")
    @classmethod
    def _default_title(cls, data: Any, info: ValidationInfo) -> Any:
        # Absent or null title → the type's default in the publication's language;
        # an explicit "" keeps the section without a heading.
        if isinstance(data, dict) and data.get("title") is None:
            language = (info.context or {}).get("language", "fr")
            data = {**data, "title": default_title(str(data.get("type")), language)}
        return data


class ActuItem(_Model):
    """One news item."""

    title: str
    kicker: str = ""
    text: Markdown
    image: Image | None = None
    links: list[Link] = []
    signature: Signature | None = None


class Actu(_Section):
    """News items ("L'actu")."""

    type: Literal["actu"]
    items: list[ActuItem] = Field(min_length=1)


class Chiffre(_Section):
    """A big figure with its unit, caption and source ("Le chiffre du mois")."""

    type: Literal["chiffre"]
    figure: str
    unit: str = ""
    caption: Markdown
    source: str = ""
    link: Url | None = None


class ImageDuMois(_Section):
    """The image of the month: a photo with a headline and a text."""

    type: Literal["image"]
    photo: Image
    kicker: str = ""
    headline: str
    text: Markdown = ""
    links: list[Link] = []


class ClubItem(_Model):
    """An event or announcement of the club, with its date, time range, place and links."""

    label: str = ""
    title: str
    image: Image | None = None
    text: Markdown
    event: Event | None = None
    links: list[Link] = []


class Club(_Section):
    """Club events and announcements ("Le Club")."""

    type: Literal["club"]
    items: list[ClubItem] = Field(min_length=1)


class ClubDepartemental(_Section):
    """Local club events and announcements ("Le Club départemental")."""

    type: Literal["club_departemental"]
    items: list[ClubItem] = Field(min_length=1)


class ProjectCard(_Model):
    """A project card of the projetothèque, with its département code."""

    title: str
    departement: str = Field(pattern=r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-8])$")
    image: Image
    summary: Markdown
    url: Url


class Projetotheque(_Section):
    """Project cards ("La projetothèque")."""

    type: Literal["projetotheque"]
    intro: Markdown = ""
    link: Link | None = None
    cards: list[ProjectCard] = Field(min_length=1)


class Webinaire(_Model):
    """A webinar: organiser, date, time range, place/online, description, registration."""

    title: str
    organiser: str
    date: dt.date
    start: dt.time
    end: dt.time
    place: str = ""
    online: bool = True
    text: Markdown
    registration_url: Url
    image: Image | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> Webinaire:
        if self.end <= self.start:
            raise PydanticCustomError("end_before_start", "end time must be after start time",
                                      {"field": "end"})
        return self


class Webinaires(_Section):
    """Coming webinars."""

    type: Literal["webinaires"]
    intro: Markdown = ""
    items: list[Webinaire] = Field(min_length=1)


class OffreItem(_Model):
    """A resource card of the services on offer."""

    kicker: str = ""
    title: str
    text: Markdown
    image: Image | None = None
    url: Url | None = None
    links: list[Link] = []


class OffreDeServices(_Section):
    """Resources, tools and programmes ("L'offre de services")."""

    type: Literal["offre_de_services"]
    intro: Markdown = ""
    items: list[OffreItem] = Field(min_length=1)


class OnParleDeVous(_Section):
    """Press coverage ("On parle de vous")."""

    type: Literal["on_parle_de_vous"]
    image: Image | None = None
    headline: str
    text: Markdown
    links: list[Link] = []


class VoirAussiItem(_Model):
    """A short pointer: a label ("Découvrir") and a text."""

    label: str = ""
    text: Markdown
    image: Image | None = None


class VoirAussi(_Section):
    """Short pointers ("Voir aussi")."""

    type: Literal["voir_aussi"]
    items: list[VoirAussiItem] = Field(min_length=1)


class QuestionAnswer(_Model):
    """One question and its answer."""

    question: str
    answer: Markdown


class Interview(_Section):
    """An interview: person, role, photo and question/answer pairs."""

    type: Literal["interview"]
    person: str
    role: str = ""
    photo: Image
    intro: Markdown = ""
    qa: list[QuestionAnswer] = Field(min_length=1)


class Tribune(_Section):
    """A point of view signed by its author."""

    type: Literal["tribune"]
    headline: str
    author: str
    role: str = ""
    text: Markdown
    image: Image | None = None


class AgendaEntry(_Model):
    """One entry of a grouped list: an event, a resource or a contest."""

    title: str
    date: dt.date | None = None
    end_date: dt.date | None = None
    place: str = ""
    text: Markdown = ""
    url: Url | None = None


class AgendaGroup(_Model):
    """A titled group of entries."""

    title: str
    items: list[AgendaEntry] = Field(min_length=1)


class Agenda(_Section):
    """Grouped events ("Agenda")."""

    type: Literal["agenda"]
    intro: Markdown = ""
    groups: list[AgendaGroup] = Field(min_length=1)


class Recommandations(_Section):
    """Grouped resources and contests ("Nos recommandations")."""

    type: Literal["recommandations"]
    intro: Markdown = ""
    groups: list[AgendaGroup] = Field(min_length=1)


class Texte(_Section):
    """A free text section, so an editor is never stuck."""

    type: Literal["texte"]
    text: Markdown
    image: Image | None = None
    links: list[Link] = []


Section = Annotated[
    Actu | Chiffre | ImageDuMois | Club | ClubDepartemental | Projetotheque | Webinaires
    | OffreDeServices | OnParleDeVous | VoirAussi | Interview | Tribune | Agenda
    | Recommandations | Texte,
    Field(discriminator="type"),
]

SECTION_TYPES: tuple[str, ...] = tuple(DEFAULT_TITLES["fr"])
"""Every section type, in the order the documentation presents them."""


# --------------------------------------------------------------------------- the issue

class Issue(_Model):
    """One issue of a publication, as written by the editors."""

    publication: str
    number: int = Field(gt=0)
    date: dt.date
    subject: Line = Field(min_length=1, max_length=200)
    preheader: Line = ""
    status: Literal["draft", "ready"] = "draft"
    edito: Edito | None = None
    intro: Markdown = ""
    sections: list[Section] = Field(min_length=1)
    footer: FooterOverride | None = None
    # Set by the loader, never read from YAML.
    source_path: Path | None = Field(default=None, exclude=True)
    source_hash: str = Field(default="", exclude=True)

    @field_validator("publication")
    @classmethod
    def _known_publication(cls, value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("publications")
        if known is not None and value not in known:
            raise PydanticCustomError(
                "unknown_publication", "unknown publication '{value}' (known: {known})",
                {"value": value, "known": ", ".join(known) or "none"})
        return value

    @model_validator(mode="after")
    def _unique_anchors(self) -> Issue:
        seen: set[str] = set()
        for index, section in enumerate(self.sections):
            if section.anchor is None:
                continue
            if section.anchor in seen:
                raise PydanticCustomError(
                    "duplicate_anchor", "anchor '{anchor}' is already used by another section",
                    {"anchor": section.anchor, "at": f"sections.{index}.anchor"})
            seen.add(section.anchor)
        return self

    @property
    def identity(self) -> str:
        """``slug#number``, e.g. ``pvd#42``."""
        return f"{self.publication}#{self.number}"

    @property
    def slug(self) -> str:
        """The issue's URL slug in the archive: its number."""
        return str(self.number)

    def images(self) -> Iterator[Image]:
        """Every image of the issue, in reading order."""
        yield from _images_in(self)


def _images_in(value: Any) -> Iterator[Image]:
    if isinstance(value, Image):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _images_in(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _images_in(item)
