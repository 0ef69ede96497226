"""The Jinja2 environment the MJML templates run in: autoescape on, strict, with filters.

Templates live in the project's ``templates/mjml/`` folder so the team can change the layout
without touching Python.  Every value is escaped; HTML only enters through the Markdown filters
(:mod:`letterpress.markup`), which produce safe markup.  Filters and globals are documented in
``docs/render.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from .. import markup
from .assets import AssetRegistry, image_size
from .dates import (
    format_date_range,
    format_day,
    format_event,
    format_long,
    format_masthead,
    format_time_range,
)
from .placeholders import PLACEHOLDERS

__all__ = ["ImageView", "Pictures", "credit_line", "make_environment", "make_text_environment",
           "missing_text_overrides", "search_path"]

CONTENT_WIDTH = 600
"""Width of the mail body in pixels (the MJML ``mj-body`` width)."""


@dataclass(frozen=True)
class ImageView:
    """What a template needs to show an image: public URL, alt, display size, link."""

    src: str
    alt: str
    width: int
    height: int | None
    href: str
    credit: str


class Pictures:
    """Turns model images into :class:`ImageView` s, registering local files as assets."""

    def __init__(self, registry: AssetRegistry):
        self.registry = registry

    def __call__(self, image: Any, max_width: int = CONTENT_WIDTH - 50) -> ImageView:
        local = getattr(image, "local_path", None)
        natural: tuple[int, int] | None = None
        if local is not None:
            src = self.registry.url_for(Path(local))
            natural = image_size(Path(local))
        else:
            src = image.src
        if image.width:  # the editor's size wins over the file's
            ratio = natural[1] / natural[0] if natural and natural[0] else 0
            natural = (image.width, image.height or round(image.width * ratio))
        width = min(natural[0], max_width) if natural and natural[0] else max_width
        height = round(natural[1] * width / natural[0]) if natural and natural[1] else None
        alt = "" if image.decorative else (image.alt or "")
        return ImageView(src=src, alt=alt, width=width, height=height,
                         href=image.link or "", credit=image.credit or "")


def credit_line(credit: str, strings: Any) -> str:
    """"© ANCT" from a credit written with or without its copyright sign."""
    credit = credit.strip()
    if not credit or credit.startswith(("©", "(c)", "(C)")):
        return credit
    return strings.credit.format(credit=credit)


def search_path(templates_dir: Path, publication: str = "") -> list[str]:
    """Where templates are looked up: the publication's own folder first
    (``templates/mjml/<slug>/``), then the shared templates."""
    own = Path(templates_dir) / publication if publication else None
    folders = [own] if own is not None and own.is_dir() else []
    return [str(f) for f in folders + [Path(templates_dir)]]


def missing_text_overrides(templates_dir: Path, publication: str) -> list[str]:
    """Templates a publication overrides for the HTML part whose text-part twin it does not:
    ``header.mjml.j2`` without ``header.txt.j2`` would leave the old masthead in the text."""
    own = Path(templates_dir) / publication
    if not publication or not own.is_dir():
        return []
    missing = []
    for name in ("header", "footer", "edito"):
        if (own / f"{name}.mjml.j2").is_file() and not (own / f"{name}.txt.j2").is_file():
            missing.append(f"{name}.mjml.j2")
    shared = Path(templates_dir) / "sections"
    for path in sorted((own / "sections").glob("*.mjml.j2")):
        text = path.with_name(path.name.replace(".mjml.j2", ".txt.j2"))
        if (shared / path.name).is_file() and not text.is_file():
            missing.append(f"sections/{path.name}")  # a built-in section restyled
    return missing


@lru_cache(maxsize=16)
def make_text_environment(templates_dir: Path, language: str,
                          publication: str = "") -> Environment:
    """The environment of the text part's templates (``*.txt.j2``): same lookup, no HTML
    escaping, Markdown written as wrapped plain text."""
    env = Environment(loader=FileSystemLoader(search_path(templates_dir, publication)),
                      autoescape=False, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=False, auto_reload=True)
    env.filters.update(
        md=lambda value: markup.to_text(value or "", width=72),
        long_date=lambda d: format_long(d, language),
        date_range=lambda start, end=None: format_date_range(start, end, language),
        day=lambda d, with_year=False: format_day(d, language, with_year=with_year),
        time_range=lambda start, end=None: format_time_range(start, end, language),
    )
    return env


@lru_cache(maxsize=16)
def make_environment(templates_dir: Path, language: str, publication: str = "") -> Environment:
    """A Jinja2 environment over ``templates_dir`` with the letterpress filters and globals.

    Kept per (folder, language): compiling the templates costs ten times more than rendering
    them, and the preview re-renders on every save.  ``auto_reload`` re-reads a template whose
    file changed, so the cache never serves stale templates.  Everything that belongs to one
    issue (its assets, its strings) travels in the render context, never in the environment.
    """
    env = Environment(
        loader=FileSystemLoader(search_path(templates_dir, publication)),
        autoescape=True,  # MJML is XML: escape everything, insert markup only from markup.py
        undefined=StrictUndefined,  # a typo in a template is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=True,
        finalize=_finalize,
    )
    env.filters.update(
        md=markup.to_html,
        md_inline=markup.inline_html,
        long_date=lambda d: format_long(d, language),
        masthead_date=lambda d: format_masthead(d, language),
        date_range=lambda start, end=None: format_date_range(start, end, language),
        day=lambda d, with_year=False: format_day(d, language, with_year=with_year),
        time_range=lambda start, end=None: format_time_range(start, end, language),
        when=lambda d, start=None, end=None, reference=None: format_event(
            d, start, end, language, reference=reference),
        nl2br=_nl2br,
        credit=_credit,
    )
    env.globals.update(picture=_picture, CONTENT_WIDTH=CONTENT_WIDTH)
    return env


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` output: the placeholders pass; the same text typed in content does
    not, or delivery would substitute it (a zero-width space keeps it readable, inert)."""
    if isinstance(value, str) and "%%LP_" in value and value not in PLACEHOLDERS:
        return value.replace("%%LP_", "%%\u200bLP_")
    return value


@pass_context
def _credit(context: Context, value: str) -> str:
    return credit_line(value, context["t"])


@pass_context
def _picture(context: Context, image: Any, max_width: int = CONTENT_WIDTH - 50) -> ImageView:
    return context["pictures"](image, max_width)


def _nl2br(value: str) -> Markup:
    """Plain text with line breaks kept (escaped, then ``<br>`` between lines)."""
    lines = str(value).splitlines()
    return Markup("<br>").join(Markup.escape(line) for line in lines)


