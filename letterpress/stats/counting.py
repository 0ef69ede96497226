"""Counting clicks and opens, people apart from mail security scanners.

The rule (docs/reports.md, "Scanners"): a request is counted as a **scanner** when

1. its method is ``HEAD`` (link checkers probe; a person's browser sends GET), or
2. its ``User-Agent`` names a known scanner or automatic client (:data:`SCANNER_AGENTS`), or
   is empty, or
3. it is part of a **burst**: the same client asks for a second, different link of the same
   issue less than :data:`BURST_SECONDS` after the first — what a gateway does the moment a
   message is delivered, following every link at once.  The earlier requests of that client
   in the burst are moved from people to scanners as well.

"The same client" is a hash of address and user agent held in memory for a few seconds
only; it is never written anywhere.  Everything stored is a count per link (or issue) per day.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import LinkClick, OpenCount

__all__ = ["BURST_SECONDS", "SCANNER_AGENTS", "BurstDetector", "CountBuffer", "Verdict", "count_click",
           "count_open", "is_scanner_agent"]

BURST_SECONDS = 5.0

SCANNER_AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|urldefense|safelinks|symantec|messagelabs|trend ?micro|"
    r"sophos|fortinet|fortiguard|forcepoint|ironport|cisco|zscaler|checkpoint|check point|"
    r"bitdefender|kaspersky|eset|vade|altospam|mailinblack|spamhaus|cloudmark|"
    r"bingpreview|linkpreview|slackbot|facebookexternalhit|skypeuripreview|whatsapp|"
    r"python-requests|python-urllib|aiohttp|httpx|curl|wget|go-http-client|java/|okhttp|"
    r"libwww|headlesschrome|phantomjs|scanner|crawler|spider|\bbot\b|bot/",
    re.IGNORECASE)
"""User agents of mail gateways, link previewers and scripts — never a reader's browser."""


def is_scanner_agent(user_agent: str | None) -> bool:
    """True for an empty user agent or one matching :data:`SCANNER_AGENTS`."""
    return not (user_agent or "").strip() or bool(SCANNER_AGENTS.search(user_agent or ""))


@dataclass(frozen=True)
class Verdict:
    """How one request is counted: ``scanner``, plus earlier requests to move to scanners."""

    scanner: bool
    reclassify: tuple[str, ...] = ()  # link ids counted as people a moment ago


class BurstDetector:
    """Remembers, for :data:`BURST_SECONDS`, which links each client just asked for.

    Memory only, keyed by a salted hash of (address, user agent), bounded in size.
    """

    def __init__(self, seconds: float = BURST_SECONDS, *, monotonic: Callable[[], float] = time.monotonic,
                 max_clients: int = 50_000):
        self.seconds = seconds
        self.monotonic = monotonic
        self.max_clients = max_clients
        self._salt = hashlib.sha256(str(time.time_ns()).encode()).digest()
        self._recent: dict[tuple[bytes, str], tuple[float, list[str], bool]] = {}
        self._lock = threading.Lock()

    def _client(self, address: str, user_agent: str) -> bytes:
        return hashlib.blake2s(f"{address}\0{user_agent}".encode(), key=self._salt[:32],
                               digest_size=12).digest()

    def check(self, issue: str, link_id: str, address: str, user_agent: str) -> Verdict:
        """The verdict for a GET of ``link_id`` in ``issue`` by this client."""
        now = self.monotonic()
        key = (self._client(address, user_agent), issue)
        with self._lock:
            if len(self._recent) >= self.max_clients:
                self._recent = {k: v for k, v in self._recent.items()
                                if now - v[0] < self.seconds}
            entry = self._recent.get(key)
            if entry is None or now - entry[0] >= self.seconds:
                self._recent[key] = (now, [link_id], False)
                return Verdict(False)
            first, seen, burst = entry
            if link_id in seen and not burst:
                return Verdict(False)  # a double click on the same link
            moved = () if burst else tuple(seen)
            self._recent[key] = (first, [*seen, link_id], True)
            return Verdict(True, moved)


