"""The plain-text part, written from the issue model (not an HTML dump).

Readable in a terminal mail client: headings underlined, lists kept, lines wrapped at 72
columns, links in running text as numbered footnotes listed before the footer, calls to
action as a label with the URL on the next line.  Images are not part of it, so neither are
their credits (the footer's "Crédits photos" line lists them).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import markup
from .dates import format_date_range, format_event

__all__ = ["WIDTH", "TextContext", "write_text"]

WIDTH = 72


@dataclass(frozen=True)
class TextContext:
    """What the writer needs besides the issue: language, strings, URLs, footer."""

    language: str
    t: Any  # the reader-facing strings of the language (render.strings)
    masthead: str
    publication_name: str
    web_url: str
    subscribe_url: str
    unsubscribe_url: str
    preferences_url: str
    footer: Any  # settings.Footer with the issue's overrides
    copyright: str
    kicker: str = ""  # the issue's own kicker line ("Communiqué de presse")
    show_subscribe: bool = True
    # render(name, **extra) -> str | None: the publication's text templates (header.txt.j2,
    # sections/<type>.txt.j2), which replace the built-in writing when they exist.
    templates: Callable[..., str | None] | None = None


class _Doc:
    """Accumulates wrapped blocks separated by blank lines, and the shared footnotes."""

    def __init__(self, ctx: TextContext):
        self.ctx = ctx
        self.blocks: list[str] = []
        self.notes: list[str] = []

    def add(self, block: str) -> None:
        if block and block.strip():
            self.blocks.append(block.rstrip())

    def md(self, source: str) -> None:
        self.add(markup.to_text(source, width=WIDTH, notes=self.notes))

    def para(self, text: str) -> None:
        self.add(_wrap(text))

    def section_heading(self, title: str) -> None:
        if title:
            title = title.upper()
            self.add(f"{'=' * min(len(title), WIDTH)}\n{title}\n{'=' * min(len(title), WIDTH)}")

    def title(self, title: str, kicker: str = "") -> None:
        lines = _wrap(title).split("\n")
        underline = "-" * min(max(len(line) for line in lines), WIDTH)
        head = (kicker.upper() + "\n") if kicker else ""
        self.add(head + "\n".join(lines) + "\n" + underline)

    def link(self, label: str, url: str) -> None:
        self.add(f"{label}\n{url}")


def _wrap(text: str, indent: str = "") -> str:
    return "\n".join(textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False)) or ""


def write_text(issue: Any, ctx: TextContext) -> str:
    """The whole text part of ``issue``; placeholders stand for the recipient's URLs."""
    doc = _Doc(ctx)
    own = ctx.templates or (lambda name, **extra: None)
    header = own("header.txt.j2")
    doc.add(header if header is not None else ctx.publication_name.upper() + "\n" + ctx.masthead)
    if ctx.kicker:
        doc.add(ctx.kicker.upper())
    doc.add(ctx.t.text_web_version.format(url=ctx.web_url))
    if issue.preheader:
        doc.para(issue.preheader)
    doc.md(issue.intro)
    if issue.edito:
        edito = issue.edito
        if edito.title:
            doc.title(edito.title)
        doc.md(edito.text)
        doc.add(edito.name + ("\n" + edito.role if edito.role else ""))
    for section in issue.sections:
        doc.section_heading(section.title)
        written = own(f"sections/{section.type}.txt.j2", section=section)
        if written is not None:
            doc.add(written)
        else:
            _WRITERS.get(section.type, _declared)(doc, section, issue)
    if doc.notes:
        width = len(str(len(doc.notes)))
        lines = [f"[{i}]".rjust(width + 2) + f" {url}" for i, url in enumerate(doc.notes, 1)]
        doc.add(ctx.t.links + "\n" + "-" * len(ctx.t.links) + "\n" + "\n".join(lines))
    _footer(doc)
    return "\n\n".join(doc.blocks) + "\n"


