"""Where returned messages come from: an IMAP or POP3 mailbox, a Maildir, an mbox, one file.

The fetch loop keeps one rule: a message leaves its mailbox only after its outcome was
committed.  Each message is processed and committed, then deleted (or, when it could not
be understood, moved to the ``unparsed`` IMAP folder, or left in place).  A crash in
between leaves the message behind; the next fetch finds its fingerprint already recorded
and only deletes it — every message is processed exactly once.  Local sources (Maildir,
mbox, files) commit up to :data:`LOCAL_BATCH` messages per transaction, and remove them
only after that commit.

    imaps://user:pass@host[:993]/INBOX          IMAP over TLS (imap://…?tls=starttls|none)
    pop3s://user:pass@host[:995]                POP3 over TLS (pop3://…?tls=starttls|none)
    maildir:///var/mail/bounces  or a path      a Maildir on this machine
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import poplib
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from ..errors import BounceSourceError
from ..project import Project
from .record import AlreadyRecorded, Processed, process_bytes

__all__ = ["FetchReport", "Mailbox", "fetch", "ingest", "iter_raw", "open_mailbox"]

UNPARSED_FOLDER = "unparsed"
CHUNK = 100  # messages fetched (and deleted) per IMAP round trip
# Messages of a local source (Maildir, mbox, files) committed together: one transaction per
# message cost more than the ledger work itself.  Network mailboxes keep one per message, so
# no transaction stays open while the next message is on its way.
LOCAL_BATCH = 100
BATCH_SECONDS = 1.0  # and a batch never holds the database's write lock longer than about this


@dataclass
class FetchReport:
    """Counts of one fetch or ingest: per kind, messages already processed before, total."""

    counts: Counter = field(default_factory=Counter)
    already: int = 0
    total: int = 0

    def add(self, result: Processed) -> None:
        self.total += 1
        if result.already:
            self.already += 1
        else:
            self.counts[result.kind] += 1

    def summary(self) -> str:
        parts = [f"{self.total} message(s)"]
        parts += [f"{n} {kind}" for kind, n in sorted(self.counts.items())]
        if self.already:
            parts.append(f"{self.already} already processed")
        return ", ".join(parts)


class Mailbox:
    """A source of raw messages that can drop or set aside a message once it is recorded."""

    source = "mailbox"
    batch = 1  # messages per transaction; each leaves the mailbox after its batch committed

    def messages(self) -> Iterator[tuple[str, bytes]]:
        raise NotImplementedError

    def done(self, ref: str, kind: str) -> None:
        """Called after the message's outcome was committed."""

    def close(self) -> None:
        """Apply pending deletions and disconnect."""


def _tls(query: dict, default: str) -> tuple[str, ssl.SSLContext]:
    mode = query.get("tls", [default])[0]
    context = ssl.create_default_context(cafile=query["cafile"][0] if "cafile" in query
                                         else None)
    if mode not in ("ssl", "starttls", "none"):
        raise BounceSourceError("", f"tls={mode}: use ssl, starttls or none")
    return mode, context


