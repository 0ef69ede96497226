"""Importing subscribers from CSV: the operation where lists get lost, so it is careful.

* Reads UTF-8 (with or without BOM), UTF-16 with its BOM (Excel's "Unicode text") or
  Windows-1252, ``;``, ``,`` or tab delimited, with or without a header row; columns are mapped by header name (``email``/``courriel``…,
  ``name``/``nom``/``prénom``…, every other column becomes an attribute).
* Every row is validated; invalid rows are reported with line number, value and reason and
  the valid ones imported.  Duplicates inside the file are merged and counted.  A row
  holding a byte that is text in none of these encodings is one of them (with the byte's
  position): it is never stored with a replacement character.  A UTF-8 file with a few
  damaged bytes stays UTF-8 (its accents intact); only the rows holding one are refused.
* The rejects file (:func:`write_rejects`) re-imports as is once fixed: its own leading
  ``line``, ``reason``, ``value`` columns are recognised and ignored.
* Idempotent: importing the same file twice changes nothing the second time.  A suppressed
  address (unsubscribed, bounced, complained, erased) is reported, never re-activated.
* A ``status`` column and the export's proof columns (``consent_at``, ``consent_text``,
  ``unsubscribed_at``…) are honoured: a pending row stays pending, an unsubscribed, bounced
  or complained row is recorded as such with its suppression entry (never active), and the
  consent proof of the file is kept.  Without them, new rows are active with the consent
  given to :func:`import_csv`.
* Works in batches (one lookup query per table per batch, bulk inserts) and commits after
  each, so an interruption leaves a consistent database and re-running finishes the job.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import queue
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..clock import Clock
from ..errors import AudienceError, InvalidEmail
from .bulk import among, insert_rows
from .emails import email_key, key_hash, sendable_email
from .import_batch import NewSubscription, insert_batch_postgresql
from .models import (
    ALL_LISTS,
    CHANNELS,
    CONSENT_SOURCES,
    STATUSES,
    Subscriber,
    Subscription,
    SubscriptionEvent,
)
from .service import STOPPED_STATUSES, Consent, _merge_profile, change_status, get_list
from .suppression import suppress, suppressions_for
from .text import clean_attributes, clean_text
from .tokens import new_link_keys

__all__ = [
    "CsvLayout",
    "ImportFileError",
    "ImportProgress",
    "ImportReport",
    "Rejection",
    "SuppressedRow",
    "import_csv",
    "read_layout",
    "write_rejects",
]

EMAIL_HEADERS = {"email", "e_mail", "courriel", "mail", "adresse_email", "adresse_e_mail",
                 "adresse_mail", "adresse_electronique", "adresse_courriel", "email_address",
                 "e_mail_address", "adresse_de_courriel", "mel", "e_mel"}
NAME_HEADERS = {"name", "nom_complet", "full_name", "display_name", "nom_prenom",
                "prenom_nom", "nom_et_prenom", "prenom_et_nom"}
FIRST_NAME_HEADERS = {"prenom", "first_name", "firstname", "given_name"}
LAST_NAME_HEADERS = {"nom", "last_name", "lastname", "surname", "family_name", "nom_de_famille"}
STATUS_HEADERS = {"status", "statut"}
# Columns written by the export that describe the subscription and its proof: read as such.
PROOF_HEADERS = ("consent_at", "consent_source", "consent_text", "consent_form_id",
                 "consent_ip", "confirmed_at", "unsubscribed_at", "unsubscribe_channel")
PROOF_TIMES = {"consent_at", "confirmed_at", "unsubscribed_at"}
# Other columns that describe the subscription or the other tool's record, not the person:
# ignored (the list is the one named by --list; another database's row id means nothing here).
IGNORED_HEADERS = {"list", "liste", "lists", "listes", "id", "subscribed_at", "created_at",
                   "updated_at"}
# Status cells as people and tools write them -> our statuses.
STATUS_VALUES = {"": "active", "active": "active", "actif": "active", "subscribed": "active",
                 "pending": "pending", "en_attente": "pending",
                 "unsubscribed": "unsubscribed", "desinscrit": "unsubscribed",
                 "bounced": "bounced", "complained": "complained",
                 # A tool's blocklist: unsubscribed here, suppressed on every list.
                 "blocklisted": "unsubscribed", "blacklisted": "unsubscribed"}
EVERYWHERE = {"blocklisted", "blacklisted"}
DELIMITERS = (";", ",", "\t")
SAMPLE_LINES = 50
FUTURE_SLACK = timedelta(days=1)  # how far ahead of now a proof date may be
# The columns write_rejects puts before the original ones: ignored when its file is imported.
REJECTS_COLUMNS = ("line", "reason", "value")
# Byte-order marks read as such (UTF-32's before UTF-16's: FF FE 00 00 starts with FF FE).
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
CHAR_BYTES = {"utf-16": 2, "utf-32": 4}  # bytes per character, for the progress fraction
# Windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; read with surrogateescape
# they come out as U+DC81… (one character per byte), found by this pattern.
UNDEFINED_BYTE = re.compile("[\udc80-\udcff]")
SAVE_AS_UTF8 = "save the file as CSV UTF-8 and import it again"


class ImportFileError(AudienceError):
    """The file cannot be imported at all (unreadable, no email column…)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is written and which column means what."""

    encoding: str
    delimiter: str
    has_header: bool
    headers: tuple[str, ...]
    email_column: int
    name_columns: tuple[int, ...]
    attribute_columns: tuple[tuple[int, str], ...]
    status_column: int | None = None
    proof_columns: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        """One line for the user: encoding, delimiter and column mapping."""
        return (f"{self.describe_format()}, "
                f"{'header row' if self.has_header else 'no header'}; "
                f"email: column {self.email_column + 1}; {self.describe_columns()}")

    def describe_format(self) -> str:
        """The file's encoding and delimiter, as :meth:`describe` starts."""
        delim = {"\t": "tab"}.get(self.delimiter, self.delimiter)
        return f"{self.encoding}, delimiter {delim!r}"

    def describe_columns(self) -> str:
        """What becomes the name and the attributes, and the columns not read."""
        attrs = ", ".join(name for _, name in self.attribute_columns) or "none"
        ignored = self.ignored_columns()
        names = " + ".join(self._shown(i) for i in self.name_columns)
        return ((f"name: {names}; " if names and self.has_header else "")
                + f"attributes: {attrs}"
                + (f"; ignored: {', '.join(ignored)}" if ignored else ""))

    def _shown(self, index: int) -> str:
        """A header cell as the user wrote it, with its column number when the same name
        is elsewhere in the header, or the column number alone when it has no name."""
        name = self.headers[index] if index < len(self.headers) else ""
        if not name:
            return f"column {index + 1}"
        if sum(_header_key(h) == _header_key(name) for h in self.headers) > 1:
            return f"{name} (column {index + 1})"
        return name

    def ignored_columns(self) -> list[str]:
        """The header's columns nothing is read from (a second email column, a repeated
        header, one without a name, or one such as ``list`` that describes no person)."""
        used = {self.email_column, *self.name_columns, *(i for i, _ in self.attribute_columns),
                *(i for _, i in self.proof_columns), *range(_rejects_prefix(
                    [_header_key(h) for h in self.headers]) if self.has_header else 0)}
        if self.status_column is not None:
            used.add(self.status_column)
        return [self._shown(i) for i in range(len(self.headers))
                if self.has_header and i not in used]


