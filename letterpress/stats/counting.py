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

__all__ = ["BURST_SECONDS", "SCANNER_AGENTS", "BurstDetector", "Verdict", "count_click",
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
