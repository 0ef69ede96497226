"""Exporting subscribers to CSV, in a form :mod:`.csv_import` reads back unchanged.

Columns: ``email``, ``name``, one column per attribute, then ``status``, ``consent_at`` and
``consent_source``; with ``proof=True`` (implied by any status selection other than the
default ``active``) also ``consent_text``, ``consent_form_id``, ``consent_ip``,
``confirmed_at``, ``unsubscribed_at`` and ``unsubscribe_channel``.  The import
reads them back as they are (a ``pending`` row stays pending, an ``unsubscribed`` one is
recorded unsubscribed and suppressed, a ``blocklisted`` one — unsubscribed with a suppression
on every list — likewise, the consent proof is kept), so an export re-imports to the same
state.  The whole audience with its history and hashed suppressions is the archive
(:mod:`.archive`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from .emails import key_hash
from .models import ALL_LISTS, Suppression
from .queries import iter_subscriptions

__all__ = ["export_csv"]

FIXED_COLUMNS = ("email", "name")
TRAILING_COLUMNS = ("status", "consent_at", "consent_source")
PROOF_COLUMNS = ("consent_text", "consent_form_id", "consent_ip", "confirmed_at",
                 "unsubscribed_at", "unsubscribe_channel")


def export_csv(session: Session, out: TextIO, *, list_name: str | None = None,
               status: str | None = "active", attributes: Mapping[str, str] | None = None,
               delimiter: str = ",", proof: bool | None = None,
               spreadsheet: bool = False) -> int:
    """Write the matching subscriptions to ``out`` as CSV; returns the number of rows.

    ``proof``: add the consent proof and unsubscribe columns (default: unless only active
    subscriptions are exported), so the file re-imports to the same state.  ``spreadsheet``:
    the file is for opening in Excel or LibreOffice, which run a cell starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return as a formula (names come from a public
    form): such cells are prefixed with ``'`` (OWASP, "CSV Injection"), so the file no longer
    re-imports exactly.

    Streams the list twice (attribute names first, then rows), never holding it in memory.
    """
    filters = {"list_name": list_name, "status": status, "attributes": attributes}
    keys: dict[str, None] = {}
    for _sub, subscriber, _name in iter_subscriptions(session, **filters):
        for key in subscriber.attributes or {}:
            if key not in FIXED_COLUMNS and key not in TRAILING_COLUMNS + PROOF_COLUMNS:
                keys.setdefault(key, None)
    attribute_names = sorted(keys)
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    if proof is None:
        proof = status != "active"
    writer.writerow([*FIXED_COLUMNS, *attribute_names, *TRAILING_COLUMNS,
                     *(PROOF_COLUMNS if proof else ())])
    # People unsubscribed from every list at once (a "blocklisted" row of an import, another
    # tool's blocklist): written "blocklisted", which the import reads back as such, not as
    # an unsubscribe from this list alone.
    everywhere = set(session.scalars(select(Suppression.email_hash).where(
        Suppression.scope == ALL_LISTS, Suppression.reason == "unsubscribed")))
    count = 0
    for sub, subscriber, _name in iter_subscriptions(session, **filters):
        attrs = subscriber.attributes or {}
        status = sub.status
        if status == "unsubscribed" and everywhere and \
                key_hash(subscriber.email_key) in everywhere:
            status = "blocklisted"
        row = [subscriber.email, subscriber.name or "",
               *(_text(attrs.get(k)) for k in attribute_names),
               status, _time(sub.consent_at), sub.consent_source]
        if proof:
            row += [sub.consent_text or "", sub.consent_form_id or "", sub.consent_ip or "",
                    _time(sub.confirmed_at), _time(sub.unsubscribed_at),
                    sub.unsubscribe_channel or ""]
        if spreadsheet:
            row = [_inert(cell) for cell in row]
        writer.writerow(row)
        count += 1
    return count


def _time(value) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """``cell`` as a spreadsheet shows it without running it (see :func:`export_csv`)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
