"""MJML → HTML with mjml-python (MRML, a Rust port of the MJML compiler: no Node at run time)."""

from __future__ import annotations

import re

from mjml import mjml2html

from ..errors import RenderError

__all__ = ["compile_mjml"]

_POSITION = re.compile(r"position (\d+):(\d+)")


def compile_mjml(source: str, *, template: str = "base.mjml.j2") -> str:
    """Compile MJML to responsive HTML; a malformed document raises :class:`RenderError`."""
    try:
        # Comments off: template comments must not travel to 50,000 inboxes.  fonts={}: MRML
        # would otherwise link Google Fonts for its default font (a third-party request).
        return mjml2html(source, disable_comments=True, fonts={})
    except (ValueError, RuntimeError) as exc:
        raise RenderError(f"MJML could not be compiled: {exc}{_where(source, str(exc))}",
                          template=template) from None


def _where(source: str, message: str) -> str:
    """' (MJML line N: …)' from MRML's byte position, so the template's output can be found."""
    match = _POSITION.search(message)
    if not match:
        return ""
    offset = int(match.group(1))
    prefix = source.encode("utf-8")[:offset].decode("utf-8", "ignore")
    line = prefix.count("\n") + 1
    text = source.splitlines()[line - 1].strip() if source.splitlines() else ""
    return f" (MJML line {line}: {text[:80]!r}; see it with `letterpress build --mjml`)"
