"""Record what a returned message says, against the delivery that caused it, and act on it.

One message is processed in one transaction: its :class:`BounceRecord` rows, the delivery's
asynchronous outcome and the audience changes commit together, or not at all.  The
message's fingerprint (SHA-256 of its bytes) is unique, so a message read twice — fetched
again after a crash, or a mailbox read twice — changes nothing the second time.

Which delivery a message is about, in order: the VERP return path it was sent to (a forged or
unknown id is logged and ignored, never acted on), the original Message-ID (the ledger keeps
it), then the failed recipient's latest delivery.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.utils import parsedate_to_datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audience import find_subscriber, mark_bounced, mark_complained
from ..audience.models import MailingList, Subscription
from ..clock import Clock
from ..delivery.models import Delivery, SendRun
from ..errors import AlreadyRecorded, AudienceError, SubscriberNotFound
from ..settings import BounceThresholds, Settings
from .detect import Failure, Verdict, detect
from .models import BounceRecord, BounceScore
from .verp import ForgedVerp, parse_verp

__all__ = ["AlreadyRecorded", "Processed", "fingerprint_of", "process_bytes",
           "record_failures"]

log = logging.getLogger("letterpress.bounces")


@dataclass(frozen=True)
class Processed:
    """What processing one message did: its kind (the strongest of its outcomes), whether it
    had been processed before, and the ids of its records."""

    kind: str
    already: bool = False
    record_ids: tuple[int, ...] = ()
    note: str = ""


_RANK = {"complaint": 6, "hard": 5, "policy": 4, "soft": 3, "ignored": 2, "unparsed": 1}


def fingerprint_of(raw: bytes) -> str:
    """SHA-256 hex of the message's bytes (line endings normalised)."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


# Built once: building and cache-keying a statement per message cost more CPU than running
# it.  Deliveries are read as plain rows (id, run, subscription, subscriber), records are
# inserted and the delivery's outcome set with one statement each: the ORM's unit of work
# cost several times the SQL itself on every message.
_EXISTING = select(BounceRecord.id, BounceRecord.kind).where(
    BounceRecord.fingerprint == bindparam("fp"))
_DELIVERY_COLUMNS = (Delivery.id, Delivery.run_id, Delivery.subscription_id,
                     Delivery.subscriber_id)
_DELIVERY_BY_ID = select(*_DELIVERY_COLUMNS).where(Delivery.id == bindparam("id"))
_DELIVERY_BY_MESSAGE_ID = select(*_DELIVERY_COLUMNS).where(
    Delivery.message_id == bindparam("message_id")).limit(1)
_DELIVERY_BY_EMAIL = select(*_DELIVERY_COLUMNS).where(
    Delivery.email == bindparam("email")).order_by(Delivery.id.desc()).limit(1)
_DELIVERIES = Delivery.__table__
_AT = _DELIVERIES.c.async_at.type
_SET_OUTCOME = (update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("did"))
                .values(async_outcome=bindparam("b_kind"), async_status=bindparam("b_status"),
                        async_detail=bindparam("b_detail"),
                        async_at=bindparam("b_at", type_=_AT)))
_RECORDS = BounceRecord.__table__
_INSERT_RECORD = insert(_RECORDS)
_SET_ACTION = (update(_RECORDS).where(_RECORDS.c.id == bindparam("rid"))
               .values(action=bindparam("b_action"), subscription_id=bindparam("sub_id"),
                       subscriber_id=bindparam("person_id")))


@dataclass
class _Record:
    """The fields of a record the actions read (the row itself is written with a statement)."""

    id: int
    fingerprint: str
    kind: str
    status: str
    recipient: str
    diagnostic: str
    message_id: str
    subscription_id: int | None
    subscriber_id: int | None


def _existing(session: Session, fingerprint: str) -> Processed | None:
    rows = session.connection().execute(_EXISTING, {"fp": fingerprint}).all()
    if not rows:
        return None
    kind = max((k for _, k in rows), key=lambda k: _RANK.get(k, 0))
    return Processed(kind, already=True, record_ids=tuple(i for i, _ in rows))


def _date(value) -> datetime | None:
    try:
        return parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None