@dataclass(frozen=True)
class Rejection:
    """A row that was not imported because it is invalid."""

    line: int
    value: str
    reason: str
    row: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuppressedRow:
    """A valid row whose address must not be re-activated by an import; ``row``: its cells."""

    line: int
    email: str
    reason: str
    row: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportProgress:
    """Where an import is: data rows read and the share of the file done (0..1)."""

    rows: int
    fraction: float


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    path: str
    list_name: str
    layout: CsvLayout | None = None
    dry_run: bool = False
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    suppressed: list[SuppressedRow] = field(default_factory=list)
    # Rows with more cells than the header (imported; their extra cells were not read): how
    # many, and the line of the first.
    wider_rows: int = 0
    first_wider_line: int = 0
    # Subscriptions on other lists stopped because the file says blocklisted, bounced or
    # complained.
    stopped_elsewhere: int = 0

    def include(self, rejected: Iterable[Rejection]) -> None:
        """Count in rows refused before the import read its file (a preset's conversion,
        :func:`~letterpress.audience.presets.convert`), in line order with the others."""
        rejected = list(rejected)
        self.rows += len(rejected)
        self.rejected = sorted([*self.rejected, *rejected], key=lambda r: r.line)

    def summary(self) -> str:
        """The one-line summary the CLI prints."""
        verb = "would be " if self.dry_run else ""
        return (f"{self.rows} rows: {verb}added {self.added}, {verb}updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {len(self.rejected)}, "
                f"suppressed {len(self.suppressed)}, duplicates {self.duplicates}"
                + (f"; {self.stopped_elsewhere} subscription(s) on other lists "
                   f"{verb}stopped (blocklisted, bounced or complained in the file)"
                   if self.stopped_elsewhere
                   else ""))


@dataclass(slots=True)
class _Candidate:
    line: int
    email: str
    key: str
    name: str | None
    attributes: dict[str, Any]
    duplicate: bool = False
    status: str = "active"
    proof: dict[str, Any] = field(default_factory=dict)
    suppress_only: bool = False  # a stop without proof columns: keep the objection only
    everywhere: bool = False  # blocklisted in the file: suppressed on every list
    cells: tuple[str, ...] = ()  # as read, for the rejects file


# --------------------------------------------------------------------------- reading

