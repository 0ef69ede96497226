"""Theme values that end up in CSS or in an HTML attribute: checked once, serialised once.

A publication's theme (``[publications.<slug>.theme]`` in ``letterpress.toml``) reaches the
mail in two places: MJML attributes (``font-family="…"``) and the inlined stylesheet
(``inline.css.j2``, whose rules become ``style="…"`` attributes).  Each value is parsed when
the settings load (:func:`check_theme_value`, raising :class:`ValueError` with an editor-facing
message) and written back in one canonical form (:func:`css_value`) that is safe in both:

* colours: ``#rrggbb`` (``#rgb`` is expanded), lowercase;
* font lists: family names separated by ", ", names with spaces in single quotes
  (CSS Fonts 4 §4.1: ``Georgia, 'Times New Roman', serif``), generic families bare;
* lengths: whole pixels;
* URLs and paths: no quote, angle bracket, backslash or white space.

The canonical form never holds ``"``, ``&``, ``<``, ``>``, ``;``, ``{``, ``}`` or a backslash, so
neither HTML escaping nor a CSS parser can cut it.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

__all__ = ["GENERIC_FAMILIES", "THEME_KINDS", "check_theme_value", "css_theme", "css_value"]

GENERIC_FAMILIES = frozenset({
    "serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-serif",
    "ui-sans-serif", "ui-monospace", "ui-rounded", "emoji", "math", "fangsong",
})

# What each theme setting holds; settings.Theme declares one entry per field.
THEME_KINDS: dict[str, str] = {
    "primary_color": "colour",
    "accent_color": "colour",
    "text_color": "colour",
    "muted_color": "colour",
    "background_color": "colour",
    "content_background": "colour",
    "font_family": "fonts",
    "heading_font_family": "fonts",
    "logo_url": "url",
    "logo_alt": "text",
    "logo_width": "pixels",
}

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_FAMILY_WORD = re.compile(r"^[^\W\d][\w-]*$")
_QUOTED_NAME = re.compile(r"^[\w][\w .-]*$")
_URL_BAD = re.compile(r"[\s\"'<>\\`(){};]")


def _colour(value: Any) -> str:
    if not isinstance(value, str) or not _HEX.match(value.strip()):
        raise ValueError(f"{value!r} is not a colour: write it as #rrggbb, e.g. #000091")
    hexa = value.strip().lower().lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    return "#" + hexa


def _fonts(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a font list is needed, e.g. \"Georgia, 'Times New Roman', serif\"")
    names = []
    for raw in value.split(","):
        name = raw.strip()
        if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
            name = name[1:-1].strip()
            quoted = True
        else:
            quoted = False
        if not name:
            raise ValueError(f"empty font name in {value!r}")
        words = name.split()
        if quoted:
            ok = bool(_QUOTED_NAME.match(name))
        else:
            ok = all(_FAMILY_WORD.match(word) for word in words)
        if not ok:
            raise ValueError(
                f"font name {raw.strip()!r} in {value!r} is not a font family: use names "
                "separated by commas, quoting those with spaces, e.g. "
                "\"Georgia, 'Times New Roman', serif\"")
        name = " ".join(words)
        if name.lower() in GENERIC_FAMILIES and not quoted:
            names.append(name.lower())
        elif " " in name or quoted:
            names.append(f"'{name}'")
        else:
            names.append(name)
    return ", ".join(names)


def _pixels(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 600:
        raise ValueError(f"{value!r} is not a width in pixels between 1 and 600")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an address")
    value = value.strip()
    if not value:
        return ""
    if _URL_BAD.search(value) or "&" in value:
        raise ValueError(f"{value!r} is not a usable address: no spaces, quotes, brackets or "
                         "'&' (an https URL or a path relative to the project)")
    if ":" in value.split("/", 1)[0] and not value.lower().startswith(("https://", "http://")):
        raise ValueError(f"{value!r}: only https URLs or paths relative to the project")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"{value!r} holds a line break or a control character")
    return value.strip()


_CHECKS = {"colour": _colour, "fonts": _fonts, "pixels": _pixels, "url": _url, "text": _text}


def check_theme_value(name: str, value: Any) -> Any:
    """The canonical form of theme setting ``name``; :class:`ValueError` when it is not valid."""
    return _CHECKS[THEME_KINDS.get(name, "text")](value)


def css_value(value: Any) -> Markup | Any:
    """A checked theme value, marked safe for templates (HTML attribute and CSS alike).

    Only values that went through :func:`check_theme_value` may be passed here; anything
    holding a character that could end an attribute or a declaration is refused.
    """
    if isinstance(value, str):
        if re.search(r"[\"&<>;{}\\\n\r]", value):
            raise ValueError(f"unsafe CSS value {value!r}")
        return Markup(value)
    return value


class _CssTheme:
    """Read-only view of a theme whose CSS values are ready for templates."""

    def __init__(self, theme: Any):
        self._theme = theme

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._theme, name)
        kind = THEME_KINDS.get(name)
        if kind in ("colour", "fonts", "url", "pixels"):
            return css_value(value)
        return value  # free text (logo_alt): escaped by the template like any text


def css_theme(theme: Any) -> _CssTheme:
    """The theme as templates see it (``theme.*`` in the MJML and CSS templates)."""
    return _CssTheme(theme)
