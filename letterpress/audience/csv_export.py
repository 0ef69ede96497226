"""Exporting subscribers to CSV, in a form :mod:`.csv_import` reads back unchanged.

Columns: ``email``, ``name``, one column per attribute, then ``status``, ``consent_at`` and
``consent_source`` (which the import ignores, except that it refuses to subscribe a row whose
status says unsubscribed, bounced or complained).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import TextIO

from sqlalchemy.orm import Session

from .queries import iter_subscriptions

__all__ = ["export_csv"]

FIXED_COLUMNS = ("email", "name")
TRAILING_COLUMNS = ("status", "consent_at", "consent_source")


def export_csv(session: Session, out: TextIO, *, list_name: str | None = None,
               status: str | None = "active", attributes: Mapping[str, str] | None = None,
               delimiter: str = ",") -> int:
    """Write the matching subscriptions to ``out`` as CSV; returns the number of rows.

    Streams the list twice (attribute names first, then rows), never holding it in memory.
    """
    filters = {"list_name": list_name, "status": status, "attributes": attributes}
    keys: dict[str, None] = {}
    for _sub, subscriber, _name in iter_subscriptions(session, **filters):
        for key in subscriber.attributes or {}:
            if key not in FIXED_COLUMNS and key not in TRAILING_COLUMNS:
                keys.setdefault(key, None)
    attribute_names = sorted(keys)
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([*FIXED_COLUMNS, *attribute_names, *TRAILING_COLUMNS])
    count = 0
    for sub, subscriber, _name in iter_subscriptions(session, **filters):
        attrs = subscriber.attributes or {}
        writer.writerow([subscriber.email, subscriber.name or "",
                         *(_text(attrs.get(k)) for k in attribute_names),
                         sub.status, sub.consent_at.isoformat(timespec="seconds"),
                         sub.consent_source])
        count += 1
    return count


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
