"""The whole audience as one file (JSON Lines), to move a project or keep a faithful copy.

One JSON object per line, in a stable order, so the same database always gives the same
bytes and ``export → import into an empty project → export`` gives the same file::

    {"format": "letterpress-audience", "version": 1}
    {"type": "list", "name": "pvd", "publication": "pvd", "created_at": "…"}
    {"type": "subscriber", "email": "…", "name": "…", "attributes": {…}, "created_at": "…",
     "updated_at": "…", "subscriptions": [{"list": "pvd", "status": "pending",
       "consent": {"at": "…", "source": "form", "text": "…", "form_id": "…", "ip": "…"},
       "confirmed_at": null, "unsubscribed_at": null, "unsubscribe_channel": null,
       "created_at": "…", "updated_at": "…",
       "events": [{"at": "…", "from": null, "to": "pending", "by": "reader",
                   "channel": "form", "detail": "", "data": {…}}]}]}
    {"type": "suppression", "email_hash": "<sha256>", "scope": "*", "reason": "erased",
     "created_at": "…"}

Lists come first, subscribers by address key, subscriptions by list name, events in their
order, suppressions by hash and scope.  Times are UTC ISO 8601 with microseconds.  Ids and
link keys are not exported: the importing database gives its own (links mailed from the old
database name rows of the old database).  Suppression entries are hashes only, so erased
people stay erased after a move.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, selectinload

from ..errors import AudienceError
from .emails import email_key, normalise_email
from .models import (
    CHANNELS,
    STATUSES,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
)
from .text import clean_attributes, clean_text

__all__ = ["ARCHIVE_FORMAT", "ArchiveError", "ArchiveReport", "export_archive",
           "import_archive", "is_archive", "iter_archive"]

ARCHIVE_FORMAT = "letterpress-audience"
VERSION = 1
PAGE = 500


class ArchiveError(AudienceError):
    """An archive that cannot be imported: what is wrong, and on which line."""

    def __init__(self, line: int, reason: str):
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass
class ArchiveReport:
    """What an archive held (export) or brought in (import)."""

    lists: int = 0
    subscribers: int = 0
    subscriptions: int = 0
    events: int = 0
    suppressions: int = 0

    def summary(self) -> str:
        """One line for the CLI."""
        return (f"{self.subscribers} subscribers, {self.subscriptions} subscriptions, "
                f"{self.events} events, {self.suppressions} suppressions, "
                f"{self.lists} lists")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def _time(value: Any, line: int, field: str, *, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ArchiveError(line, f"{field}: not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ArchiveError(line, f"{field}: no time zone: {value!r}")
    return parsed


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


# --------------------------------------------------------------------------- export

def _subscriber_record(subscriber: Subscriber, list_names: dict[int, str]) -> dict[str, Any]:
    subscriptions = sorted(subscriber.subscriptions, key=lambda s: list_names[s.list_id])
    return {
        "type": "subscriber",
        "email": subscriber.email,
        "name": subscriber.name or "",
        "attributes": dict(subscriber.attributes or {}),
        "created_at": _iso(subscriber.created_at),
        "updated_at": _iso(subscriber.updated_at),
        "subscriptions": [{
            "list": list_names[sub.list_id],
            "status": sub.status,
            "consent": {"at": _iso(sub.consent_at), "source": sub.consent_source,
                        "text": sub.consent_text or "", "form_id": sub.consent_form_id,
                        "ip": sub.consent_ip},
            "confirmed_at": _iso(sub.confirmed_at),
            "unsubscribed_at": _iso(sub.unsubscribed_at),
            "unsubscribe_channel": sub.unsubscribe_channel,
            "created_at": _iso(sub.created_at),
            "updated_at": _iso(sub.updated_at),
            "events": [{"at": _iso(ev.at), "from": ev.old_status, "to": ev.new_status,
                        "by": ev.actor, "channel": ev.channel, "detail": ev.detail or "",
                        "data": ev.data or {}} for ev in sub.events],
        } for sub in subscriptions],
    }


def iter_archive(session: Session) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, record) of every line of the archive, streamed by pages of subscribers."""
    yield "format", {"format": ARCHIVE_FORMAT, "version": VERSION}
    lists = session.scalars(select(MailingList).order_by(MailingList.name)).all()
    list_names = {m.id: m.name for m in lists}
    for m in lists:
        yield "list", {"type": "list", "name": m.name, "publication": m.publication,
                       "created_at": _iso(m.created_at)}
    after = None
    while True:
        query = (select(Subscriber).order_by(Subscriber.email_key).limit(PAGE)
                 .options(selectinload(Subscriber.subscriptions)
                          .selectinload(Subscription.events)))
        if after is not None:
            query = query.where(Subscriber.email_key > after)
        page = session.scalars(query).all()
        for subscriber in page:
            yield "subscriber", _subscriber_record(subscriber, list_names)
        if len(page) < PAGE:
            break
        after = page[-1].email_key
        session.expunge_all()  # memory stays flat
    for s in session.scalars(select(Suppression).order_by(Suppression.email_hash,
                                                          Suppression.scope)):
        yield "suppression", {"type": "suppression", "email_hash": s.email_hash,
                              "scope": s.scope, "reason": s.reason,
                              "created_at": _iso(s.created_at)}