class IMAPMailbox(Mailbox):
    """An IMAP folder through imapclient: processed messages are expunged, the ones that were
    not understood are moved to the ``unparsed`` folder."""

    source = "imap"

    def __init__(self, url: str):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        mode, context = _tls(query, "ssl" if parts.scheme == "imaps" else "none")
        self.folder = unquote(parts.path.lstrip("/")) or "INBOX"
        self.ref = f"{parts.hostname}/{self.folder}"
        try:
            self.client = IMAPClient(parts.hostname, port=parts.port or (
                993 if mode == "ssl" else 143), ssl=mode == "ssl", ssl_context=context,
                timeout=60)
            if mode == "starttls":
                self.client.starttls(context)
            self.client.login(unquote(parts.username or ""), unquote(parts.password or ""))
            self.client.select_folder(self.folder)
        except (OSError, IMAPClientError) as exc:
            raise BounceSourceError(_safe(url), str(exc)) from None
        self.can_move = self.client.has_capability("MOVE")
        self._delete: list[int] = []
        self._unparsed: list[int] = []

    def messages(self) -> Iterator[tuple[str, bytes]]:
        uids = sorted(self.client.search("ALL"))
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start:start + CHUNK]
            fetched = self.client.fetch(chunk, [b"BODY.PEEK[]"])
            for uid in chunk:
                data = fetched.get(uid, {}).get(b"BODY[]")
                if data is not None:
                    yield str(uid), data
            self._flush()

    def done(self, ref: str, kind: str) -> None:
        (self._unparsed if kind == "unparsed" else self._delete).append(int(ref))

    def _flush(self) -> None:
        if self._unparsed:
            if not self.client.folder_exists(UNPARSED_FOLDER):
                self.client.create_folder(UNPARSED_FOLDER)
            if self.can_move:
                self.client.move(self._unparsed, UNPARSED_FOLDER)
            else:
                self.client.copy(self._unparsed, UNPARSED_FOLDER)
                self._delete += self._unparsed
            self._unparsed = []
        if self._delete:
            self.client.delete_messages(self._delete)
            self.client.uid_expunge(self._delete) if self.client.has_capability(
                "UIDPLUS") else self.client.expunge()
            self._delete = []

    def close(self) -> None:
        try:
            self._flush()
            self.client.logout()
        except (OSError, IMAPClientError):
            pass  # not deleted now: deleted by the next fetch, which finds them recorded


class POP3Mailbox(Mailbox):
    """A POP3 mailbox: recorded messages are deleted at the end (QUIT); unparsed ones stay."""

    source = "pop3"

    def __init__(self, url: str):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        mode, context = _tls(query, "ssl" if parts.scheme == "pop3s" else "none")
        self.ref = str(parts.hostname)
        try:
            if mode == "ssl":
                self.client = poplib.POP3_SSL(parts.hostname, parts.port or 995,
                                              context=context, timeout=60)
            else:
                self.client = poplib.POP3(parts.hostname, parts.port or 110, timeout=60)
                if mode == "starttls":
                    self.client.stls(context)
            self.client.user(unquote(parts.username or ""))
            self.client.pass_(unquote(parts.password or ""))
        except (OSError, poplib.error_proto) as exc:
            raise BounceSourceError(_safe(url), str(exc)) from None

    def messages(self) -> Iterator[tuple[str, bytes]]:
        count, _ = self.client.stat()
        for number in range(1, count + 1):
            _, lines, _ = self.client.retr(number)
            yield str(number), b"\r\n".join(lines) + b"\r\n"

    def done(self, ref: str, kind: str) -> None:
        if kind != "unparsed":
            self.client.dele(int(ref))

    def close(self) -> None:
        with contextlib.suppress(OSError, poplib.error_proto):
            self.client.quit()


class MaildirMailbox(Mailbox):
    """A Maildir: recorded messages are removed; unparsed ones are left in place.

    Files are streamed from ``new/`` and ``cur/`` (``os.scandir``), never listed all at
    once: memory stays flat however many messages wait.
    """

    source = "maildir"
    batch = LOCAL_BATCH

    def __init__(self, path: str | Path, *, delete: bool = True):
        self.path = Path(path)
        if not (self.path / "cur").is_dir() and not (self.path / "new").is_dir():
            raise BounceSourceError(str(path), "not a Maildir (no cur/ or new/)")
        self.delete = delete

    def messages(self) -> Iterator[tuple[str, bytes]]:
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    try:
                        with open(entry.path, "rb") as fh:
                            data = fh.read()
                    except FileNotFoundError:
                        continue  # removed meanwhile
                    yield f"{sub}/{entry.name}", data

    def done(self, ref: str, kind: str) -> None:
        if self.delete and kind != "unparsed":
            with contextlib.suppress(FileNotFoundError):
                (self.path / ref).unlink()


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def open_mailbox(url: str) -> Mailbox:
    """The mailbox named by ``url`` (see the module docstring); raises BounceSourceError."""
    scheme = urlsplit(url).scheme
    if scheme in ("imap", "imaps"):
        return IMAPMailbox(url)
    if scheme in ("pop3", "pop3s", "pop", "pops"):
        return POP3Mailbox(url)
    if scheme == "maildir":
        return MaildirMailbox(unquote(urlsplit(url).path))
    if scheme == "":
        return MaildirMailbox(url)
    raise BounceSourceError(url, f"unknown scheme {scheme!r} (imaps, imap, pop3s, pop3, "
                                 "maildir)")