def _header_key(cell: str) -> str:
    """``"Adresse électronique "`` → ``"adresse_electronique"``."""
    text = unicodedata.normalize("NFKD", cell.strip().lstrip("\ufeff")).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    out = "".join(c if c.isalnum() else "_" for c in text)
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def _first_undecodable(path: Path, encoding: str) -> int | None:
    """The file offset (bytes, from 0) of the first byte ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    consumed = 0
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                buffered = len(decoder.getstate()[0])
                decoder.decode(chunk)
                consumed += len(chunk)
            buffered = len(decoder.getstate()[0])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            # exc.start counts from the bytes the decoder kept from the previous chunk.
            return consumed - buffered + exc.start
    return None


def _detect_encoding(path: Path) -> str:
    """The encoding to read ``path`` with.

    A UTF-16 or UTF-32 byte-order mark: that encoding (Excel's "Unicode text" export is
    UTF-16 with a BOM); the whole file must decode, else :class:`ImportFileError` with the
    position.  Otherwise UTF-8 (BOM or not) if the whole file decodes as such, else
    Windows-1252 (Excel's "CSV" on a Western Windows), whose undefined bytes are refused row
    by row (:func:`_rows`) — unless the file is UTF-8 with a few damaged bytes
    (:func:`_mostly_utf8`), whose rows holding one are refused the same way.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            offset = _first_undecodable(path, encoding)
            if offset is not None:
                with path.open("rb") as fh:
                    line = fh.read(offset).decode(encoding, errors="replace").count("\n") + 1
                raise ImportFileError(
                    str(path), f"the file starts with a {encoding.upper()} byte-order mark but "
                    f"byte offset {offset} (line {line}) is not {encoding.upper()}; "
                    f"{SAVE_AS_UTF8}")
            return encoding
    if _first_undecodable(path, "utf-8") is None:
        return "utf-8-sig"
    return "utf-8-sig" if _mostly_utf8(path) else "cp1252"


def _mostly_utf8(path: Path) -> bool:
    """Whether a file that is not wholly UTF-8 is UTF-8 with a few damaged bytes.

    Windows-1252 text read as UTF-8 fails at every accented letter and almost never forms a
    valid multi-byte sequence; UTF-8 text with a byte damaged by an editor or a transfer
    holds many valid sequences and a few bad bytes.  Read as Windows-1252, the whole file's
    accents would be garbled ("HÃ©lÃ¨ne"); read as UTF-8, only the rows holding a bad byte
    are refused.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    valid = damaged = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            text = decoder.decode(chunk)
            bad = len(UNDEFINED_BYTE.findall(text))
            damaged += bad
            valid += len(_NON_ASCII.findall(text)) - bad
        text = decoder.decode(b"", final=True)
        damaged += len(UNDEFINED_BYTE.findall(text))
    return valid > 2 * damaged


_NON_ASCII = re.compile("[^\x00-\x7f]")


def _open_text(path: Path, encoding: str):
    # A byte the encoding leaves undefined (Windows-1252's five, a damaged byte in UTF-8)
    # comes out as a lone surrogate, so the row holding one is refused with the byte and its
    # position (a replacement character would be stored).
    errors = "surrogateescape" if encoding in ("cp1252", "utf-8-sig") else "strict"
    return path.open("r", encoding=encoding, errors=errors, newline="")


def _undefined_byte_reason(text: str, line: int, offset: int, encoding: str) -> str | None:
    """Why a line cannot be imported for a byte its encoding does not define, or None.

    ``text`` is the line as :func:`_open_text` reads it, ``line`` its number (from 1),
    ``offset`` the file offset of its first byte (Windows-1252: one byte per character; not
    used for UTF-8).
    """
    found = UNDEFINED_BYTE.search(text)
    if found is None:
        return None
    byte = ord(found.group()) - 0xDC00
    if encoding == "cp1252":
        return (f"byte 0x{byte:02X} at line {line}, column {found.start() + 1} (byte offset "
                f"{offset + found.start()}) is neither UTF-8 nor Windows-1252 (encodings "
                f"tried); {SAVE_AS_UTF8}")
    return (f"byte 0x{byte:02X} at line {line}, column {found.start() + 1} is not UTF-8, "
            "unlike the rest of the file: a damaged character; retype it and import again")


def _first_undefined_byte(path: Path, encoding: str = "cp1252") -> str | None:
    """:func:`_undefined_byte_reason` for the first undefined byte of the file."""
    offset = 0
    with _open_text(path, encoding) as fh:
        for number, line in enumerate(fh, 1):
            if why := _undefined_byte_reason(line, number, offset, encoding):
                return why
            offset += len(line)
    return None


def _shown(text: str) -> str:
    """``text`` with the undefined bytes as U+FFFD, to print or write back as UTF-8."""
    return UNDEFINED_BYTE.sub("\ufffd", text)


def _detect_delimiter(sample_lines: list[str]) -> str:
    """The delimiter that splits the sample into the most consistent, widest rows."""
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        rows = [r for r in csv.reader(sample_lines, delimiter=delim) if any(c.strip() for c in r)]
        if not rows:
            continue
        widths = [len(r) for r in rows]
        common = max(set(widths), key=widths.count)
        if common < 2:
            continue
        score = (widths.count(common), common)
        if score > best_score:
            best, best_score = delim, score
    return best


def read_layout(path: str | Path) -> CsvLayout:
    """Work out encoding, delimiter, header and column mapping of a CSV file.

    Raises :class:`ImportFileError` for a missing or empty file, a UTF-16/32 file that does
    not decode or a UTF-16 one without BOM, a header row holding a byte undefined in
    Windows-1252, or no email column.  A rejects file's own leading columns
    (:data:`REJECTS_COLUMNS`) are mapped to nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(str(path), "no such file")
    encoding = _detect_encoding(path)
    with _open_text(path, encoding) as fh:
        sample = []
        for line in fh:
            if line.strip():
                sample.append(line)
            if len(sample) >= SAMPLE_LINES:
                break
    if not sample:
        raise ImportFileError(str(path), "the file is empty")
    if encoding not in CHAR_BYTES and any("\x00" in line for line in sample):
        # UTF-16 without its byte-order mark decodes as "UTF-8" with a NUL every other byte.
        raise ImportFileError(str(path), "the file holds NUL bytes: UTF-16 without a "
                                         f"byte-order mark?; {SAVE_AS_UTF8}")
    delimiter = _detect_delimiter(sample)
    first = next(csv.reader(sample[:1], delimiter=delimiter))
    keys = [_header_key(c) for c in first]

    email_cols = [i for i, k in enumerate(keys) if k in EMAIL_HEADERS]
    if email_cols:
        if _left_open([(1, sample[0], 0)], delimiter):
            # Every column after the quote would become one: the header names the columns.
            raise ImportFileError(str(path), "header row: a double quote is opened and not "
                                             "closed; correct the header and import it again")
        if any(UNDEFINED_BYTE.search(c) for c in first):
            raise ImportFileError(str(path),
                                  f"header row: {_first_undefined_byte(path, encoding)}")
        return _layout_from_header(encoding, delimiter, first, keys, email_cols[0])
    if not any("@" in c for c in first):
        raise ImportFileError(
            str(path), "no email column: name it email, e-mail, courriel or mail "
            f"(header row read: {', '.join(c.strip() for c in first)})")
    email_col = next(i for i, c in enumerate(first) if "@" in c)
    others = [i for i in range(len(first)) if i != email_col]
    name_cols = tuple(others[:1])
    attrs = tuple((i, f"column_{i + 1}") for i in others[1:])
    return CsvLayout(encoding, delimiter, False, (), email_col, name_cols, attrs)


def _layout_from_header(encoding: str, delimiter: str, first: list[str], keys: list[str],
                        email_col: int) -> CsvLayout:
    name_cols: tuple[int, ...] = ()
    full = [i for i, k in enumerate(keys) if k in NAME_HEADERS]
    given = [i for i, k in enumerate(keys) if k in FIRST_NAME_HEADERS]
    family = [i for i, k in enumerate(keys) if k in LAST_NAME_HEADERS]
    if full:
        name_cols = (full[0],)
    elif given or family:
        name_cols = tuple(given[:1] + family[:1])
    status_col = next((i for i, k in enumerate(keys) if k in STATUS_HEADERS), None)
    proof = tuple((k, keys.index(k)) for k in PROOF_HEADERS if k in keys)
    used = {email_col, *name_cols, *(c for c in [status_col] if c is not None),
            *(i for _k, i in proof), *range(_rejects_prefix(keys))}
    attrs = []
    # A header repeated after the column read for it (a second "name" or "status") is
    # ignored like a second email column, not read as an attribute of that name.
    seen: set[str] = {keys[i] for i in used if i < len(keys)}
    for i, k in enumerate(keys):
        if i in used or not k or k in IGNORED_HEADERS or k in EMAIL_HEADERS or k in seen:
            continue
        seen.add(k)
        attrs.append((i, k))
    headers = tuple(c.strip().lstrip("\ufeff") for c in first)
    return CsvLayout(encoding, delimiter, True, headers, email_col, name_cols, tuple(attrs),
                     status_col, proof)


def _rejects_prefix(keys: list[str]) -> int:
    """How many leading columns are :func:`write_rejects`' own (0 or 3), from header keys."""
    n = len(REJECTS_COLUMNS)
    return n if tuple(keys[:n]) == REJECTS_COLUMNS and len(keys) > n else 0


def _rows(path: Path, layout: CsvLayout,
          counter: list[int]) -> Iterator[tuple[int, list[str], str | None]]:
    """(first line number, cells, why not) of every non-blank data row; counter[0] = chars
    read.  "Why not" names the first byte of the row its encoding leaves undefined, or a
    quote left open (:func:`_swallowing`), else None."""
    # Undefined bytes can only be there in Windows-1252 or a damaged UTF-8 file: a clean
    # UTF-8 file (most of them; one pass of the C decoder tells) skips the check per line.
    check = layout.encoding == "cp1252" or (
        layout.encoding == "utf-8-sig" and _first_undecodable(path, "utf-8") is not None)
    delimiter = layout.delimiter
    windows = layout.encoding == "cp1252"
    with _open_text(path, layout.encoding) as fh:
        numbered = enumerate(fh, 1)
        again: deque[tuple[int, str, int]] = deque()  # lines to read again, in order
        taken: list[tuple[int, str, int]] = []  # (number, text, offset) of the current row
        ended = [False]  # the reader asked past the last line: its row may end in a quote

        def lines() -> Iterator[str]:
            while True:
                if again:
                    item = again.popleft()
                else:
                    fresh = next(numbered, None)
                    if fresh is None:
                        ended[0] = True
                        return
                    text = fresh[1]
                    if windows and not text.isascii():
                        text = _utf8_line(text)
                    item = (fresh[0], text, counter[0])
                    counter[0] += len(fresh[1])
                taken.append(item)
                yield item[1]

        # A file of addresses alone has no delimiter on its rows: any further address
        # inside a quoted value is a swallowed row.
        one_column = len(layout.headers) <= 1
        skip_header = layout.has_header
        reading = True
        while reading:
            reading = False
            # A new generator each pass: a quote left open to the end of the file has
            # exhausted the previous one, and the lines to read again are still waiting.
            for row in csv.reader(lines(), delimiter=delimiter):
                record = list(taken)
                taken.clear()
                line = record[0][0]
                # Only a row the end of the file closed can still have a quote open: the
                # reader goes on to the next lines until a quote closes it.
                if (len(record) > 1 and _swallowing(row, "" if one_column else delimiter)) or (
                        ended[0] and _left_open(record, delimiter)):
                    # Read the lines after the stray quote again, as rows of their own.
                    again.extendleft(reversed(record[1:]))
                    first = record[0][1].rstrip("\r\n")
                    if not skip_header:
                        over = (f"lines {line} to {record[-1][0]} would be read as one value"
                                if len(record) > 1 else "the rest of the line would be read "
                                "as one value")
                        yield line, first.split(delimiter), (
                            f"a double quote opened on line {line} is not closed on that "
                            f"line: {over}; correct the quotes of this line and import it "
                            "again")
                    skip_header = False
                    reading = True
                    break
                why = None
                if check:
                    why = next((w for number, text, offset in record if (
                        w := _undefined_byte_reason(text, number, offset, layout.encoding))),
                        None)
                if skip_header:
                    if any(c.strip() for c in row):
                        skip_header = False
                    continue
                if any(c.strip() for c in row):
                    yield line, row, why


def _utf8_line(text: str) -> str:
    """A line of a Windows-1252 file that is valid UTF-8 is UTF-8 (a file pasted together
    from two sources): read as such, or "RenÃ©" would be stored for "René".  A Windows-1252
    line of French text is practically never valid UTF-8 (an accented letter would have to
    be followed by one to three of the bytes 0x80-0xBF, which are not letters)."""
    try:
        return text.encode("cp1252", errors="surrogateescape").decode("utf-8")
    except UnicodeError:
        return text


def _left_open(record: list[tuple[int, str, int]], delimiter: str) -> bool:
    """Whether the lines of a row end inside a quoted value (the end of the file closed it):
    the lenient reader returns such a row as if the quote had closed at the very end, a
    strict one says "unexpected end of data"."""
    text = "".join(line for _number, line, _offset in record)
    if '"' not in text:
        return False
    try:
        for _row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _swallowing(row: list[str], delimiter: str) -> bool:
    """Whether a row read over several lines holds, inside a quoted value, what looks like
    further rows (a line with the delimiter and an address; ``delimiter`` "" for a file of
    one column: a line with an address): a double quote left open — a stray ``"`` typed in
    a name — which would turn the rows after it into one person's name (and put their
    addresses in a To: header)."""
    for cell in row:
        if "\n" in cell or "\r" in cell:
            for continued in cell.splitlines()[1:]:
                if delimiter in continued and "@" in continued:
                    return True
    return False


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


# --------------------------------------------------------------------------- importing

def import_csv(session: Session, path: str | Path, *, list_name: str, clock: Clock,
               consent: Consent | None = None, dry_run: bool = False, batch_size: int = 5000,
               progress: Callable[[ImportProgress], None] | None = None,
               source_name: str | None = None) -> ImportReport:
    """Import a CSV file into ``list_name``; commits after every batch of ``batch_size`` rows.

    New addresses are subscribed as active with ``consent`` (default: source ``import``,
    wording naming the file).  ``source_name``: the file name the history records (default:
    ``path``'s; a preset passes the name of the export it converted).  With ``dry_run``
    nothing is written.  Raises
    :class:`ImportFileError` for a file that cannot be read, and for another tool's export
    (:func:`~.presets.recognise`), which its preset must convert first.
    """
    path = Path(path)
    mailing_list = get_list(session, list_name)
    list_id, list_label = mailing_list.id, mailing_list.name
    layout = read_layout(path)
    if layout.has_header:
        from .presets import recognise  # presets builds on this module

        tool = recognise(layout.headers)
        if tool is not None:
            raise ImportFileError(str(path), f"this looks like a {tool} export: import it with "
                                             f"`--from {tool}`, which reads who unsubscribed, "
                                             "bounced or was blocklisted (read as a plain file, "
                                             "they would all be active)")
    source_name = source_name or path.name
    consent = consent or Consent("import", text=f"imported from {source_name}")
    report = ImportReport(str(path), list_label, layout, dry_run)
    total = max(path.stat().st_size // CHAR_BYTES.get(layout.encoding, 1), 1)
    # A date a little ahead is a clock or zone slip; further ahead, a typing error that would
    # put the person out of reach of the retention period for years.
    reader = _Reader(path, layout, report, batch_size, latest=clock.now() + FUTURE_SLACK)
    try:
        for batch, rows, chars in reader:
            if batch:
                _apply(session, batch, list_id, list_label, consent, clock, report,
                       source_name)
            if dry_run:
                session.rollback()
            else:
                session.commit()
            if progress is not None:
                progress(ImportProgress(rows, min(chars / total, 1.0)))
    except BaseException:
        session.rollback()
        raise
    finally:
        reader.close()
    return report


class _Reader:
    """The file's batches, read and validated one batch ahead in a thread of their own.

    Iterating gives ``(candidates, rows read, characters read)`` for each batch of
    ``batch_size`` distinct addresses, then a last (possibly empty) one at the end of the
    file.  While the database writes a batch (the driver lets other threads run while it
    waits), the next one is parsed and validated: the two overlap instead of adding up.  At
    most one batch waits, so memory stays flat; an error while reading is raised where the
    batches are consumed.  ``report.rows``, ``rejected``, ``duplicates`` and ``wider_rows``
    are this reader's (the writer touches only the other counters).
    """

    _END = object()

    def __init__(self, path: Path, layout: CsvLayout, report: ImportReport, batch_size: int,
                 *, latest: datetime):
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(path, layout, report, batch_size, latest),
            name="letterpress-import-reader", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[tuple[list[_Candidate], int, int]]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop reading (after an error or an interruption) and wait for the thread."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()  # unblock a pending put
            self._thread.join(0.01)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=0.05)
                return True
        return False

    def _run(self, path: Path, layout: CsvLayout, report: ImportReport,
             batch_size: int, latest: datetime) -> None:
        try:
            for item in _batches(path, layout, report, batch_size, latest):
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as exc:  # noqa: BLE001 - raised again in the consuming thread
            self._put(exc)


def _batches(path: Path, layout: CsvLayout, report: ImportReport, batch_size: int,
             latest: datetime) -> Iterator[tuple[list[_Candidate], int, int]]:
    """Rows read into candidates, duplicates merged, in batches (see :class:`_Reader`)."""
    chars = [0]
    seen: set[str] = set()
    batch: dict[str, _Candidate] = {}
    width = len(layout.headers) if layout.has_header else None
    for line, row, undecodable in _rows(path, layout, chars):
        report.rows += 1
        if width is not None and len(row) > width and any(c.strip() for c in row[width:]):
            report.wider_rows += 1
            report.first_wider_line = report.first_wider_line or line
        if undecodable is not None:
            report.rejected.append(Rejection(line, _shown(_cell(row, layout.email_column)),
                                             undecodable, tuple(_shown(c) for c in row)))
            continue
        candidate = _candidate(line, row, layout, report, latest)
        if candidate is None:
            continue
        if candidate.key in seen:
            report.duplicates += 1
            earlier = batch.get(candidate.key)
            if earlier is not None:
                _merge_candidates(earlier, candidate)
                continue
            candidate.duplicate = True
        seen.add(candidate.key)
        batch[candidate.key] = candidate
        if len(batch) >= batch_size:
            yield list(batch.values()), report.rows, chars[0]
            batch = {}
    yield list(batch.values()), report.rows, chars[0]


def _candidate(line: int, row: list[str], layout: CsvLayout, report: ImportReport,
               latest: datetime) -> _Candidate | None:
    value = _cell(row, layout.email_column)
    status = "active"
    everywhere = False
    if layout.status_column is not None:
        written = _cell(row, layout.status_column)
        cell = _header_key(written)
        if cell not in STATUS_VALUES:
            report.rejected.append(Rejection(line, value, f"unknown status {written!r} "
                                             f"(expected {', '.join(STATUSES)} or "
                                             "blocklisted)", tuple(row)))
            return None
        status = STATUS_VALUES[cell]
        everywhere = cell in EVERYWHERE
    try:
        address = sendable_email(value)
        proof = _proof(row, layout, latest)
    except InvalidEmail as exc:
        report.rejected.append(Rejection(line, value, exc.reason, tuple(row)))
        return None
    width = len(row)
    name = clean_text(" ".join([v for i in layout.name_columns
                                if i < width and (v := row[i].strip())])) or None
    attributes = {key: clean_text(v) for i, key in layout.attribute_columns
                  if i < width and (v := row[i].strip())}
    # A bare "unsubscribed" in someone's file proves no consent to record: the person is not
    # added, but the objection is kept (a hashed suppression entry), so the old contact
    # file imported later cannot make them active again.
    suppress_only = status in STOPPED_STATUSES and not layout.proof_columns
    return _Candidate(line, address, email_key(address), name, attributes, status=status,
                      proof=proof, suppress_only=suppress_only, everywhere=everywhere,
                      cells=tuple(row))


def _proof(row: list[str], layout: CsvLayout, latest: datetime) -> dict[str, Any]:
    """The consent proof and unsubscribe columns of a row (raises InvalidEmail-like errors
    as :class:`InvalidEmail` so the row is reported, not fatal); a date after ``latest`` is
    one of them."""
    proof: dict[str, Any] = {}
    for key, index in layout.proof_columns:
        cell = _cell(row, index)
        if not cell:
            # A column present but empty says "none" (no IP, never confirmed…).
            proof[key] = None if key != "consent_text" else ""
            continue
        if key in PROOF_TIMES:
            try:
                when = datetime.fromisoformat(cell)
            except ValueError:
                raise InvalidEmail(cell, f"{key}: not a date-time (ISO 8601)") from None
            proof[key] = when if when.tzinfo else when.replace(tzinfo=UTC)
            if proof[key] > latest:
                raise InvalidEmail(cell, f"{key}: {cell} is in the future")
        elif key == "consent_source" and cell not in CONSENT_SOURCES:
            raise InvalidEmail(cell, f"consent_source: one of {', '.join(CONSENT_SOURCES)}")
        elif key == "unsubscribe_channel" and cell not in CHANNELS:
            raise InvalidEmail(cell, f"unsubscribe_channel: one of {', '.join(CHANNELS)}")
        else:
            proof[key] = clean_text(cell) if key != "consent_text" else cell
    return proof


def _merge_candidates(earlier: _Candidate, later: _Candidate) -> None:
    """A duplicate inside the file: the first occurrence wins, later ones fill its blanks —
    but a later stop (unsubscribed, bounced, complained, blocklisted) stops it.

    (Not "last wins": when the two occurrences fall in different batches the first is
    already written, and re-importing the file would then flip the value back and forth.)
    """
    if later.name and not earlier.name:
        earlier.name = later.name
    for key, value in later.attributes.items():
        earlier.attributes.setdefault(key, value)
    if later.status in STOPPED_STATUSES and earlier.status not in STOPPED_STATUSES:
        # Except a stop: an objection anywhere in the file is honoured (and never flips back
        # on a re-import, where the earlier row finds the person stopped).
        earlier.line, earlier.status, earlier.cells = later.line, later.status, later.cells
        earlier.suppress_only, earlier.everywhere = later.suppress_only, later.everywhere
        for key in ("unsubscribed_at", "unsubscribe_channel"):
            if key in later.proof:
                earlier.proof[key] = later.proof[key]


def _fill_profile(subscriber: Subscriber, name: str | None, attributes: dict[str, Any]) -> bool:
    """Apply a duplicate row whose first occurrence was in an earlier batch: fill blanks only."""
    changed = False
    if name and not subscriber.name:
        subscriber.name = name
        changed = True
    missing = {k: v for k, v in attributes.items() if (subscriber.attributes or {}).get(k)
               in (None, "")}
    if missing:
        subscriber.attributes = {**(subscriber.attributes or {}), **missing}
        changed = True
    return changed


def _apply(session: Session, batch: list[_Candidate], list_id: int, list_name: str,
           consent: Consent, clock: Clock, report: ImportReport, source_name: str) -> None:
    """Classify and write one batch: three lookups, then set-based writes.

    The lookups read plain rows (no ORM objects: building one per known subscriber cost more
    than the database on a re-import); profile changes go as one executemany UPDATE; new
    people, subscriptions and their events as one INSERT each (:func:`.bulk.insert_rows`),
    or on PostgreSQL together in one statement after a COPY (:mod:`.import_batch`).
    """
    keys = [c.key for c in batch]
    dialect = session.get_bind().dialect.name
    subscribers = {row.email_key: row for row in session.execute(
        select(Subscriber.id, Subscriber.email_key, Subscriber.name, Subscriber.attributes)
        .where(among(Subscriber.email_key, keys, dialect)))}
    subscriptions: dict[int, Any] = {}
    if subscribers:
        subscriptions = {row.subscriber_id: row for row in session.execute(
            select(Subscription.id, Subscription.subscriber_id, Subscription.status)
            .where(Subscription.list_id == list_id, among(
                Subscription.subscriber_id, [s.id for s in subscribers.values()], dialect)))}
    hashes = {c.key: key_hash(c.key) for c in batch}
    blocked = suppressions_for(session, hashes.values(), list_name)
    _stop_elsewhere(session, [(c, subscribers[c.key].id) for c in batch
                              if (c.everywhere or c.status in ("bounced", "complained"))
                              and c.key in subscribers],
                    list_id, clock, report, source_name)
    now = clock.now()
    new_people: list[dict[str, Any]] = []
    to_subscribe: list[tuple[_Candidate, int | None]] = []  # (row, existing subscriber id)
    profiles: dict[int, _Profile] = {}  # subscriber id -> profile as this batch leaves it

    for c in batch:
        subscriber = subscribers.get(c.key)
        sub = subscriptions.get(subscriber.id) if subscriber is not None else None
        reason = None
        if (sub is not None and c.status in STOPPED_STATUSES
                and sub.status in ("active", "pending")):
            # The file records a stop this database does not know yet: a stop is never lost
            # (with or without its proof: stopping needs no consent).
            _stop(session, session.get(Subscription, sub.id), c, clock, source_name)
            _profile_from(profiles, subscriber, c)  # the row's name and attributes too
            report.updated += 1
            continue
        if c.suppress_only:
            if c.duplicate:
                continue
            if sub is not None or hashes[c.key] in blocked:
                # Stopped here already, or suppressed: nothing new (a re-import of the file).
                report.unchanged += 1
                continue
            _suppress_stopped(session, c, list_name, now)
            report.suppressed.append(SuppressedRow(c.line, c.email,
                                                   f"{_stated(c)} in the file", c.cells))
            continue
        if sub is not None and sub.status in STOPPED_STATUSES and sub.status != c.status:
            reason = sub.status
        elif sub is None and hashes[c.key] in blocked:
            reason = blocked[hashes[c.key]].reason
        if reason is not None:
            if not c.duplicate:
                report.suppressed.append(SuppressedRow(c.line, c.email, reason, c.cells))
            continue
        if subscriber is None:
            new_people.append({"email": c.email, "email_key": c.key, "name": c.name or "",
                               "attributes": dict(c.attributes), "created_at": now,
                               "updated_at": now, "link_key": ""})
            to_subscribe.append((c, None))
            continue
        changed = _profile_from(profiles, subscriber, c)
        if sub is None:
            to_subscribe.append((c, subscriber.id))
        elif not c.duplicate:
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1

    session.flush()  # stops recorded above
    # Core statements on the session's connection: the ORM's bulk path costs more than the
    # database itself at these sizes (same transaction, same defaults such as link keys).
    connection = session.connection()
    _update_profiles(session, connection, profiles, now)
    if new_people:
        for person, link_key in zip(new_people, new_link_keys(len(new_people)), strict=True):
            person["link_key"] = link_key
    if to_subscribe:
        write = _write_postgresql if dialect == "postgresql" else _write_rows
        write(connection, new_people, to_subscribe, list_id, consent, now, source_name)
    for c, _sid in to_subscribe:
        if c.status in STOPPED_STATUSES:
            _suppress_stopped(session, c, list_name, now)
    report.added += sum(1 for c, _sid in to_subscribe if not c.duplicate)


def _profile_from(profiles: dict[int, _Profile], subscriber: Any, c: _Candidate) -> bool:
    """Merge row ``c`` into the profile ``subscriber`` leaves this batch with (a duplicate
    only fills blanks); whether it changed anything."""
    profile = profiles.get(subscriber.id)
    if profile is None:
        profile = profiles[subscriber.id] = _Profile(subscriber.name, subscriber.attributes)
    changed = (_fill_profile if c.duplicate else _merge_profile)(profile, c.name, c.attributes)
    profile.changed = profile.changed or changed
    return changed


def _event_data(c: _Candidate, consent: Consent, default: dict[str, Any]) -> dict[str, Any]:
    """The consent event's data: the file's proof when it has some, else ``default``."""
    if not c.proof:
        return default
    return _consent_data(c.proof.get("consent_source") or consent.source,
                         c.proof.get("consent_text", consent.text),
                         c.proof.get("consent_form_id", consent.form_id))


def _write_rows(connection, new_people: list[dict[str, Any]],
                to_subscribe: list[tuple[_Candidate, int | None]], list_id: int,
                consent: Consent, now: datetime, source_name: str) -> None:
    """New people, subscriptions and events as one INSERT each (:func:`.bulk.insert_rows`)."""
    people, subs, events = (Subscriber.__table__, Subscription.__table__,
                            SubscriptionEvent.__table__)
    new_ids: dict[str, int] = {}
    if new_people:
        new_ids = dict(insert_rows(connection, people, new_people, ("email_key", "id")))
    default_data = _consent_data(consent.source, consent.text, consent.form_id)
    # RETURNING the subscriber id with the new id maps them without asking the database to
    # keep the parameters' order (which would cost one statement per row on SQLite).
    plain = _subscription_row(None, 0, list_id, consent, now)  # a row without proof columns
    by_subscriber = dict(insert_rows(
        connection, subs,
        [_subscription_row(c, sid if sid is not None else new_ids[c.key], list_id, consent, now)
         if c.proof or c.status in STOPPED_STATUSES else
         {**plain, "subscriber_id": sid if sid is not None else new_ids[c.key],
          "status": c.status}
         for c, sid in to_subscribe], ("subscriber_id", "id")))
    sub_ids = [by_subscriber[sid if sid is not None else new_ids[c.key]]
               for c, sid in to_subscribe]
    insert_rows(connection, events, [
        {"subscription_id": sub_id, "at": now, "old_status": None, "new_status": c.status,
         "actor": "import", "channel": "import", "detail": f"{source_name} line {c.line}",
         "data": _event_data(c, consent, default_data)}
        for sub_id, (c, _sid) in zip(sub_ids, to_subscribe, strict=True)])


def _write_postgresql(connection, new_people: list[dict[str, Any]],
                      to_subscribe: list[tuple[_Candidate, int | None]], list_id: int,
                      consent: Consent, now: datetime, source_name: str) -> None:
    """The same rows as :func:`_write_rows`, written by COPY and one statement
    (:mod:`.import_batch`)."""
    people = {p["email_key"]: p for p in new_people}
    default_data = _consent_data(consent.source, consent.text, consent.form_id)
    plain = _subscription_row(None, 0, list_id, consent, now)
    insert_batch_postgresql(connection, [
        NewSubscription(
            sid if sid is not None else people[c.key],
            _subscription_row(c, 0, list_id, consent, now)
            if c.proof or c.status in STOPPED_STATUSES else {**plain, "status": c.status},
            f"{source_name} line {c.line}", _event_data(c, consent, default_data))
        for c, sid in to_subscribe], list_id=list_id, now=now)


class _Profile:
    """A known subscriber's name and attributes while a batch merges rows into them (what
    :func:`_merge_profile` and :func:`_fill_profile` change, without an ORM object)."""

    __slots__ = ("attributes", "changed", "name")

    def __init__(self, name: str, attributes: dict[str, Any] | None):
        self.name = name
        self.attributes = attributes
        self.changed = False


def _update_profiles(session: Session, connection, profiles: dict[int, _Profile],
                     now: datetime) -> None:
    """Write the changed profiles in one executemany UPDATE; objects of these subscribers
    the session may hold are expired, so they read the new values."""
    changed = [(sid, p) for sid, p in profiles.items() if p.changed]
    if not changed:
        return
    table = Subscriber.__table__
    connection.execute(
        table.update().where(table.c.id == bindparam("b_id")).values(
            name=bindparam("b_name"), attributes=bindparam("b_attributes"),
            updated_at=bindparam("b_updated_at")),
        # Cleaned as the model's validators clean what is assigned to a Subscriber.
        [{"b_id": sid, "b_name": clean_text(p.name or ""),
          "b_attributes": clean_attributes(p.attributes), "b_updated_at": now}
         for sid, p in changed])
    for sid, _p in changed:
        held = session.identity_map.get(session.identity_key(Subscriber, sid))
        if held is not None:
            session.expire(held)


def _consent_data(source, text, form_id) -> dict[str, Any]:
    return {"consent": {k: v for k, v in (("source", source), ("text", text),
                                          ("form_id", form_id)) if v}}


def _subscription_row(c: _Candidate | None, subscriber_id: int, list_id: int,
                      consent: Consent, now) -> dict[str, Any]:
    """A new subscription as the file describes it (its status and proof), else the
    consent given on the command line (``c`` None: an active row without proof)."""
    p = c.proof if c is not None else {}
    status = c.status if c is not None else "active"
    stopped = status in STOPPED_STATUSES
    return {"subscriber_id": subscriber_id, "list_id": list_id, "status": status,
            "consent_at": p.get("consent_at") or now,
            "consent_source": p.get("consent_source") or consent.source,
            "consent_text": p.get("consent_text", consent.text),
            "consent_form_id": p.get("consent_form_id", consent.form_id),
            "consent_ip": p.get("consent_ip", consent.ip),
            "confirmed_at": p.get("confirmed_at"),
            # A column present but empty is kept empty (a bounce has no unsubscribe date).
            "unsubscribed_at": p.get("unsubscribed_at", now if stopped else None),
            "unsubscribe_channel": p.get("unsubscribe_channel", "import" if stopped else None),
            "created_at": now, "updated_at": now}


def _suppress_stopped(session: Session, c: _Candidate, list_name: str, now) -> None:
    """The suppression entry a stopped subscription carries (as if it had stopped here)."""
    scope = list_name if c.status == "unsubscribed" and not c.everywhere else ALL_LISTS
    suppress(session, key_hash(c.key), scope=scope, reason=c.status,
             at=c.proof.get("unsubscribed_at") or now)


def _stop(session: Session, sub: Subscription, c: _Candidate, clock: Clock,
          source_name: str) -> None:
    """An active or pending subscription the file says has stopped: record the stop."""
    when = c.proof.get("unsubscribed_at") or clock.now()
    channel = c.proof.get("unsubscribe_channel") or "import"
    change_status(session, sub, c.status, clock=clock, actor="import", channel="import",
                  detail=f"{source_name} line {c.line}: {_stated(c)} in the file")
    sub.unsubscribed_at = when
    sub.unsubscribe_channel = channel
    _suppress_stopped(session, c, sub.mailing_list.name, clock.now())


def _stop_elsewhere(session: Session, people: list[tuple[_Candidate, int]], list_id: int,
                    clock: Clock, report: ImportReport, source_name: str) -> None:
    """A stop the file says holds for every list — a tool's blocklist (an objection to all
    the sender's mail), a hard bounce (the address does not exist), a complaint — stops the
    person's active or pending subscriptions on the other lists too (this list's is the
    import's own business), with the suppression entry on every list."""
    if not people:
        return
    rows = {c.line: c for c, _sid in people}
    owner = {sid: c.line for c, sid in people}
    dialect = session.get_bind().dialect.name
    for sub in session.scalars(
            select(Subscription).where(
                among(Subscription.subscriber_id, list(owner), dialect),
                Subscription.list_id != list_id,
                Subscription.status.in_(("active", "pending")))
            .order_by(Subscription.id)):
        c = rows[owner[sub.subscriber_id]]
        change_status(session, sub, c.status, clock=clock, actor="import", channel="import",
                      detail=f"{source_name} line {c.line}: {_stated(c)} in the file")
        sub.unsubscribed_at = c.proof.get("unsubscribed_at") or clock.now()
        sub.unsubscribe_channel = "import"
        report.stopped_elsewhere += 1
    for c, _sid in people:  # the entry that keeps them stopped everywhere, whatever this list
        suppress(session, key_hash(c.key), scope=ALL_LISTS, reason=c.status,
                 at=c.proof.get("unsubscribed_at") or clock.now())


def _stated(c: _Candidate) -> str:
    """The stop as the file says it (a blocklist is an unsubscribe here)."""
    return "blocklisted" if c.everywhere else c.status


def write_rejects(report: ImportReport, path: str | Path) -> int:
    """Write the rejected and suppressed rows as CSV (UTF-8 with BOM, ``;``); their number.

    Columns: ``line``, ``reason``, ``value``, then the original ones (a file without a header
    row gets ``email``, ``name``, ``column_N`` as its import named them).  Importing this
    file once fixed ignores its first three columns (:func:`read_layout`), so nothing of
    them becomes an attribute; the rejects of a rejects file keep one such prefix.  Rows in
    line order; a suppressed row keeps its cells (status included) as the file had them.
    """
    layout = report.layout
    headers: list[str] = []
    skip = email_column = 0
    if layout is not None and layout.headers:
        skip = _rejects_prefix([_header_key(h) for h in layout.headers])
        headers = list(layout.headers[skip:])
        email_column = layout.email_column - skip
    elif layout is not None:
        width = max([len(r.row) for r in report.rejected]
                    + [layout.email_column + 1, *(i + 1 for i in layout.name_columns),
                       *(i + 1 for i, _name in layout.attribute_columns)])
        names = dict(layout.attribute_columns)
        headers = ["email" if i == layout.email_column else "name" if i in layout.name_columns
                   else names.get(i, f"column_{i + 1}") for i in range(width)]
        email_column = layout.email_column
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow([*REJECTS_COLUMNS, *headers])
        rows = [(r.line, [r.line, r.reason, r.value, *r.row[skip:]]) for r in report.rejected]
        for s in report.suppressed:
            cells = list(s.row[skip:]) or [""] * len(headers)
            if email_column < len(cells) and not s.row:
                cells[email_column] = s.email
            rows.append((s.line, [s.line, f"suppressed ({s.reason})", s.email, *cells]))
        for _line, row in sorted(rows, key=lambda item: item[0]):
            writer.writerow(row)
    return len(rows)

