"""Inserting thousands of rows in one statement, on SQLite and PostgreSQL.

On PostgreSQL a batch goes as one ``INSERT … SELECT * FROM unnest(%s::type[], …)``: one
parameter per column whatever the number of rows, so neither the driver nor the server parses
a statement that grows with the batch (a multi-row ``VALUES`` of 1,000 rows is parsed by
psycopg on every batch, which cost more than the whole database work).  On SQLite the rows
go straight to sqlite3's ``executemany`` (a C loop over one prepared statement), their values
converted once per distinct date-time by the columns' own SQLAlchemy bind processors, so they
are stored exactly as the ORM would store them; with ``RETURNING`` they go as multi-row
``VALUES`` in chunks of power-of-two sizes, so only a handful of distinct statements is ever
prepared.  Lookups with :func:`among` take the values as one parameter on both databases
(a JSON array the database expands): a statement whose text changed
with every batch would be prepared again each time and kept in the driver's statement cache
(on SQLite, megabytes for a statement of thousands of parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Integer,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
)

__all__ = ["among", "copy_into_temp", "insert_rows"]

SMALL_BATCH = 8  # rows (PostgreSQL): up to this many go as VALUES, more as arrays


def among(column, values: Sequence[Any], dialect_name: str):
    """``column IN (values)`` with one parameter, so the statement does not grow (nor get
    prepared again) with the number of values: the values as one JSON array, expanded by the
    database (``json_array_elements_text`` on PostgreSQL, ``json_each`` on SQLite).
    ``values``: str or int.

    Not ``= ANY(%s)`` with a list on PostgreSQL: psycopg builds array parameters element by
    element in Python, which cost a fifth of a 100,000-row import; ``json.dumps`` is C.
    """
    if dialect_name == "postgresql":
        text = cast(bindparam(None, json.dumps(list(values)), type_=Text), JSON)
        each = func.json_array_elements_text(text).table_valued("value")
        return column.in_(select(cast(each.c.value, column.type)))
    if dialect_name == "sqlite":
        each = func.json_each(bindparam(None, json.dumps(list(values)))).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(list(values))


def _pg_array(column, values: list[Any]) -> tuple[str, list[Any]]:
    kind = column.type
    impl = getattr(kind, "impl", kind)
    if isinstance(kind, JSON) or isinstance(impl, JSON):
        # Serialised once per object (the same consent data stands for every event row).
        memo: dict[int, str] = {}
        return "json[]", [None if v is None else memo[id(v)] if id(v) in memo else
                          memo.setdefault(id(v), json.dumps(v, ensure_ascii=False))
                          for v in values]
    if isinstance(impl, DateTime):
        return ("timestamptz[]" if impl.timezone else "timestamp[]"), values
    if isinstance(impl, Boolean):
        return "boolean[]", values
    if isinstance(impl, Integer):
        return "bigint[]", values
    return "text[]", values


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]],
                returning: Sequence[str] = (), *, skip_existing: Sequence[str] = (),
                ) -> list[tuple]:
    """Insert ``rows`` (dicts with the same keys, every NOT NULL column given) into
    ``table``; returns the ``returning`` columns of the new rows, in no particular order.

    ``skip_existing`` names the columns of a unique key: a row whose key exists already is
    left out (``ON CONFLICT (…) DO NOTHING``; SQLite and PostgreSQL only, without
    ``returning``)."""
    if not rows:
        return []
    if skip_existing and (returning or connection.dialect.name not in ("sqlite", "postgresql")):
        raise ValueError("skip_existing: SQLite and PostgreSQL, without returning")
    conflict = f" ON CONFLICT ({', '.join(skip_existing)}) DO NOTHING" if skip_existing else ""
    if connection.dialect.name == "sqlite":
        return _sqlite_insert(connection, table, rows, returning, conflict)
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
    if len(rows) <= SMALL_BATCH:
        # A few rows (one-click unsubscribes, a page's write): one parameter per value.  The
        # statement's text depends on the number of rows, but there are only SMALL_BATCH of
        # them, and psycopg dumps a scalar in C where it builds each array in Python.
        one = f"({', '.join(f'%s::{c[:-2]}' for c in casts)})"
        sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
               f"VALUES {', '.join([one] * len(rows))}{conflict}")
        params: list[Any] = [column[n] for n in range(len(rows)) for column in arrays]
    else:
        sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
               f"SELECT * FROM unnest({', '.join(f'%b::{c}' for c in casts)}){conflict}")
        params = arrays  # %b: binary arrays, no per-element escaping
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if returning else []
    finally:
        cursor.close()


def copy_into_temp(connection: Connection, name: str, columns: Sequence[tuple[str, str]],
                   rows: Iterable[Sequence[Any]]) -> None:
    """(PostgreSQL) Create the temporary table ``name`` with ``columns`` ((name, SQL type)
    pairs), dropped at the end of the transaction, and fill it with ``rows`` by ``COPY``.

    ``COPY`` rows are formatted by psycopg's C code, where array parameters are built element
    by element in Python: for tens of thousands of rows of a dozen columns that difference is
    most of the client's work.  Values as psycopg dumps them (str, int, aware datetime,
    None); a JSON column takes its text."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE {name} "
                       f"({', '.join(f'{c} {t}' for c, t in columns)}) ON COMMIT DROP")
        with cursor.copy(f"COPY {name} ({', '.join(c for c, _t in columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


SQLITE_CHUNK = 256  # rows per multi-row INSERT … RETURNING (a power of two)


def _sqlite_values(connection: Connection, table: Table, names: list[str],
                   rows: Sequence[dict[str, Any]]) -> list[tuple]:
    """The rows as tuples of what SQLAlchemy would bind (same text for date-times and JSON).

    Each column's processing is the column type's own bind processor, applied once per
    distinct date-time and once per JSON object."""
    columns = []
    for name in names:
        process = table.c[name].type._cached_bind_processor(connection.dialect)
        memo: dict[Any, Any] = {}
        if process is None:
            columns.append([r[name] for r in rows])
        elif isinstance(getattr(table.c[name].type, "impl", None), DateTime) or isinstance(
                table.c[name].type, DateTime):
            # Date-times repeat (one "now" per batch): convert each distinct value once.
            columns.append([memo[v] if v in memo else memo.setdefault(v, process(v))
                            for v in (r[name] for r in rows)])
        elif isinstance(table.c[name].type, JSON):
            # One object often stands for many rows (the same consent data on every event):
            # serialise each object once (by identity: ``rows`` keeps them all alive).
            columns.append([memo[id(v)] if id(v) in memo else memo.setdefault(id(v), process(v))
                            for v in (r[name] for r in rows)])
        else:
            columns.append([process(r[name]) for r in rows])
    return list(zip(*columns, strict=True))


def _sqlite_insert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]],
                   returning: Sequence[str], conflict: str = "") -> list[tuple]:
    names = list(rows[0])
    values = _sqlite_values(connection, table, names, rows)
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    one = f"({', '.join('?' * len(names))})"
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        if not returning:
            cursor.executemany(head + one + conflict, values)
            return []
        tail = f" RETURNING {', '.join(returning)}"
        out: list[tuple] = []
        start, size = 0, SQLITE_CHUNK
        while start < len(values):
            while size > len(values) - start:
                size //= 2  # the rest in power-of-two chunks: few distinct statements
            chunk = values[start:start + size]
            cursor.execute(head + ", ".join([one] * size) + tail,
                           [v for row in chunk for v in row])
            out.extend(cursor.fetchall())
            start += size
        return out
    finally:
        cursor.close()
