"""The safe Markdown subset used by every text field of an issue.

Editors may write **bold**, *italic*, [links](https://example.org), bullet and numbered
lists and line breaks (two trailing spaces or a backslash at the end of a line).  Anything
else — raw HTML, images, headings, tables, code — is shown as the literal text the editor
typed, escaped, so content can never inject markup or script into a mail or a page.

Only ``http(s):``, ``mailto:``, ``tel:`` and in-page ``#anchor`` links become links; any other
target (``javascript:``, ``data:``, relative paths…) leaves the whole ``[text](target)`` as text.
:func:`links` still returns those targets so validation can report them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

__all__ = ["ALLOWED_SCHEMES", "inline_html", "is_allowed_link", "links", "to_html", "to_text"]

ALLOWED_SCHEMES = ("http", "https", "mailto", "tel")

_RULES = ["emphasis", "link", "list", "newline", "escape", "autolink", "entity"]
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def is_allowed_link(url: str) -> bool:
    """True when ``url`` may become a link: http(s), mailto, tel or an in-page ``#anchor``."""
    url = url.strip()
    if url.startswith("#"):
        return len(url) > 1
    match = _SCHEME.match(url)
    if not match or match.group(1).lower() not in ALLOWED_SCHEMES:
        return False
    if match.group(1).lower() in ("http", "https"):
        return url.lower().startswith(("http://", "https://")) and len(url.split("//", 1)[1]) > 0
    return len(url) > len(match.group(0))


@lru_cache(maxsize=2)
def _parser(permissive: bool = False) -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    md.enable(_RULES)
    # Permissive parser: only used by links(), to see every target the editor wrote.
    md.validateLink = (lambda url: True) if permissive else is_allowed_link
    return md


def to_html(md: str) -> Markup:
    """Markdown source → safe HTML (paragraphs, lists, links), ready for a template."""
    if not md:
        return Markup("")
    return Markup(_parser().render(md).strip())


def inline_html(md: str) -> Markup:
    """Markdown source → safe inline HTML without ``<p>`` wrapping (titles, captions)."""
    if not md:
        return Markup("")
    return Markup(_parser().renderInline(md.strip()).strip())


def links(md: str) -> list[str]:
    """Every link target written in ``md``, allowed or not, in order of appearance."""
    found: list[str] = []
    if not md:
        return found
    for token in _parser(True).parse(md):
        for child in token.children or ():
            if child.type == "link_open":
                found.append(str(child.attrs.get("href", "")))
    return found


def to_text(md: str, *, width: int = 72, notes: list[str] | None = None) -> str:
    """Markdown source → plain text wrapped at ``width``.

    Links become ``text (url)``; when a ``notes`` list is given they become ``text [n]`` and
    the url is appended to ``notes`` (numbered footnotes shared by a whole document).
    """
    if not md:
        return ""
    tokens = _parser().parse(md)
    blocks: list[str] = []
    _Writer(tokens, width, notes).write(blocks)
    return "\n\n".join(b for b in blocks if b.strip()).rstrip()


class _Writer:
    """Walks the markdown-it token stream and writes wrapped plain text."""

    def __init__(self, tokens: Sequence[Token], width: int, notes: list[str] | None):
        self.tokens = tokens
        self.width = max(width, 20)
        self.notes = notes

    def write(self, blocks: list[str]) -> None:
        # Stack of open lists: [ordered?, counter, indent, list number]
        lists: list[list] = []
        groups: list[int] = []  # per block: the top-level list it belongs to, or -1
        opened = 0
        item_prefix = ""
        item_index: int | None = None  # the block holding the current list item
        for token in self.tokens:
            kind = token.type
            if kind in ("bullet_list_open", "ordered_list_open"):
                start = int(token.attrs.get("start", 1) or 1)
                group = lists[0][3] if lists else opened
                opened += 1
                lists.append([kind == "ordered_list_open", start, 2 * len(lists), group])
            elif kind in ("bullet_list_close", "ordered_list_close"):
                lists.pop()
            elif kind == "list_item_open":
                ordered, counter, indent, group = lists[-1]
                marker = f"{counter}." if ordered else "-"
                lists[-1][1] = counter + 1
                item_prefix = " " * indent + marker + " "
                blocks.append("")  # filled when the item's text arrives
                groups.append(group)
                item_index = len(blocks) - 1
            elif kind == "inline":
                text = self.inline(token.children or [])
                if lists and item_index is not None:
                    first = not blocks[item_index]
                    prefix = item_prefix if first else " " * len(item_prefix)
                    rendered = self.wrap(text, prefix, " " * len(item_prefix))
                    blocks[item_index] += ("" if first else "\n") + rendered
                else:
                    blocks.append(self.wrap(text, "", ""))
                    groups.append(-1)
        # Items of one list read better without a blank line between them.
        merged: list[str] = []
        for i, block in enumerate(blocks):
            if merged and groups[i] >= 0 and groups[i] == groups[i - 1]:
                merged[-1] += "\n" + block
            else:
                merged.append(block)
        blocks[:] = merged

    def inline(self, children: Sequence[Token]) -> str:
        out: list[str] = []
        href_stack: list[str] = []
        for child in children:
            kind = child.type
            if kind == "text":
                out.append(child.content)
            elif kind == "softbreak":
                out.append(" ")
            elif kind == "hardbreak":
                out.append("\n")
            elif kind == "link_open":
                href_stack.append(str(child.attrs.get("href", "")))
                out.append("")
            elif kind == "link_close":
                href = href_stack.pop() if href_stack else ""
                out.append(self.link_suffix(href, "".join(out)))
            elif kind == "html_inline":  # never produced (html=False), kept for safety
                out.append(child.content)
        return "".join(out)

    def link_suffix(self, href: str, text_so_far: str) -> str:
        if not href or href.startswith("#"):
            return ""
        shown = href[len("mailto:"):] if href.startswith("mailto:") else href
        if text_so_far.endswith(shown):  # [https://x](https://x): no need to repeat it
            return ""
        if self.notes is not None:
            if href in self.notes:
                number = self.notes.index(href) + 1
            else:
                self.notes.append(href)
                number = len(self.notes)
            return f" [{number}]"
        return f" ({shown})"

    def wrap(self, text: str, first_prefix: str, next_prefix: str) -> str:
        lines: list[str] = []
        for i, segment in enumerate(text.split("\n")):
            prefix = first_prefix if i == 0 else next_prefix
            wrapped = textwrap.wrap(segment, self.width, initial_indent=prefix,
                                    subsequent_indent=next_prefix, break_long_words=False,
                                    break_on_hyphens=False) or [prefix.rstrip()]
            lines.extend(wrapped)
        return "\n".join(lines)
