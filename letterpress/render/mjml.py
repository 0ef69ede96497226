"""MJML → HTML with mjml-python (MRML, a Rust port of the MJML compiler: no Node at run time)."""

from __future__ import annotations

from mjml import mjml2html

from ..errors import RenderError

__all__ = ["compile_mjml"]


def compile_mjml(source: str, *, template: str = "base.mjml.j2") -> str:
    """Compile MJML to responsive HTML; a malformed document raises :class:`RenderError`."""
    try:
        # Comments off: template comments must not travel to 50,000 inboxes.  fonts={}: MRML
        # would otherwise link Google Fonts for its default font (a third-party request).
        return mjml2html(source, disable_comments=True, fonts={})
    except (ValueError, RuntimeError) as exc:
        raise RenderError(f"MJML could not be compiled: {exc}", template=template) from None