def process_bytes(session: Session, raw: bytes, *, settings: Settings, clock: Clock,
                  source: str, source_ref: str = "") -> Processed:
    """Detect, match and act on one raw message; the caller commits.

    Returns ``already=True`` (nothing done) for a message processed before.
    """
    fingerprint = fingerprint_of(raw)
    seen = _existing(session, fingerprint)
    if seen is not None:
        return seen  # before parsing: a second fetch costs one query per message
    msg = message_from_bytes(raw)
    try:
        verdict = detect(msg)
    except Exception as exc:  # a detector choking on a broken message: keep it, unparsed
        log.warning("cannot analyse %s: %s", source_ref or fingerprint[:12], exc)
        verdict = Verdict("unparsed", reason=f"analysis failed: {exc}")
    meta = {"source": source, "source_ref": source_ref[:500],
            "message_id": " ".join(str(msg.get("Message-ID", "")).split())[:500],
            "subject": " ".join(str(msg.get("Subject", "")).split())[:1000],
            "received_at": _date(msg.get("Date"))}
    try:
        return _record(session, fingerprint, verdict, settings=settings, clock=clock,
                       delivery_id=None, **meta)
    except IntegrityError as exc:
        raise AlreadyRecorded(fingerprint) from exc


def record_failures(session: Session, fingerprint: str, verdict: Verdict, *,
                    settings: Settings, clock: Clock, source: str, source_ref: str = "",
                    message_id: str = "", subject: str = "",
                    received_at: datetime | None = None,
                    delivery_id: int | None = None) -> Processed:
    """Write the records of ``verdict`` and apply them, unless that fingerprint is already
    recorded; the caller commits.

    Raises :class:`AlreadyRecorded` when another process recorded the same message between
    our check and our insert (the unique fingerprint refused it): roll back, nothing to do.
    """
    seen = _existing(session, fingerprint)
    if seen is not None:
        return seen
    try:
        return _record(session, fingerprint, verdict, settings=settings, clock=clock,
                       source=source, source_ref=source_ref, message_id=message_id,
                       subject=subject, received_at=received_at, delivery_id=delivery_id)
    except IntegrityError as exc:
        raise AlreadyRecorded(fingerprint) from exc


def _delivery(session: Session, statement, params: dict):
    """(id, run_id, subscription_id, subscriber_id) of one delivery, or None."""
    return session.connection().execute(statement, params).first()


def _match(session: Session, verdict: Verdict, settings: Settings,
           delivery_id: int | None) -> tuple[Delivery | None, str]:
    """The delivery the message is about (a row of :data:`_DELIVERY_COLUMNS`), or
    (None, why not)."""
    if delivery_id is not None:
        return _delivery(session, _DELIVERY_BY_ID, {"id": delivery_id}), ""
    for address in verdict.envelope_addresses:
        found = parse_verp(address, settings.secret_keys)
        if found is None:
            continue
        if isinstance(found, ForgedVerp):
            log.warning("forged VERP address %s ignored", found.address)
            return None, f"forged VERP address {found.address}"
        delivery = _delivery(session, _DELIVERY_BY_ID, {"id": found})
        if delivery is None:
            log.warning("VERP address %s names no delivery; ignored", address)
            return None, f"unknown VERP delivery id {found}"
        return delivery, ""
    if verdict.original_message_id:
        delivery = _delivery(session, _DELIVERY_BY_MESSAGE_ID,
                             {"message_id": verdict.original_message_id})
        if delivery is not None:
            return delivery, ""
    return None, ""


def _by_recipient(session: Session, recipient: str) -> Delivery | None:
    if not recipient:
        return None
    return _delivery(session, _DELIVERY_BY_EMAIL, {"email": recipient.lower()})


def _record(session: Session, fingerprint: str, verdict: Verdict, *, settings: Settings,
            clock: Clock, source: str, source_ref: str, message_id: str, subject: str,
            received_at, delivery_id: int | None) -> Processed:
    now = clock.now()
    session.flush()  # the plain statements below run on the connection: changes go first
    matched, refusal = _match(session, verdict, settings, delivery_id)
    failures = list(verdict.failures)
    if not failures:
        kind = {"autoreply": "ignored", "success": "ignored"}.get(verdict.kind, "unparsed")
        failures = [Failure("", kind, "", verdict.reason)]
    ids = []
    kinds = []
    for position, failure in enumerate(failures):
        kind = failure.kind
        delivery = matched
        if delivery is None and not refusal:
            delivery = _by_recipient(session, failure.recipient)
        if refusal:
            kind = "ignored"
        values = dict(
            fingerprint=fingerprint, position=position, source=source, source_ref=source_ref,
            kind=kind, status=failure.status[:20], recipient=failure.recipient[:320],
            diagnostic=failure.diagnostic[:2000], message_id=message_id, subject=subject,
            delivery_id=delivery.id if delivery else None,
            run_id=delivery.run_id if delivery else None,
            subscription_id=delivery.subscription_id if delivery else None,
            subscriber_id=delivery.subscriber_id if delivery else None,
            received_at=received_at, processed_at=now, action=refusal or verdict.reason)
        record_id = session.connection().execute(_INSERT_RECORD, values).inserted_primary_key[0]
        if not refusal and kind in ("hard", "soft", "policy", "complaint"):
            record = _Record(record_id, fingerprint, kind, values["status"],
                             values["recipient"], values["diagnostic"], message_id,
                             values["subscription_id"], values["subscriber_id"])
            action = _act(session, record, delivery, failure, settings, clock)
            session.connection().execute(_SET_ACTION, {"rid": record_id, "b_action": action,
                                          "sub_id": record.subscription_id,
                                          "person_id": record.subscriber_id})
        ids.append(record_id)
        kinds.append(kind)
    session.flush()
    return Processed(max(kinds, key=lambda k: _RANK.get(k, 0)), record_ids=tuple(ids),
                     note=refusal)