def _footer(doc: _Doc) -> None:
    ctx, footer = doc.ctx, doc.ctx.footer
    doc.add("-" * WIDTH)
    if footer.share_text:
        doc.add(f"{footer.share_text}\n{ctx.web_url}")
    lines = [footer.organisation] if footer.organisation else []
    if footer.contact_email:
        lines.append(f"{footer.contact_label} {footer.contact_email}".strip())
    doc.add("\n".join(_wrap(line) for line in lines))
    doc.add("\n".join(_wrap(f"{label}{ctx.t.colon}{value}") for label, value in footer.colophon))
    if ctx.show_subscribe:
        doc.add(ctx.t.text_subscribe.format(url=ctx.subscribe_url))
    if footer.legal_mention:
        doc.add(markup.to_text(footer.legal_mention, width=WIDTH))
    if ctx.copyright:
        doc.para(ctx.copyright)
    doc.add(ctx.t.text_unsubscribe.format(url=ctx.unsubscribe_url) + "\n"
            + ctx.t.text_preferences.format(url=ctx.preferences_url))


# --------------------------------------------------------------------------- sections

def _when(doc: _Doc, issue: Any, day: Any, start: Any = None, end: Any = None) -> str:
    return format_event(day, start, end, doc.ctx.language, reference=issue.date)


def _actu(doc: _Doc, section: Any, issue: Any) -> None:
    for item in section.items:
        doc.title(item.title, item.kicker)
        doc.md(item.text)
        if item.signature:
            sig = item.signature
            doc.add(sig.name + ("\n" + sig.role if sig.role else ""))
        for link in item.links:
            doc.link(link.label, link.url)


def _chiffre(doc: _Doc, section: Any, issue: Any) -> None:
    if section.figures:
        doc.md(section.caption)
        for one in section.figures:
            doc.add(f"{one.figure} {one.unit}".strip())
            doc.md(one.caption)
    else:
        doc.add(f"{section.figure} {section.unit}".strip())
        doc.md(section.caption)
    if section.source:
        doc.para(f"({section.source})" if not section.link else f"({section.source}{doc.ctx.t.colon}{section.link})")


def _image(doc: _Doc, section: Any, issue: Any) -> None:
    doc.title(section.headline, section.kicker)
    doc.md(section.text)
    for link in section.links:
        doc.link(link.label, link.url)


def _club(doc: _Doc, section: Any, issue: Any) -> None:
    for item in section.items:
        doc.title(item.title, item.label)
        if item.event:
            event = item.event
            where = [_when(doc, issue, event.date, event.start, event.end)]
            where += [event.place] if event.place else []
            where += [doc.ctx.t.online] if event.online else []
            doc.para(" · ".join(where))
        doc.md(item.text)
        for link in item.links:
            doc.link(link.label, link.url)


def _projetotheque(doc: _Doc, section: Any, issue: Any) -> None:
    doc.md(section.intro)
    for card in section.cards:
        doc.title(f"{card.title} ({card.departement})")
        doc.md(card.summary)
        doc.link(doc.ctx.t.read_more, card.url)
    if section.link:
        doc.link(section.link.label, section.link.url)


def _webinaires(doc: _Doc, section: Any, issue: Any) -> None:
    doc.md(section.intro)
    t = doc.ctx.t
    for item in section.items:
        doc.title(item.title)
        where = [_when(doc, issue, item.date, item.start, item.end),
                 t.online if item.online else t.in_person]
        where += [item.place] if item.place else []
        doc.para(" · ".join(where))
        doc.para(t.organised_by.format(organiser=item.organiser))
        doc.md(item.text)
        doc.link(t.register, item.registration_url)


def _offre(doc: _Doc, section: Any, issue: Any) -> None:
    doc.md(section.intro)
    for item in section.items:
        doc.title(item.title, item.kicker)
        doc.md(item.text)
        if item.url:
            doc.link(doc.ctx.t.read_more, item.url)
        for link in item.links:
            doc.link(link.label, link.url)


def _on_parle_de_vous(doc: _Doc, section: Any, issue: Any) -> None:
    doc.title(section.headline)
    doc.md(section.text)
    for link in section.links:
        doc.link(link.label, link.url)


