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
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .fields import ContentModel, Line, Markdown, Prose, Text, Url, markdown_link_errors
from .parts import PHOTO_CREDITS_LABEL, Edito, Event, FooterOverride, Image, Link, Signature

__all__ = [
    "DEFAULT_TITLES",
    "PHOTO_CREDITS_LABEL",
    "SECTION_TYPES",
    "Actu",
    "ActuItem",
    "BUILTIN_SECTIONS",
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
    "KeyFigure",
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



def default_title(section_type: str, language: str = "fr") -> str:
    """The default heading of a section type in a language (French when unknown)."""
    table = DEFAULT_TITLES.get(language) or DEFAULT_TITLES["fr"]
    return table.get(section_type, DEFAULT_TITLES["fr"].get(section_type, ""))


# --------------------------------------------------------------------------- sections

class _Section(ContentModel):
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
            declared = getattr(cls, "default_heading", None)  # a declared section type's
            title = declared if declared is not None else default_title(
                str(data.get("type")), language)
            data = {**data, "title": title}
        return data


class ActuItem(ContentModel):
    """One news item."""

    title: Text
    kicker: str = ""
    text: Prose
    image: Image | None = None
    links: list[Link] = []
    signature: Signature | None = None


class Actu(_Section):
    """News items ("L'actu")."""

    type: Literal["actu"]
    items: list[ActuItem] = Field(min_length=1)


class KeyFigure(ContentModel):
    """One figure of a set ("239" communes, "220" projects…)."""

    figure: Text
    unit: str = ""
    caption: Prose


class Chiffre(_Section):
    """A big figure with its unit, caption and source ("Le chiffre du mois"), or a set of
    key figures side by side (``figures``)."""

    type: Literal["chiffre"]
    figure: Text | None = None
    unit: str = ""
    caption: Markdown = ""
    figures: list[KeyFigure] = []
    source: str = ""
    link: Url | None = None

    @model_validator(mode="after")
    def _one_or_several(self) -> Chiffre:
        if self.figures:
            if self.figure is not None:
                raise PydanticCustomError(
                    "figure_and_figures", "give either 'figure' or 'figures', not both",
                    {"at": "figure"})
            return self
        if self.figure is None:
            raise PydanticCustomError("missing_figure", "missing required field 'figure' (or "
                                      "a list of 'figures')")
        if not self.caption:
            raise PydanticCustomError("missing_caption", "missing required field 'caption'",
                                      {"field": "caption"})
        return self


class ImageDuMois(_Section):
    """The image of the month: a photo with a headline and a text."""

    type: Literal["image"]
    photo: Image
    photo_first: bool = False  # the photo above its kicker and headline
    kicker: str = ""
    headline: Text
    text: Markdown = ""
    links: list[Link] = []


class ClubItem(ContentModel):
    """An event or announcement of the club, with its date, time range, place and links."""

    label: str = ""
    title: Text
    image: Image | None = None
    text: Prose
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


class ProjectCard(ContentModel):
    """A project card of the projetothèque, with its département code."""

    title: Text
    departement: str = Field(pattern=r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-8])$")
    image: Image
    summary: Prose
    url: Url


class Projetotheque(_Section):
    """Project cards ("La projetothèque")."""

    type: Literal["projetotheque"]
    intro: Markdown = ""
    link: Link | None = None
    cards: list[ProjectCard] = Field(min_length=1)


class Webinaire(ContentModel):
    """A webinar: organiser, date, time range, place/online, description, registration."""

    title: Text
    organiser: Text
    date: dt.date
    start: dt.time
    end: dt.time
    place: str = ""
    online: bool = True
    text: Prose
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


class OffreItem(ContentModel):
    """A resource card of the services on offer."""

    kicker: str = ""
    title: Text
    text: Prose
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
    headline: Text
    text: Prose
    links: list[Link] = []


class VoirAussiItem(ContentModel):
    """A short pointer: a label ("Découvrir") and a text."""

    label: str = ""
    text: Prose
    image: Image | None = None


class VoirAussi(_Section):
    """Short pointers ("Voir aussi")."""

    type: Literal["voir_aussi"]
    items: list[VoirAussiItem] = Field(min_length=1)


class QuestionAnswer(ContentModel):
    """One question and its answer."""

    question: Text
    answer: Prose


class Interview(_Section):
    """An interview: person, role, photo and question/answer pairs."""

    type: Literal["interview"]
    person: Text
    role: str = ""
    photo: Image
    intro: Markdown = ""
    qa: list[QuestionAnswer] = Field(min_length=1)


class Tribune(_Section):
    """A point of view signed by its author."""

    type: Literal["tribune"]
    headline: str = ""  # often none: the author's name and role introduce the text
    author: Text
    role: str = ""
    text: Prose
    image: Image | None = None  # the author's portrait, shown beside the name


class AgendaEntry(ContentModel):
    """One entry of a grouped list: an event, a resource or a contest."""

    title: Text
    date: dt.date | None = None
    end_date: dt.date | None = None
    place: str = ""
    organiser: str = ""
    text: Markdown = ""
    url: Url | None = None  # links the title
    links: list[Link] = []  # labelled links: "Inscription ici", "Plus d'informations ici"


class AgendaGroup(ContentModel):
    """A titled group of entries."""

    title: Text
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
    text: Prose
    image: Image | None = None
    links: list[Link] = []


BUILTIN_SECTIONS = (Actu, Chiffre, ImageDuMois, Club, ClubDepartemental, Projetotheque,
                    Webinaires, OffreDeServices, OnParleDeVous, VoirAussi, Interview, Tribune,
                    Agenda, Recommandations, Texte)

Section = Annotated[
    Actu | Chiffre | ImageDuMois | Club | ClubDepartemental | Projetotheque | Webinaires
    | OffreDeServices | OnParleDeVous | VoirAussi | Interview | Tribune | Agenda
    | Recommandations | Texte,
    Field(discriminator="type"),
]

SECTION_TYPES: tuple[str, ...] = tuple(DEFAULT_TITLES["fr"])
"""Every section type, in the order the documentation presents them."""


# --------------------------------------------------------------------------- the issue

class Issue(ContentModel):
    """One issue of a publication, as written by the editors."""

    publication: str
    number: int = Field(gt=0)
    date: dt.date
    subject: Line = Field(min_length=1, max_length=200)
    preheader: Line = ""
    # The letter's own identity when it differs from the publication's defaults.
    name: Line = ""        # "La lettre d'information du Club des Petites villes de demain"
    masthead: Line = ""    # "23 NOVEMBRE 2020 - #1" instead of the computed line
    kicker: Line = ""      # "Communiqué de presse", under the masthead
    status: Literal["draft", "ready"] = "draft"
    edito: Edito | None = None
    intro: Markdown = ""
    sections: list[Section] = Field(min_length=1)
    footer: FooterOverride | None = None
    # Set by the loader, never read from YAML.
    source_path: Path | None = Field(default=None, exclude=True)
    source_hash: str = Field(default="", exclude=True)

    # The section types this model accepts (a publication may declare more: content.custom).
    section_types: ClassVar[tuple[str, ...]] = SECTION_TYPES

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