_RUN_PUBLICATION: dict[int, str] = {}  # a run's publication never changes: ask once


def _publication_of(session: Session, delivery: Delivery | None, settings: Settings):
    if delivery is not None:
        slug = _RUN_PUBLICATION.get(delivery.run_id)
        if slug is None:
            slug = session.scalar(select(SendRun.publication)
                                  .where(SendRun.id == delivery.run_id))
            if len(_RUN_PUBLICATION) > 10_000:
                _RUN_PUBLICATION.clear()
            _RUN_PUBLICATION[delivery.run_id] = slug
        if slug in settings.publications:
            return settings.publications[slug]
    return None


_SUBSCRIPTION_COLUMNS = (Subscription.id, Subscription.subscriber_id, Subscription.status,
                         Subscription.list_id)
_SUBSCRIPTION_BY_ID = select(*_SUBSCRIPTION_COLUMNS).where(Subscription.id == bindparam("sid"))


def _subscriptions(session: Session, record: _Record, delivery,
                   publication, *, every_list: bool) -> list:
    """The subscriptions a record acts on (rows of :data:`_SUBSCRIPTION_COLUMNS`): the
    delivery's, or (complaints, or no delivery) the person's subscriptions to the
    publication's lists."""
    if delivery is not None and delivery.subscription_id and not every_list:
        sub = session.connection().execute(_SUBSCRIPTION_BY_ID,
                                           {"sid": delivery.subscription_id}).first()
        return [sub] if sub is not None else []
    subscriber_id = delivery.subscriber_id if delivery is not None else None
    if subscriber_id is None and record.recipient:
        try:
            person = find_subscriber(session, record.recipient)
        except AudienceError:
            person = None
        subscriber_id = person.id if person is not None else None
    if subscriber_id is None:
        return []
    query = select(*_SUBSCRIPTION_COLUMNS).where(Subscription.subscriber_id == subscriber_id)
    if publication is not None:
        query = query.join(MailingList, MailingList.id == Subscription.list_id).where(
            MailingList.name.in_(publication.lists))
    return list(session.execute(query.order_by(Subscription.id)))


def _set_outcome(session: Session, delivery_id: int, record: _Record, now: datetime) -> None:
    """The delivery's asynchronous outcome, in one statement; a copy of that delivery the
    session holds is told to read it again."""
    session.connection().execute(_SET_OUTCOME, {"did": delivery_id, "b_kind": record.kind,
                                   "b_status": record.status or None,
                                   "b_detail": record.diagnostic[:2000], "b_at": now})
    held = session.identity_map.get((Delivery, (delivery_id,), None))
    if held is not None:
        session.expire(held, ["async_outcome", "async_status", "async_detail", "async_at"])