def _process_one(project: Project, box: Mailbox, ref: str, raw: bytes) -> Processed:
    settings, clock = project.settings, project.clock
    try:
        with project.session() as session:
            return process_bytes(session, raw, settings=settings, clock=clock,
                                 source=box.source, source_ref=ref)
    except AlreadyRecorded:
        # Another fetch recorded it between our check and our commit: read its outcome.
        with project.session() as session:
            return process_bytes(session, raw, settings=settings, clock=clock,
                                 source=box.source, source_ref=ref)


def _process_batch(project: Project, box: Mailbox, batch: list[tuple[str, bytes]]
                   ) -> Iterator[tuple[str, Processed]]:
    """(ref, outcome) of each message of ``batch``, every one committed before it is yielded.

    The whole batch goes in one transaction; if any message fails (another fetch recorded
    it meanwhile, a database error), that transaction is rolled back and the messages are
    processed again one per transaction — so the failing one fails alone, as it would have.
    """
    if len(batch) > 1:
        settings, clock = project.settings, project.clock
        try:
            with project.session() as session:
                results = [process_bytes(session, raw, settings=settings, clock=clock,
                                         source=box.source, source_ref=ref)
                           for ref, raw in batch]
        except Exception:  # rolled back: done again one by one, below
            pass
        else:
            yield from zip((ref for ref, _ in batch), results, strict=True)
            return
    for ref, raw in batch:
        yield ref, _process_one(project, box, ref, raw)


def _run(project: Project, box: Mailbox, progress: Callable[[FetchReport], None] | None
         ) -> FetchReport:
    report = FetchReport()

    def commit(batch: list[tuple[str, bytes]]) -> None:
        for ref, result in _process_batch(project, box, batch):
            # Committed: only now may the message leave its mailbox.
            box.done(ref, result.kind)
            report.add(result)
            if progress is not None:
                progress(report)
        batch.clear()

    batch: list[tuple[str, bytes]] = []
    started = 0.0
    for ref, raw in box.messages():
        if not batch:
            started = time.monotonic()
        batch.append((ref, raw))
        if len(batch) >= box.batch or time.monotonic() - started >= BATCH_SECONDS:
            commit(batch)
    if batch:
        commit(batch)
    return report


def fetch(project: Project, url: str, *,
          progress: Callable[[FetchReport], None] | None = None) -> FetchReport:
    """Read and empty the mailbox at ``url``; raises :class:`BounceSourceError`."""
    box = open_mailbox(url)
    try:
        return _run(project, box, progress)
    finally:
        box.close()


class _Stream(Mailbox):
    batch = LOCAL_BATCH

    def __init__(self, items: Iterator[tuple[str, bytes]], source: str):
        self.items = items
        self.source = source

    def messages(self) -> Iterator[tuple[str, bytes]]:
        return self.items


def iter_raw(source: str | Path | BinaryIO) -> tuple[str, Iterator[tuple[str, bytes]]]:
    """(source kind, raw messages) of a binary stream, a Maildir, an mbox, one file or a
    folder of ``.eml`` files."""
    if not isinstance(source, (str, Path)):
        return "stdin", iter([("-", source.read())])
    path = Path(source)
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".eml")
            return "file", ((p.name, p.read_bytes()) for p in files)
        box = MaildirMailbox(path, delete=False)
        return "maildir", box.messages()
    if not path.exists():
        raise BounceSourceError(str(path), "no such file or folder")
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        box = mailbox.mbox(path, factory=None, create=False)
        return "mbox", ((f"{path.name}:{key}", box.get_bytes(key)) for key in box.iterkeys())
    return "file", iter([(path.name, path.read_bytes())])


def ingest(project: Project, source: str | Path | BinaryIO, *,
           progress: Callable[[FetchReport], None] | None = None) -> FetchReport:
    """Process one message, an mbox or a Maildir without removing anything."""
    kind, items = iter_raw(source)
    return _run(project, _Stream(items, kind), progress)
