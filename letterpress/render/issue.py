"""render_issue: the one call that turns a validated issue into a :class:`RenderedIssue`."""

from __future__ import annotations

import re
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateError, TemplateNotFound, TemplateSyntaxError

from ..css import css_theme
from ..errors import RenderError
from ..settings import Footer, Publication, Settings
from ..stats.rewrite import prepare_html
from .assets import AssetRegistry
from .dates import format_masthead
from .environment import (
    ImageView,
    Pictures,
    make_environment,
    make_text_environment,
    missing_text_overrides,
)
from .inline import inline_css
from .mjml import compile_mjml
from .placeholders import PREFERENCES_URL, RECIPIENT_NAME, UNSUBSCRIBE_URL
from .rendered import RenderedIssue, content_hash
from .strings import strings_for
from .text import TextContext, write_text
from .typography import typeset, typeset_issue

__all__ = ["BASE_TEMPLATE", "CSS_TEMPLATE", "render_issue", "render_mjml", "render_sources",
           "single_line"]

BASE_TEMPLATE = "base.mjml.j2"
CSS_TEMPLATE = "inline.css.j2"
_TEXT_UNSUBSCRIBE = "\ue000unsubscribe\ue000"  # private-use sentinels, see render_issue
_TEXT_PREFERENCES = "\ue000preferences\ue000"
_NEWLINES = re.compile(r"[\r\n\v\f\u2028\u2029\x85]+")
# Characters XML (hence MJML) cannot hold.  Word pastes vertical tabs and form feeds as line
# breaks, so those become newlines; the rest is dropped rather than failing the whole issue.
_XML_BREAKS = str.maketrans({"\v": "\n", "\f": "\n"})
_XML_INVALID = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def render_issue(issue: Any, settings: Settings) -> RenderedIssue:
    """Render ``issue`` once: HTML and text with per-recipient placeholders. No I/O but reads."""
    publication = settings.publication(issue.publication)
    missing = missing_text_overrides(settings.templates_dir, publication.slug)
    if missing:
        name = missing[0]
        raise RenderError(
            f"{publication.slug}/{name} changes the HTML part, but the text part would keep the "
            f"shared wording: add {publication.slug}/{name.replace('.mjml.j2', '.txt.j2')} "
            "beside it", template=f"{publication.slug}/{name}")
    registry = AssetRegistry(settings.base_url)
    content = typeset_issue(issue, publication.language)  # what readers see, typeset
    context = _context(content, settings, publication, registry)
    source, css = _sources(context, settings, publication)
    html = inline_css(compile_mjml(source, template=BASE_TEMPLATE), css)
    html, links = prepare_html(html, publication=publication.slug, number=issue.number,
                               base_url=settings.base_url, click_stats=publication.click_stats,
                               open_stats=publication.open_stats)  # aggregate statistics
    text = xml_safe(write_text(content, TextContext(
        language=publication.language, t=context["t"], masthead=context["masthead"],
        publication_name=context["publication_name"], kicker=context["kicker"],
        show_subscribe=context["show_subscribe"], web_url=context["web_url"],
        subscribe_url=context["subscribe_url"], unsubscribe_url=_TEXT_UNSUBSCRIBE,
        preferences_url=_TEXT_PREFERENCES, footer=context["footer"],
        copyright=context["copyright"],
        templates=_text_templates(context, settings, publication))))
    # Placeholder-like text typed in content is made inert; only the footer's are real.
    text = (text.replace("%%LP_", "%%\u200bLP_").replace(_TEXT_UNSUBSCRIBE, UNSUBSCRIBE_URL)
            .replace(_TEXT_PREFERENCES, PREFERENCES_URL))
    subject = single_line(xml_safe(issue.subject))
    return RenderedIssue(
        issue=issue, publication=publication, subject=subject,
        preheader=single_line(xml_safe(issue.preheader)), html=html, text=text,
        web_url=context["web_url"], content_hash=content_hash(subject, html, text),
        assets=registry.sorted_assets(), base_url=settings.base_url, links=links)


def render_sources(issue: Any, settings: Settings) -> tuple[str, str]:
    """The MJML source of ``issue`` and the CSS to inline, before compilation (debugging and
    the benchmark)."""
    publication = settings.publication(issue.publication)
    context = _context(typeset_issue(issue, publication.language), settings, publication,
                       AssetRegistry(settings.base_url))
    return _sources(context, settings, publication)


def render_mjml(issue: Any, settings: Settings) -> str:
    """The MJML source of ``issue`` before compilation."""
    return render_sources(issue, settings)[0]


