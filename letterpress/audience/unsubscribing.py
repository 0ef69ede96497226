"""Unsubscribing: one subscription or many, by id or by the links readers click.

Whatever the number of subscriptions, a stop is the same plain statements — lock and read their
state, set the status, append the events, add the suppression entries — instead of ORM
unit-of-work flushes, which cost several times more CPU than the SQL itself.  On SQLite every
writer queues for the one write lock behind that CPU time; on PostgreSQL each statement is a
round trip.  One-click unsubscribes arrive in groups (letterpress.web.writes.GroupCommit), so
the group is stopped by the same statements as a single one — on PostgreSQL by one statement
that checks the links, stops and records, and commits itself (:func:`unsubscribe_links_at_once`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple, overload

from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..clock import Clock
from ..errors import InvalidTransition, SubscriberNotFound
from .bulk import insert_rows
from .emails import key_hash
from .links import is_bound
from .models import MailingList, Subscriber, Subscription
from .service import (
    _AT,
    _EVENTS,
    _SUBSCRIPTIONS,
    ACTIVE_STATUSES,
    STOPPED_STATUSES,
    TRANSITIONS,
    UnsubscribeChannel,
)
from .suppression import add_suppressions
from .tokens import TokenData

__all__ = ["StopState", "links_named", "stop_locked", "unsubscribe", "unsubscribe_links",
           "unsubscribe_links_at_once"]


class StopState(NamedTuple):
    """What stopping a subscription needs of its row, read under lock."""

    id: int
    status: str
    email_key: str
    list_name: str


def _locked_state(*columns, where):
    """The rows a stop reads — its :class:`StopState` columns, then ``columns`` — with their
    lock, in id order so two transactions stopping some of the same rows never deadlock.
    FOR UPDATE (PostgreSQL; SQLite's writer already holds the database's write lock) keeps
    the status read true until the commit."""
    return (select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.status, Subscriber.email_key,
                   MailingList.name, *columns)
            .join(Subscriber, Subscriber.id == _SUBSCRIPTIONS.c.subscriber_id)
            .join(MailingList, MailingList.id == _SUBSCRIPTIONS.c.list_id)
            .where(where)
            .order_by(_SUBSCRIPTIONS.c.id)
            .with_for_update(of=_SUBSCRIPTIONS))


# Built once: constructing and cache-keying a statement per request cost more CPU than running
# it (see bench/bench_web.py).
_STOP_STATE = _locked_state(where=_SUBSCRIPTIONS.c.id.in_(bindparam("ids", expanding=True)))
# Found from the links' (subscriber, list) pairs, with what binds a link to its reader
# (letterpress.audience.links): one statement checks every link of a group and locks what
# they name.
_LINK_STATE = _locked_state(
    _SUBSCRIPTIONS.c.subscriber_id, _SUBSCRIPTIONS.c.list_id, Subscriber.link_key,
    Subscriber.created_at, MailingList.publication,
    where=_SUBSCRIPTIONS.c.subscriber_id.in_(bindparam("subscriber_ids", expanding=True)))
_UNSUBSCRIBE = (
    update(_SUBSCRIPTIONS)
    .where(_SUBSCRIPTIONS.c.id.in_(bindparam("ids", expanding=True)),
           _SUBSCRIPTIONS.c.status.in_(ACTIVE_STATUSES))
    .values(status="unsubscribed", unsubscribed_at=bindparam("now", type_=_AT),
            unsubscribe_channel=bindparam("channel"), updated_at=bindparam("now", type_=_AT)))


@overload
def unsubscribe(session: Session, subscription_id: int, *, channel: UnsubscribeChannel,
                clock: Clock, actor: str = ..., reason: str | None = ...) -> bool: ...
@overload
def unsubscribe(session: Session, subscription_id: Sequence[int], *,
                channel: UnsubscribeChannel, clock: Clock, actor: str = ...,
                reason: str | None = ...) -> list[bool]: ...
def unsubscribe(session, subscription_id, *, channel, clock, actor="reader", reason=None):
    """Stop the subscription now; False if it was already stopped (idempotent).

    The address is added to the list's suppression entries.  Given a sequence of ids, stops
    them all with the same statements and returns one bool per id, in order — an id repeated
    is stopped once.  Raises :class:`SubscriberNotFound` for an id that does not exist and
    :class:`InvalidTransition`, before writing anything.
    """
    if isinstance(subscription_id, int):
        return _unsubscribe(session, [subscription_id], channel=channel, clock=clock,
                            actor=actor, reason=reason)[0]
    return _unsubscribe(session, list(subscription_id), channel=channel, clock=clock,
                        actor=actor, reason=reason)


def _unsubscribe(session: Session, ids: list[int], *, channel: str, clock: Clock, actor: str,
                 reason: str | None) -> list[bool]:
    if not ids:
        return []
    session.flush()  # anything the caller changed on them goes first
    wanted = sorted(set(ids))
    state = {row[0]: StopState(*row)
             for row in session.connection().execute(_STOP_STATE, {"ids": wanted})}
    for sid in wanted:
        if sid not in state:
            raise SubscriberNotFound(f"subscription {sid}")
    stopped = stop_locked(session, [state[sid] for sid in wanted], channel=channel,
                          clock=clock, actor=actor, reason=reason)
    answers = []
    for sid in ids:
        answers.append(sid in stopped)
        stopped.discard(sid)  # a repeated id was stopped the first time only
    return answers


def unsubscribe_links(session: Session, tokens: Sequence[TokenData | None], *,
                      publications: Collection[str], channel: UnsubscribeChannel,
                      clock: Clock) -> list[str | None]:
    """Stop the subscription each signed link names, if it still names it: what one-click
    unsubscribes (RFC 8058) do, for a whole group in one read and the stop's statements.

    ``tokens``: the data of links whose signature was checked (``None`` for one that was not
    letterpress's); ``publications``: the slugs still configured.  Returns, for each token in
    order, the publication of the subscription it names — stopped now or already — or
    ``None`` when it names nobody: forged, erased, re-keyed, list of a publication no longer
    configured (nothing is written for those).  The binding is checked as
    :func:`~letterpress.audience.links.check_link` does: one comparison per token, so a
    forged link does the same work as an erased person's.  Raises
    :class:`InvalidTransition` before writing anything.
    """
    if not tokens:
        return []
    session.flush()
    rows = _read_links(session.connection(), tokens)
    named: list[StopState | None] = []
    answers: list[str | None] = []
    for data in tokens:
        row = _named(rows, data, publications)
        named.append(StopState(*row[:4]) if row is not None else None)
        answers.append(row[8] if row is not None else None)
    unique = {state.id: state for state in named if state is not None}
    stop_locked(session, [unique[sid] for sid in sorted(unique)], channel=channel, clock=clock)
    return answers


def links_named(connection: Connection, tokens: Sequence[TokenData | None], *,
                publications: Collection[str]) -> list[bool]:
    """Whether each signed link still names a subscription, as :func:`unsubscribe_links`
    would find it, read without a lock (one statement for the group).

    What a writer screens its group with before SQLite's one write lock, so forged and
    erased links never wait for it; :func:`unsubscribe_links` checks again under the lock.
    """
    rows = _read_links(connection, tokens)
    return [_named(rows, data, publications) is not None for data in tokens]


def _read_links(connection: Connection, tokens: Sequence[TokenData | None]) -> dict:
    """The rows the tokens name, by (subscriber id, list id); a forged token looks up id 0,
    which names nobody, so it costs what an erased person's does."""
    return {(row[4], row[5]): row for row in connection.execute(
        _LINK_STATE, {"subscriber_ids": sorted({t.subscriber_id if t else 0 for t in tokens})})}


def _named(rows: dict, data: TokenData | None, publications: Collection[str]):
    """The row ``data`` names if the link is bound to it (one comparison, forged or not)."""
    row = rows.get((data.subscriber_id, data.list_id)) if data is not None else None
    bound = is_bound(data, *((row[6], row[7]) if row is not None else (None, None)))
    return row if row is not None and bound and row[8] in publications else None


# (PostgreSQL) A group of one-click links checked and stopped in one statement, so one round
# trip and one commit: find the subscription each link names — only if its subscriber still
# holds the link's key (a new key, or none after an erasure, names nobody) and its list's
# publication is still configured — lock those rows, stop the ones still receiving, and append
# their events and suppression entries as stop_locked does in four statements.  The WITH
# queries share one snapshot; the lock (READ COMMITTED) hands ``target`` each row's newest
# version, so a row stopped meanwhile by another transaction is seen stopped and left alone.
# The entry's hash is key_hash() computed by the database: SHA-256 (hex) of the UTF-8 key.
_STOP_LINKS = text("""
WITH wanted AS (
    SELECT DISTINCT * FROM unnest(CAST(:subscriber_ids AS integer[]),
                                  CAST(:list_ids AS integer[]), CAST(:link_keys AS text[]))
        AS w(subscriber_id, list_id, link_key)),
target AS (
    SELECT s.id, s.status, s.subscriber_id, s.list_id, p.link_key, l.publication,
           encode(sha256(convert_to(p.email_key, 'UTF8')), 'hex') AS email_hash,
           l.name AS list_name
    FROM wanted w
    JOIN subscriptions s ON s.subscriber_id = w.subscriber_id AND s.list_id = w.list_id
    JOIN subscribers p ON p.id = s.subscriber_id AND p.link_key = w.link_key
                      AND p.link_key <> ''
    JOIN mailing_lists l ON l.id = s.list_id
                        AND l.publication = ANY(CAST(:publications AS text[]))
    ORDER BY s.id
    FOR UPDATE OF s),
stopped AS (
    UPDATE subscriptions s
    SET status = 'unsubscribed', unsubscribed_at = :now, unsubscribe_channel = :channel,
        updated_at = :now
    FROM target t
    WHERE s.id = t.id AND t.status = ANY(CAST(:active AS text[]))
      AND s.status = ANY(CAST(:active AS text[]))
    RETURNING s.id, t.status AS old_status, t.email_hash, t.list_name),
events AS (
    INSERT INTO subscription_events
        (subscription_id, at, old_status, new_status, actor, channel, detail, data)
    SELECT id, :now, old_status, 'unsubscribed', 'reader', :channel, '', '{}' FROM stopped),
suppressed AS (
    INSERT INTO suppressions (email_hash, scope, reason, created_at)
    SELECT DISTINCT email_hash, list_name, 'unsubscribed', CAST(:now AS timestamptz)
    FROM stopped ORDER BY 1, 2
    ON CONFLICT (email_hash, scope) DO NOTHING)
SELECT subscriber_id, list_id, link_key, publication FROM target
""")


def unsubscribe_links_at_once(connection: Connection, tokens: Sequence[TokenData | None], *,
                              publications: Collection[str], channel: UnsubscribeChannel,
                              clock: Clock) -> list[str | None] | None:
    """(PostgreSQL) :func:`unsubscribe_links` as one statement on a ``connection`` in
    autocommit mode, which commits itself: one round trip where a transaction takes six
    (BEGIN, the read, the stop's four statements, COMMIT).

    The statement checks each link's key itself (an equality, where :func:`is_bound` makes
    one comparison in Python): a forged token looks up id 0 with no key, so it costs what an
    erased person's does.  Returns what :func:`unsubscribe_links` returns, or ``None``,
    having written nothing, when a token has the legacy form (no key): its binding needs
    the row's creation date, and the caller runs :func:`unsubscribe_links` in a transaction.
    """
    if not tokens:
        return []
    if any(data is not None and data.link_key is None for data in tokens):
        return None
    keys = [(data.subscriber_id, data.list_id, data.link_key) if data is not None
            else (0, 0, "") for data in tokens]
    rows = connection.execute(_STOP_LINKS, {
        "subscriber_ids": [k[0] for k in keys], "list_ids": [k[1] for k in keys],
        "link_keys": [k[2] for k in keys], "publications": list(publications),
        "active": list(ACTIVE_STATUSES), "now": clock.now(), "channel": channel}).all()
    found = {(row[0], row[1], row[2]): row[3] for row in rows}
    return [found.get(key) for key in keys]


def stop_locked(session: Session, states: Sequence[StopState], *, channel: str, clock: Clock,
                actor: str = "reader", reason: str | None = None) -> set[int]:
    """Stop the subscriptions whose rows the caller read in this transaction with their lock
    (``FOR UPDATE`` on PostgreSQL; SQLite's writer holds the write lock).

    Returns the ids stopped now; those already stopped are left as they are.  Raises
    :class:`InvalidTransition` before writing anything for a status that cannot become
    ``unsubscribed``.
    """
    for state in states:
        if state.status not in STOPPED_STATUSES and "unsubscribed" not in TRANSITIONS[state.status]:
            raise InvalidTransition(str(state.status), "unsubscribed")
    stopping = [state for state in states if state.status not in STOPPED_STATUSES]
    if not stopping:
        return set()
    now = clock.now()
    done = session.connection().execute(_UNSUBSCRIBE, {
        "ids": [state.id for state in stopping], "now": now, "channel": channel}).rowcount
    if done != len(stopping):  # the rows are locked: only a bug gets here
        raise RuntimeError(f"unsubscribed {done} of {len(stopping)} subscriptions")
    data = {"reason": reason} if reason else {}
    insert_rows(session.connection(), _EVENTS, [{
        "subscription_id": state.id, "at": now, "old_status": state.status,
        "new_status": "unsubscribed", "actor": actor, "channel": channel,
        "detail": reason or "", "data": data} for state in stopping])
    add_suppressions(session, [key_hash(state.email_key) for state in stopping],
                     scopes=[state.list_name for state in stopping],
                     reason="unsubscribed", at=now)
    for state in stopping:
        sub = session.identity_map.get(identity_key(Subscription, state.id))
        if sub is not None:  # keep the caller's object in step with the row
            for key, value in (("status", "unsubscribed"), ("unsubscribed_at", now),
                               ("unsubscribe_channel", channel), ("updated_at", now)):
                set_committed_value(sub, key, value)
            session.expire(sub, ["events"])
    return {state.id for state in stopping}