def _voir_aussi(doc: _Doc, section: Any, issue: Any) -> None:
    for item in section.items:
        # Unwrapped first, so the label can lead the first line; then each line is wrapped.
        text = markup.to_text(item.text, width=10**6, notes=doc.notes)
        if item.label:
            text = f"{item.label}{doc.ctx.t.colon}{text}"
        doc.add("\n".join(_wrap(line) if line.strip() else "" for line in text.split("\n")))


def _interview(doc: _Doc, section: Any, issue: Any) -> None:
    doc.title(section.person)
    if section.role:
        doc.para(section.role)
    doc.md(section.intro)
    for pair in section.qa:
        doc.para(f"{doc.ctx.t.question} {pair.question}")
        answer = markup.to_text(pair.answer, width=WIDTH - 3, notes=doc.notes)
        prefix = f"{doc.ctx.t.answer} "
        doc.add(prefix + textwrap.indent(answer, " " * len(prefix))[len(prefix):])


def _tribune(doc: _Doc, section: Any, issue: Any) -> None:
    signature = section.author + ("\n" + section.role if section.role else "")
    if section.image:  # introduced by name and role, as beside the portrait
        doc.add(signature)
    if section.headline:
        doc.title(section.headline)
    doc.md(section.text)
    if not section.image:
        doc.add(signature)


def _agenda(doc: _Doc, section: Any, issue: Any) -> None:
    doc.md(section.intro)
    lang = doc.ctx.language
    for group in section.groups:
        doc.title(group.title)
        entries = []
        for entry in group.items:
            lines = [_wrap(entry.title)]
            if entry.date:
                when = format_date_range(entry.date, entry.end_date, lang)
                lines.append(when + (f" · {entry.place}" if entry.place else ""))
            elif entry.place:
                lines.append(entry.place)
            if entry.organiser:
                lines.append(doc.ctx.t.organised_by.format(organiser=entry.organiser))
            if entry.text:
                lines.append(markup.to_text(entry.text, width=WIDTH - 2, notes=doc.notes))
            if entry.url:
                lines.append(entry.url)
            for link in entry.links:
                lines.append(f"{link.label}{doc.ctx.t.colon}{link.url}")
            body = "\n".join(lines)
            entries.append("- " + body.replace("\n", "\n  "))
        doc.add("\n".join(entries))


def _texte(doc: _Doc, section: Any, issue: Any) -> None:
    doc.md(section.text)
    for link in section.links:
        doc.link(link.label, link.url)


def _declared(doc: _Doc, section: Any, issue: Any) -> None:
    """A section type declared in letterpress.toml: its fields in declaration order."""
    _fields_of(doc, section, skip={"type", "title", "anchor"})


def _fields_of(doc: _Doc, value: Any, skip: set[str] = frozenset()) -> None:
    import datetime as dt

    from pydantic import BaseModel

    for name in type(value).model_fields:
        if name in skip:
            continue
        field = getattr(value, name)
        if isinstance(field, str) and field:
            doc.md(field)
        elif isinstance(field, dt.date):
            doc.para(format_date_range(field, None, doc.ctx.language))
        elif isinstance(field, BaseModel):
            if hasattr(field, "label") and hasattr(field, "url"):
                doc.link(field.label, field.url)
            elif not hasattr(field, "src"):  # images are not part of the text
                _fields_of(doc, field)
        elif isinstance(field, list):
            for item in field:
                if isinstance(item, BaseModel):
                    _fields_of(doc, item)
                elif item:
                    doc.md(str(item))


_WRITERS: dict[str, Callable[[_Doc, Any, Any], None]] = {
    "actu": _actu,
    "chiffre": _chiffre,
    "image": _image,
    "club": _club,
    "club_departemental": _club,
    "projetotheque": _projetotheque,
    "webinaires": _webinaires,
    "offre_de_services": _offre,
    "on_parle_de_vous": _on_parle_de_vous,
    "voir_aussi": _voir_aussi,
    "interview": _interview,
    "tribune": _tribune,
    "agenda": _agenda,
    "recommandations": _agenda,
    "texte": _texte,
}