def _sources(context: dict[str, Any], settings: Settings,
             publication: Publication) -> tuple[str, str]:
    env = make_environment(settings.templates_dir, publication.language, publication.slug)
    return (xml_safe(_render_template(env, BASE_TEMPLATE, context)),
            _render_template(env, CSS_TEMPLATE, context))


def _text_templates(context: dict[str, Any], settings: Settings,
                    publication: Publication) -> Any:
    """``render(name, **extra) -> str | None``: a text template of the publication (or shared),
    None when there is none, so the text part follows the same overrides as the HTML."""
    env = make_text_environment(settings.templates_dir, publication.language, publication.slug)

    def render(name: str, **extra: Any) -> str | None:
        try:
            template = env.get_template(name)
        except TemplateNotFound:
            return None
        try:
            return template.render({**context, **extra}).strip("\n")
        except (TemplateError, TypeError, AttributeError, KeyError, ValueError) as exc:
            where, line = _template_position(sys.exc_info()[2], name)
            raise RenderError(str(exc), template=where, line=line) from None

    return render


def xml_safe(value: str) -> str:
    """``value`` without the control characters XML (and so MJML) refuses."""
    return _XML_INVALID.sub("", value.translate(_XML_BREAKS))


def single_line(value: str) -> str:
    """Collapse any line break into a space: nothing from content may split a mail header."""
    return _NEWLINES.sub(" ", value or "").strip()


def _footer(issue: Any, publication: Publication) -> Footer:
    footer = (publication.footer if issue.footer is None
              else issue.footer.apply(publication.footer, publication.language))
    language = publication.language
    return replace(
        footer, **{name: typeset(getattr(footer, name), language)
                   for name in ("organisation", "contact_label", "legal_mention", "copyright",
                                "share_text")},
        colophon=tuple((typeset(label, language), typeset(value, language))
                       for label, value in footer.colophon))


def _logo(publication: Publication, settings: Settings, registry: AssetRegistry) -> ImageView | None:
    theme = publication.theme
    if not theme.logo_url:
        return None
    alt = theme.logo_alt or publication.name
    if theme.logo_url.startswith(("https://", "http://")):
        return ImageView(theme.logo_url, alt, theme.logo_width, None, "", "")
    path = Path(theme.logo_url)
    path = path if path.is_absolute() else settings.project_dir / path
    if not path.is_file():
        return None  # the masthead falls back to the publication's name in text
    return ImageView(registry.url_for(path), alt, theme.logo_width, None, "", "")


def _context(issue: Any, settings: Settings, publication: Publication,
             registry: AssetRegistry) -> dict[str, Any]:
    base = settings.base_url
    t = strings_for(publication.language)
    footer = _footer(issue, publication)
    masthead = getattr(issue, "masthead", "") or (
        f"{format_masthead(issue.date, publication.language)} - "
        + t.masthead.format(number=issue.number))
    hidden = set(issue.footer.hide) if issue.footer is not None else set()
    return {
        "issue": issue,
        "publication": publication,
        "theme": css_theme(publication.theme),  # values checked and CSS-safe (letterpress.css)
        "footer": footer,
        "copyright": footer.copyright.replace("{year}", str(issue.date.year)),
        "t": t,
        "lang": publication.language,
        "masthead": masthead,
        "publication_name": getattr(issue, "name", "") or publication.name,
        "kicker": getattr(issue, "kicker", ""),
        "show_subscribe": "subscribe" not in hidden,
        "show_reader_links": True,
        "base_url": base,
        "web_url": f"{base}/{publication.slug}/{issue.number}",
        "subscribe_url": f"{base}/{publication.slug}/subscribe",
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
        "recipient_name": RECIPIENT_NAME,
        "logo": _logo(publication, settings, registry),
        "pictures": Pictures(registry),  # picture() in templates: this issue's images
    }


def _render_template(env: Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or str(exc), template=exc.name or exc.filename or name,
                          line=exc.lineno) from None
    except TemplateNotFound as exc:
        raise RenderError(f"template not found: {exc.name} (in {env.loader.searchpath})",  # type: ignore[union-attr]
                          template=name) from None
    except (TemplateError, TypeError, AttributeError, KeyError, ValueError) as exc:
        template, line = _template_position(sys.exc_info()[2], name)
        raise RenderError(str(exc), template=template, line=line) from None


def _template_position(tb: Any, default: str) -> tuple[str, int | None]:
    """The innermost template frame of a traceback: Jinja maps it back to template lines."""
    template, line = default, None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename.endswith(".j2"):
            template, line = Path(filename).name, lineno
            parent = Path(filename).parent.name
            if parent == "sections":
                template = f"sections/{template}"
    return template, line
