"""Writing an import batch's new people, subscriptions and consent events on PostgreSQL.

The rows go to a temporary table by ``COPY`` (:func:`.bulk.copy_into_temp`), then one
statement inserts the new subscribers, their subscriptions and each subscription's consent
event, each ``INSERT … RETURNING`` feeding the next through a common table expression: two
round trips per batch instead of three inserts each shipping a dozen parameter arrays, and the
ids never travel to the client and back.  Rows are inserted in the file's order (``ord``).

The caller decides what is written (statuses, proof, suppressions: :mod:`.csv_import`); this
module only writes it.  Each row is a :class:`NewSubscription`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from .bulk import copy_into_temp

__all__ = ["NewSubscription", "insert_batch_postgresql"]

_TABLE = "letterpress_import_batch"
_COLUMNS = (
    ("ord", "integer"), ("subscriber_id", "bigint"), ("email", "text"), ("email_key", "text"),
    ("name", "text"), ("attributes", "json"), ("link_key", "text"), ("status", "text"),
    ("consent_at", "timestamptz"), ("consent_source", "text"), ("consent_text", "text"),
    ("consent_form_id", "text"), ("consent_ip", "text"), ("confirmed_at", "timestamptz"),
    ("unsubscribed_at", "timestamptz"), ("unsubscribe_channel", "text"), ("detail", "text"),
    ("data", "json"),
)
_SUBSCRIPTION = ("status", "consent_at", "consent_source", "consent_text", "consent_form_id",
                 "consent_ip", "confirmed_at", "unsubscribed_at", "unsubscribe_channel")

_STATEMENT = f"""
WITH people AS (
    INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at,
                             link_key)
    SELECT email, email_key, name, attributes, %(now)s, %(now)s, link_key
    FROM {_TABLE} WHERE subscriber_id IS NULL ORDER BY ord
    RETURNING id, email_key
), batch AS (
    SELECT b.*, coalesce(b.subscriber_id, p.id) AS person
    FROM {_TABLE} AS b LEFT JOIN people AS p ON p.email_key = b.email_key
), subs AS (
    INSERT INTO subscriptions (subscriber_id, list_id, {', '.join(_SUBSCRIPTION)},
                               created_at, updated_at)
    SELECT person, %(list_id)s, {', '.join(_SUBSCRIPTION)}, %(now)s, %(now)s
    FROM batch ORDER BY ord
    RETURNING id, subscriber_id
)
INSERT INTO subscription_events (subscription_id, at, old_status, new_status, actor, channel,
                                 detail, data)
SELECT s.id, %(now)s, NULL, b.status, 'import', 'import', b.detail, b.data
FROM subs AS s JOIN batch AS b ON b.person = s.subscriber_id
ORDER BY b.ord
"""


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """One subscription to create.  ``person``: the subscriber's id, or, for someone new, the
    subscriber row to insert (a dict of ``email``, ``email_key``, ``name``, ``attributes``,
    ``link_key``).  ``subscription``: the subscription's status and proof columns (the keys
    of ``_SUBSCRIPTION``).  ``data``: the consent event's data."""

    person: int | dict[str, Any]
    subscription: dict[str, Any]
    detail: str
    data: dict[str, Any]


def insert_batch_postgresql(connection: Connection, rows: Sequence[NewSubscription], *,
                            list_id: int, now: datetime) -> None:
    """Insert the new subscribers, subscriptions to ``list_id`` and consent events of
    ``rows`` (one transaction's worth: the temporary table is dropped at commit)."""
    if not rows:
        return
    # Serialised once per object: the same consent data stands for most rows.
    texts: dict[int, str] = {}

    def as_json(value: dict[str, Any]) -> str:
        key = id(value)
        if key not in texts:
            texts[key] = json.dumps(value, ensure_ascii=False)
        return texts[key]

    def records():
        for ord_, row in enumerate(rows):
            person, sub = row.person, row.subscription
            if isinstance(person, int):
                who: tuple = (person, None, None, None, None, None)
            else:
                who = (None, person["email"], person["email_key"], person["name"],
                       json.dumps(person["attributes"], ensure_ascii=False), person["link_key"])
            yield (ord_, *who, *(sub[c] for c in _SUBSCRIPTION), row.detail, as_json(row.data))

    copy_into_temp(connection, _TABLE, _COLUMNS, records())
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(_STATEMENT, {"now": now, "list_id": list_id})
    finally:
        cursor.close()
