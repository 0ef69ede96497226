"""Inline the theme's CSS into the compiled HTML, leaving MJML's own style blocks alone.

Only the rules of ``inline.css.j2`` are inlined (mail clients that drop ``<style>`` still get
the typography); MJML's responsive media queries and resets stay in ``<head>`` untouched, as
the MJML reference compiler does with ``mj-style inline="inline"``.  css-inline (Rust) was
measured against premailer in ``bench/bench_render.py``.
"""

from __future__ import annotations

import re

import css_inline

from ..errors import RenderError

__all__ = ["inline_css"]

_MARK = ' data-css-inline="ignore"'
_OWN_STYLE = re.compile(r'<style id="lp-inline">.*?</style>', re.S)


def inline_css(html: str, css: str) -> str:
    """``html`` with ``css`` applied as inline ``style`` attributes; other styles kept as is."""
    if not css.strip():
        return html
    marked = html.replace("<style", "<style" + _MARK)
    marked = marked.replace("</head>", f'<style id="lp-inline">{css}</style></head>', 1)
    inliner = css_inline.CSSInliner(inline_style_tags=True, keep_style_tags=True,
                                    load_remote_stylesheets=False)
    try:
        out = inliner.inline(marked)
    except (css_inline.InlineError, ValueError) as exc:
        raise RenderError(f"CSS could not be inlined: {exc}", template="inline.css.j2") from None
    return _OWN_STYLE.sub("", out, count=1).replace(_MARK, "")