def _act(session: Session, record: _Record, delivery, failure: Failure,
         settings: Settings, clock: Clock) -> str:
    """Apply one outcome to the ledger and the audience; returns what was done, for people."""
    now = clock.now()
    if delivery is not None:
        _set_outcome(session, delivery.id, record, now)
    publication = _publication_of(session, delivery, settings)
    where = f"bounce message {record.message_id or record.fingerprint[:16]} (record #{record.id})"
    detail = f"{record.status} {record.diagnostic}".strip()[:300] + f" — {where}"
    if record.kind == "policy":
        run = f"run {delivery.run_id}" if delivery is not None else "no known run"
        return f"sender problem (policy rejection), counted against {run}; reader unchanged"
    if record.kind == "hard" and delivery is not None and delivery.subscription_id:
        # The delivery's own subscription: mark_bounced reads it, no need to read it first.
        sub_id = delivery.subscription_id
        try:
            if mark_bounced(session, sub_id, clock=clock, actor="bounces",
                            detail=f"hard bounce {detail}"):
                return f"subscription {sub_id} bounced and suppressed"
        except SubscriberNotFound:
            return "no subscription matched: nothing changed"
        except AudienceError as exc:
            return f"subscription {sub_id}: {exc}"
        return "already stopped: nothing changed"
    subs = _subscriptions(session, record, delivery, publication,
                          every_list=record.kind == "complaint")
    if record.subscription_id is None and subs:
        record.subscription_id = subs[0].id
        record.subscriber_id = subs[0].subscriber_id
    if not subs:
        return "no subscription matched: nothing changed"
    done = []
    for sub in subs:
        try:
            if record.kind == "complaint":
                if mark_complained(session, sub.id, clock=clock, actor="bounces",
                                   detail=f"spam complaint — {where}"):
                    done.append(f"subscription {sub.id} complained and suppressed")
            elif record.kind == "hard":
                if mark_bounced(session, sub.id, clock=clock, actor="bounces",
                                detail=f"hard bounce {detail}"):
                    done.append(f"subscription {sub.id} bounced and suppressed")
            else:
                pub = publication or _publication_of_list(session, sub, settings)
                done.append(_score(session, sub, pub.bounces if pub else BounceThresholds(),
                                   clock, detail))
        except AudienceError as exc:
            done.append(f"subscription {sub.id}: {exc}")
    return "; ".join(done) or "already stopped: nothing changed"


def _publication_of_list(session: Session, sub, settings: Settings):
    name = session.scalar(select(MailingList.name).where(MailingList.id == sub.list_id)) or ""
    for publication in settings.publications.values():
        if name in publication.lists:
            return publication
    return None


_SCORES = BounceScore.__table__
_SCORE = select(_SCORES.c.score, _SCORES.c.warnings, _SCORES.c.last_bounce_at).where(
    _SCORES.c.subscription_id == bindparam("sid"))
_INSERT_SCORE = insert(_SCORES)
_UPDATE_SCORE = (update(_SCORES).where(_SCORES.c.subscription_id == bindparam("sid"))
                 .values(score=bindparam("b_score"), warnings=bindparam("b_warnings"),
                         last_bounce_at=bindparam("b_at", type_=_SCORES.c.last_bounce_at.type)))


@dataclass
class _Score:
    score: float
    warnings: int
    last_bounce_at: datetime


def _score(session: Session, sub, thresholds: BounceThresholds, clock: Clock,
           detail: str) -> str:
    """Mailman's bounce score: +soft_score at most once a day, reset when older than
    ``decay_days``; at ``score_threshold`` (after ``warnings`` more bouncing days) the
    subscription becomes bounced."""
    now = clock.now()
    if sub.status not in ("active", "pending"):
        return f"subscription {sub.id} already {sub.status}"
    conn = session.connection()
    row = conn.execute(_SCORE, {"sid": sub.id}).first()
    score = _Score(*row) if row is not None else None
    if score is None:
        score = _Score(0.0, 0, now)
    elif now - score.last_bounce_at > timedelta(days=thresholds.decay_days):
        score.score, score.warnings = 0.0, 0  # stale: start again (Mailman's decay)
    elif score.score > 0 and now.date() == score.last_bounce_at.date():
        return f"subscription {sub.id} score {score.score:g}/{thresholds.score_threshold:g} " \
               "(already counted today)"
    if score.score >= thresholds.score_threshold:
        score.warnings += 1
    else:
        score.score += thresholds.soft_score
    score.last_bounce_at = now
    values = {"subscription_id": sub.id, "score": score.score, "warnings": score.warnings,
              "last_bounce_at": now}
    if row is None:
        conn.execute(_INSERT_SCORE, values)
    else:
        conn.execute(_UPDATE_SCORE, {"sid": sub.id, "b_score": score.score,
                                     "b_warnings": score.warnings, "b_at": now})
        held = session.identity_map.get((BounceScore, (sub.id,), None))
        if held is not None:
            session.expire(held)
    if score.score >= thresholds.score_threshold and score.warnings >= thresholds.warnings:
        mark_bounced(session, sub.id, clock=clock, actor="bounces",
                     detail=f"bounce score {score.score:g} reached "
                            f"{thresholds.score_threshold:g}: soft bounce {detail}")
        return f"subscription {sub.id} score {score.score:g}: bounced and suppressed"
    if score.score >= thresholds.score_threshold:
        return (f"subscription {sub.id} score {score.score:g}: warning {score.warnings}/"
                f"{thresholds.warnings}")
    return f"subscription {sub.id} score {score.score:g}/{thresholds.score_threshold:g}"