def _upsert(session: Session, table, keys: dict, people_col: str, people: int, scanner: int) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**keys, **{people_col: people, "scanner": scanner})
    column = getattr(table, people_col)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={people_col: column + stmt.excluded[people_col],
              "scanner": table.scanner + stmt.excluded.scanner})
    session.execute(stmt)


def count_click(session: Session, publication: str, number: int, link_id: str, day: date,
                verdict: Verdict) -> None:
    """Add one click to the link's count of ``day`` (people or scanners per ``verdict``)."""
    keys = {"publication": publication, "issue_number": number, "day": day}
    _upsert(session, LinkClick, {**keys, "link_id": link_id}, "clicks",
            0 if verdict.scanner else 1, 1 if verdict.scanner else 0)
    for moved in verdict.reclassify:
        _upsert(session, LinkClick, {**keys, "link_id": moved}, "clicks", -1, 1)


def count_open(session: Session, publication: str, number: int, day: date, scanner: bool) -> None:
    """Add one load of the issue's pixel to the count of ``day``."""
    _upsert(session, OpenCount, {"publication": publication, "issue_number": number, "day": day},
            "opens", 0 if scanner else 1, 1 if scanner else 0)


class CountBuffer:
    """Counts held in memory and written together, at most every ``seconds``.

    A click must not wait for the database's write lock, which a running send holds most of
    the time on SQLite: the redirect only adds to this buffer, and one writer thread flushes it
    in a single transaction.  ``seconds = 0`` writes at once (tests).  Counts not yet written
    when the process is killed are lost (at most ``seconds`` of them); a clean exit flushes.
    """

    def __init__(self, write: Callable[[Callable[[Session], None]], None], *, seconds: float = 1.0):
        self.write = write  # runs a function with a write session
        self.seconds = seconds
        self._clicks: dict[tuple[str, int, str, date], list[int]] = {}
        self._opens: dict[tuple[str, int, date], list[int]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def click(self, publication: str, number: int, link_id: str, day: date,
              verdict: Verdict) -> None:
        with self._lock:
            c = self._clicks.setdefault((publication, number, link_id, day), [0, 0])
            c[1 if verdict.scanner else 0] += 1
            for moved in verdict.reclassify:
                m = self._clicks.setdefault((publication, number, moved, day), [0, 0])
                m[0] -= 1
                m[1] += 1
        self._after_add()

    def open(self, publication: str, number: int, day: date, scanner: bool) -> None:
        with self._lock:
            self._opens.setdefault((publication, number, day), [0, 0])[1 if scanner else 0] += 1
        self._after_add()

    def _after_add(self) -> None:
        if self.seconds <= 0:
            self.flush()
            return
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, daemon=True,
                                                    name="letterpress-stats")
                    self._thread.start()

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self.seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep counting; the next flush retries
                time.sleep(self.seconds)

    def flush(self) -> int:
        """Write what is held; returns how many rows were touched."""
        with self._lock:
            clicks, self._clicks = self._clicks, {}
            opens, self._opens = self._opens, {}
        if not clicks and not opens:
            return 0

        def apply(session: Session) -> None:
            for (pub, number, link_id, day), (people, scanner) in sorted(clicks.items()):
                _upsert(session, LinkClick, {"publication": pub, "issue_number": number,
                                             "link_id": link_id, "day": day},
                        "clicks", people, scanner)
            for (pub, number, day), (people, scanner) in sorted(opens.items()):
                _upsert(session, OpenCount, {"publication": pub, "issue_number": number,
                                             "day": day}, "opens", people, scanner)

        try:
            self.write(apply)
        except Exception:
            with self._lock:  # put them back: counted next time
                for key, (p, s) in clicks.items():
                    c = self._clicks.setdefault(key, [0, 0])
                    c[0] += p
                    c[1] += s
                for key, (p, s) in opens.items():
                    o = self._opens.setdefault(key, [0, 0])
                    o[0] += p
                    o[1] += s
            raise
        return len(clicks) + len(opens)

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
