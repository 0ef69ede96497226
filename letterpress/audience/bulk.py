"""Inserting thousands of rows in one statement, on SQLite and PostgreSQL.

On PostgreSQL a batch goes as one ``INSERT … SELECT * FROM unnest(%s::type[], …)``: one
parameter per column whatever the number of rows, so neither the driver nor the server parses
a statement that grows with the batch (a multi-row ``VALUES`` of 1,000 rows is parsed by
psycopg on every batch, which cost more than the whole database work).  Elsewhere the rows go
through SQLAlchemy Core's executemany (sqlite3 runs it in C).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime, Integer, Table, any_, bindparam, insert
from sqlalchemy.dialects.postgresql import ARRAY

__all__ = ["among", "insert_rows"]


def among(column, values: Sequence[Any], dialect_name: str):
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter, so the
    statement does not grow (nor get parsed again) with the number of values."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def _pg_array(column, values: list[Any]) -> tuple[str, list[Any]]:
    kind = column.type
    impl = getattr(kind, "impl", kind)
    if isinstance(kind, JSON) or isinstance(impl, JSON):
        return "json[]", [None if v is None else json.dumps(v, ensure_ascii=False)
                          for v in values]
    if isinstance(impl, DateTime):
        return ("timestamptz[]" if impl.timezone else "timestamp[]"), values
    if isinstance(impl, Boolean):
        return "boolean[]", values
    if isinstance(impl, Integer):
        return "bigint[]", values
    return "text[]", values


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]],
                returning: Sequence[str] = ()) -> list[tuple]:
    """Insert ``rows`` (dicts with the same keys, every NOT NULL column given) into
    ``table``; returns the ``returning`` columns of the new rows, in no particular order."""
    if not rows:
        return []
    if connection.dialect.name != "postgresql":
        statement = insert(table)
        if returning:
            statement = statement.returning(*(table.c[c] for c in returning))
            return [tuple(r) for r in connection.execute(statement, list(rows))]
        connection.execute(statement, list(rows))
        return []
    names = list(rows[0])
    casts, arrays = [], []
    for name in names:
        cast, values = _pg_array(table.c[name], [r[name] for r in rows])
        casts.append(cast)
        arrays.append(values)
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
           f"SELECT * FROM unnest({', '.join(f'%b::{c}' for c in casts)})")
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, arrays)  # %b: binary arrays, no per-element escaping
        return [tuple(r) for r in cursor.fetchall()] if returning else []
    finally:
        cursor.close()
