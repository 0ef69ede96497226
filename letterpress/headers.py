"""Header fields within the letter of RFC 5322 and RFC 2047, for any text.

Every header letterpress writes goes through :func:`unstructured` (Subject and other free
text) or :func:`name_addr` (a display name before ``<address>``: From, Reply-To, To, List-Id).
What they produce, whatever the input:

- ASCII only, CRLF only at folds (``CRLF SP``): no CR, LF or control character from the input
  reaches a header — controls, Unicode line separators and lone surrogates become spaces, runs
  of ASCII whitespace one space, and the value is stripped;
- text that is not plain printable ASCII, or that looks like an encoded word (``=?``), is
  written as RFC 2047 "B" encoded words of UTF-8, each at most 75 characters
  (RFC 2047 §2), each holding whole characters (§5), and every line that holds one at most
  76 octets, header name included (§2);
- other lines at most 78 octets (RFC 5322 §2.1.1), except a line holding only an address
  longer than that (at most 254 octets, RFC 5321 §4.5.3.1.3, checked by the caller);
- words are cut before a space when one falls in the word: RFC 2047 decoders drop the folding
  between encoded words, lenient ones (CPython's address parser) leave a space there, which
  then never lands inside a word of a name unless that word is longer than an encoded word.

Decoding gives back :func:`clean` of the input, exactly.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["ENCODED_WORD_MAX", "ENCODED_LINE_MAX", "LINE_MAX", "clean", "name_addr",
           "unstructured"]

ENCODED_WORD_MAX = 75
"""RFC 2047 §2: an encoded word is at most 75 characters."""
ENCODED_LINE_MAX = 76
"""RFC 2047 §2: a header line holding an encoded word is at most 76 characters."""
LINE_MAX = 78
"""RFC 5322 §2.1.1: lines SHOULD be at most 78 characters (without CRLF)."""

_PREFIX = "=?utf-8?b?"
_OVERHEAD = len(_PREFIX) + len("?=")
_MAX_OCTETS = (ENCODED_WORD_MAX - _OVERHEAD) // 4 * 3  # 45 octets → 60 base64 → 72 characters
_UNSAFE = re.compile("[\x00-\x20\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")  # atext and spaces, no "."


def clean(value: str) -> str:
    """``value`` with controls, line separators and lone surrogates as spaces, ASCII
    whitespace runs collapsed to one space, stripped.  Other characters (NBSP…) are kept."""
    return _UNSAFE.sub(" ", value).strip(" ")


def _room(column: int) -> int:
    """UTF-8 octets an encoded word may hold when it starts at ``column`` of its line."""
    return max(0, min(_MAX_OCTETS, (ENCODED_LINE_MAX - column - _OVERHEAD) // 4 * 3))


def _encoded_words(text: str, column: int) -> list[str]:
    """``text`` as encoded words, the first starting at ``column``, the others at column 1.

    An empty first word means none fits after ``column`` (a header name of more than about
    55 characters): fold before the first one.
    """
    data = text.encode("utf-8")
    words: list[str] = []
    pos, end_all = 0, len(data)
    room = _room(column)
    while pos < end_all:
        end = pos + room
        if end >= end_all:
            end = end_all
        else:
            while end > pos and data[end] & 0xC0 == 0x80:  # never inside a character
                end -= 1
            space = data.rfind(b" ", pos + 1, end + 1)
            if space > pos:
                end = space
        if end == pos:  # not even one character fits on the first line
            words.append("")
        else:
            words.append(_PREFIX + binascii.b2a_base64(data[pos:end], newline=False)
                         .decode("ascii") + "?=")
        pos = end
        room = _MAX_OCTETS
    return words


def _fold_words(words: list[str], column: int) -> tuple[str, int]:
    """Join encoded words one per line; the text and the column where it ends."""
    if words[0] == "":
        text = "\r\n " + "\r\n ".join(words[1:])
        return text, 1 + len(words[-1])
    text = "\r\n ".join(words)
    return text, (column if len(words) == 1 else 1) + len(words[-1])


def _fold_ascii(text: str, column: int) -> tuple[str, int] | None:
    """Printable ASCII folded at spaces into lines of at most 78; ``None`` if a word is too
    long for that."""
    lines: list[str] = []
    line = ""
    start = column
    for word in text.split(" "):
        if not line:
            line = word
        elif start + len(line) + 1 + len(word) <= LINE_MAX:
            line += " " + word
        else:
            lines.append(line)
            line, start = word, 1
        if start + len(line) > LINE_MAX:
            return None
    lines.append(line)
    return "\r\n ".join(lines), start + len(line)


def unstructured(name: str, value: str) -> bytes:
    """The header line ``Name: value``, encoded and folded as above, CRLF-terminated."""
    value = clean(value)
    column = len(name) + 2
    if value.isascii() and "=?" not in value:
        folded = _fold_ascii(value, column)
        if folded is not None:
            return f"{name}: {folded[0]}\r\n".encode("ascii")
    text, _ = _fold_words(_encoded_words(value, column), column)
    sep = "" if text.startswith("\r\n") else " "
    return f"{name}:{sep}{text}\r\n".encode("ascii")


def name_addr(name: str, display: str, angle: str, *, bare: bool = True) -> bytes:
    """The header line ``Name: display <angle>``, encoded and folded as above, CRLF-terminated.

    ``display`` becomes atoms, a quoted string or encoded words; ``angle`` (an address or a
    List-Id, already checked to be ASCII without spaces) goes on the last line, or on a line
    of its own when it does not fit.  An empty display name gives ``angle`` alone, without
    angle brackets when ``bare``.
    """
    display = clean(display)
    column = len(name) + 2
    bracketed = f"<{angle}>"
    if not display:
        alone = angle if bare else bracketed
        sep = " " if column + len(alone) <= LINE_MAX else "\r\n "  # CFWS may open an address
        return f"{name}:{sep}{alone}\r\n".encode("ascii")
    if display.isascii() and "=?" not in display:
        if _ATOMS.match(display):
            phrase = display
        else:
            phrase = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if column + len(phrase) <= LINE_MAX:
            sep = " " if column + len(phrase) + 1 + len(bracketed) <= LINE_MAX else "\r\n "
            return f"{name}: {phrase}{sep}{bracketed}\r\n".encode("ascii")
    text, end = _fold_words(_encoded_words(display, column), column)
    head = f"{name}:" if text.startswith("\r\n") else f"{name}: "  # CFWS may open a phrase
    sep = " " if end + 1 + len(bracketed) <= ENCODED_LINE_MAX else "\r\n "
    return f"{head}{text}{sep}{bracketed}\r\n".encode("ascii")