def export_archive(session: Session, out: IO[str]) -> ArchiveReport:
    """Write the whole audience to ``out`` as JSON Lines; returns the counts."""
    report = ArchiveReport()
    for kind, record in iter_archive(session):
        out.write(_line(record))
        if kind == "list":
            report.lists += 1
        elif kind == "subscriber":
            report.subscribers += 1
            report.subscriptions += len(record["subscriptions"])
            report.events += sum(len(s["events"]) for s in record["subscriptions"])
        elif kind == "suppression":
            report.suppressions += 1
    return report


# --------------------------------------------------------------------------- import

def is_archive(first_line: str) -> bool:
    """Whether a file starting with ``first_line`` is an audience archive."""
    try:
        head = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(head, dict) and head.get("format") == ARCHIVE_FORMAT


def _records(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise ArchiveError(number, f"not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise ArchiveError(number, "not a JSON object")
        yield number, record


def _choice(value: Any, allowed: Iterable[str], line: int, field: str) -> str:
    if value not in allowed:
        raise ArchiveError(line, f"{field}: unknown value {value!r}")
    return value


def import_archive(session: Session, lines: Iterable[str], *, dry_run: bool = False,
                   progress: Callable[[int], None] | None = None) -> ArchiveReport:
    """Load an archive into an **empty** audience database, exactly as it was exported.

    Raises :class:`ArchiveError` (nothing written) for a malformed archive or a database that
    already holds subscribers or suppressions: an archive restores a state, it does not merge.
    Commits once at the end (or rolls back with ``dry_run``).
    """
    if (session.scalar(select(func.count()).select_from(Subscriber))
            or session.scalar(select(func.count()).select_from(Suppression))):
        raise ArchiveError(0, "the audience database is not empty: an archive is imported "
                              "into a new project (use `subscribers import` to merge a CSV)")
    report = ArchiveReport()
    records = _records(lines)
    first = next(records, None)
    if first is None or first[1].get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(1, f"not a {ARCHIVE_FORMAT} archive")
    if first[1].get("version") != VERSION:
        raise ArchiveError(1, f"archive version {first[1].get('version')!r} is not supported")
    lists = {m.name: m for m in session.scalars(select(MailingList))}
    try:
        for number, record in records:
            kind = record.get("type")
            if kind == "list":
                _import_list(session, lists, record, number, report)
            elif kind == "subscriber":
                _import_subscriber(session, lists, record, number, report)
            elif kind == "suppression":
                _import_suppression(session, record, number, report)
            else:
                raise ArchiveError(number, f"unknown record type {kind!r}")
            if progress is not None and number % 1000 == 0:
                progress(number)
        session.flush()
    except BaseException:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return report


def _import_list(session, lists, record, line, report) -> None:
    name = record.get("name")
    if not isinstance(name, str) or not name:
        raise ArchiveError(line, "list without a name")
    created = _time(record.get("created_at"), line, "created_at")
    existing = lists.get(name)
    if existing is None:
        existing = MailingList(name=name, publication=str(record.get("publication") or name),
                               created_at=created)
        session.add(existing)
        session.flush()
        lists[name] = existing
    else:
        existing.created_at = created
        existing.publication = str(record.get("publication") or existing.publication)
    report.lists += 1


def _import_subscriber(session, lists, record, line, report) -> None:
    try:
        email = normalise_email(str(record.get("email", "")))
    except AudienceError as exc:
        raise ArchiveError(line, str(exc)) from None
    attributes = record.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ArchiveError(line, "attributes: not an object")
    now_created = _time(record.get("created_at"), line, "created_at")
    subscriber_id = session.execute(insert(Subscriber).returning(Subscriber.id), [{
        "email": email, "email_key": email_key(email),
        "name": clean_text(str(record.get("name") or "")),
        "attributes": clean_attributes(attributes), "created_at": now_created,
        "updated_at": _time(record.get("updated_at"), line, "updated_at")}]).scalar_one()
    report.subscribers += 1
    subs = record.get("subscriptions") or []
    if not isinstance(subs, list):
        raise ArchiveError(line, "subscriptions: not a list")
    events = []
    for sub in subs:
        list_name = sub.get("list")
        if list_name not in lists:
            raise ArchiveError(line, f"subscription to an unknown list {list_name!r}")
        consent = sub.get("consent") or {}
        channel = sub.get("unsubscribe_channel")
        if channel is not None:
            _choice(channel, CHANNELS, line, "unsubscribe_channel")
        sub_id = session.execute(insert(Subscription).returning(Subscription.id), [{
            "subscriber_id": subscriber_id, "list_id": lists[list_name].id,
            "status": _choice(sub.get("status"), STATUSES, line, "status"),
            "consent_at": _time(consent.get("at"), line, "consent.at"),
            "consent_source": str(consent.get("source") or "import"),
            "consent_text": str(consent.get("text") or ""),
            "consent_form_id": consent.get("form_id"), "consent_ip": consent.get("ip"),
            "confirmed_at": _time(sub.get("confirmed_at"), line, "confirmed_at", optional=True),
            "unsubscribed_at": _time(sub.get("unsubscribed_at"), line, "unsubscribed_at",
                                     optional=True),
            "unsubscribe_channel": channel,
            "created_at": _time(sub.get("created_at"), line, "created_at"),
            "updated_at": _time(sub.get("updated_at"), line, "updated_at")}]).scalar_one()
        report.subscriptions += 1
        for ev in sub.get("events") or []:
            events.append({
                "subscription_id": sub_id, "at": _time(ev.get("at"), line, "event at"),
                "old_status": ev.get("from"), "new_status": str(ev.get("to")),
                "actor": str(ev.get("by") or ""), "channel": str(ev.get("channel") or ""),
                "detail": str(ev.get("detail") or ""), "data": ev.get("data") or {}})
    if events:
        session.execute(insert(SubscriptionEvent), events)
        report.events += len(events)


def _import_suppression(session, record, line, report) -> None:
    digest = record.get("email_hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ArchiveError(line, "email_hash: not a SHA-256 hex digest")
    session.execute(insert(Suppression), [{
        "email_hash": digest, "scope": str(record.get("scope") or "*"),
        "reason": str(record.get("reason") or ""),
        "created_at": _time(record.get("created_at"), line, "created_at")}])
    report.suppressions += 1
