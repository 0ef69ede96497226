"""Counting a segment of a 1,000,000-subscriber list, against a plain COUNT(*) of the list.

    .venv/bin/python bench/bench_segments.py [--subscribers 1000000] [--db sqlite|postgresql|both]

Fills a throw-away database (SQLite file, and a fresh PostgreSQL database on 127.0.0.1 when
one answers) with N active subscribers on one list, with attributes like a real audience:
``departement`` among 96 codes, ``role`` elu (30 %) / agent (50 %) / absent, ``commune`` for
70 %.  Then, in the same run, times (median of 7, after one warm-up):

* baseline: ``SELECT count(*)`` of the list's active subscriptions (what ``send`` counts);
* ``count_segment`` for several segments — selective, large (``role = elu``, a third of
  the list; ``commune present``, three quarters), ``in [...]``, conjunctions — after
  ``ensure_attribute_indexes`` (which registers their attributes: ``segment_values``).

Prints each time, its ratio to the baseline and whether it met the 200 ms target.  Every
test is one range of the ``segment_values`` index, so a count reads only its entries; two
more segments are shown without a target: a conjunction of two large operands (one
primary-key check per member of the smaller) and a negation (the list's count minus the
operand's).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from letterpress.audience.queries import count_recipients  # noqa: E402
from letterpress.audience.segments import (  # noqa: E402
    Segment,
    count_segment,
    ensure_attribute_indexes,
)
from letterpress.db import open_database  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 200.0
# Each must count in under TARGET_MS on both databases.
SEGMENTS = [
    "departement in [04, 05, 06] and role = elu",  # the example: a conjunction
    "departement = 29",  # selective
    "role = elu",  # large: 30 % of the list
    "departement in [04, 05, 06, 13, 83, 84]",
    "commune present",  # larger still: 77 %
    "departement = 29 and commune present",  # a conjunction with a large operand
]
# Shown for comparison, without a target: every member of a large operand is checked
# against the other (a conjunction of two large ones), or two large counts are subtracted.
OTHERS = [
    "role = elu and commune present",
    "not commune present",
]

# Departement codes 01..95 without 20, plus 2A and 2B: 96 codes.
_CODES = [f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B"]


def _fill_sqlite(session: Session, n: int) -> None:
    codes = ",".join(f"('{c}', {k})" for k, c in enumerate(_CODES))
    session.execute(text("INSERT INTO mailing_lists (id, name, publication, created_at) "
                         "VALUES (1, 'pvd', 'pvd', '2025-01-01 00:00:00')"))
    session.execute(text("CREATE TEMP TABLE codes(code TEXT, k INTEGER)"))
    session.execute(text(f"INSERT INTO codes VALUES {codes}"))
    session.execute(text(f"""
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})
        INSERT INTO subscribers (id, email, email_key, name, attributes, created_at, updated_at)
        SELECT i, 'r' || i || '@example.org', 'r' || i || '@example.org', '',
               json_object('departement', (SELECT code FROM codes WHERE k = (i * 7919) % 96)),
               '2025-01-01 00:00:00', '2025-01-01 00:00:00' FROM seq"""))
    # Role and commune added in a second pass (json_set keeps it readable).
    session.execute(text("""
        UPDATE subscribers SET attributes = json_set(attributes,
            '$.role', CASE WHEN id % 10 < 3 THEN 'elu' WHEN id % 10 < 8 THEN 'agent' END,
            '$.commune', CASE WHEN id % 10 <> 5 AND id % 7 <> 0 THEN 'Commune ' || (id % 3000)
                         END)"""))
    session.execute(text("""
        UPDATE subscribers SET attributes = json_remove(attributes, '$.role')
        WHERE json_extract(attributes, '$.role') IS NULL"""))
    session.execute(text("""
        UPDATE subscribers SET attributes = json_remove(attributes, '$.commune')
        WHERE json_extract(attributes, '$.commune') IS NULL"""))
    session.execute(text("""
        INSERT INTO subscriptions (subscriber_id, list_id, status, consent_at, consent_source,
                                   consent_text, created_at, updated_at)
        SELECT id, 1, 'active', created_at, 'import', '', created_at, created_at
        FROM subscribers"""))


def _fill_postgresql(session: Session, n: int) -> None:
    codes = "ARRAY[" + ",".join(f"'{c}'" for c in _CODES) + "]"
    session.execute(text("INSERT INTO mailing_lists (id, name, publication, created_at) "
                         "VALUES (1, 'pvd', 'pvd', '2025-01-01 00:00:00+00')"))
    session.execute(text(f"""
        INSERT INTO subscribers (id, email, email_key, name, attributes, created_at, updated_at)
        SELECT i, 'r' || i || '@example.org', 'r' || i || '@example.org', '',
               json_strip_nulls(json_build_object(
                 'departement', ({codes})[1 + (i::bigint * 7919) % 96],
                 'role', CASE WHEN i % 10 < 3 THEN 'elu' WHEN i % 10 < 8 THEN 'agent' END,
                 'commune', CASE WHEN i % 10 <> 5 AND i % 7 <> 0
                                 THEN 'Commune ' || (i % 3000) END)),
               '2025-01-01 00:00:00+00', '2025-01-01 00:00:00+00'
        FROM generate_series(1, {n}) AS i"""))
    session.execute(text("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), :n)"),
                    {"n": n})
    session.execute(text("""
        INSERT INTO subscriptions (subscriber_id, list_id, status, consent_at, consent_source,
                                   consent_text, created_at, updated_at)
        SELECT id, 1, 'active', created_at, 'import', '', created_at, created_at
        FROM subscribers"""))


def _time(fn, repeat: int = 7) -> tuple[float, object]:
    result = fn()  # warm-up (page cache, plan cache)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


def run(url: str, n: int, label: str) -> bool:
    engine = open_database(url)
    ok = True
    try:
        t0 = time.perf_counter()
        with Session(engine) as session, session.begin():
            (_fill_sqlite if label == "SQLite" else _fill_postgresql)(session, n)
        fill = time.perf_counter() - t0
        t0 = time.perf_counter()
        names = set().union(*(Segment.parse(s).attributes for s in SEGMENTS + OTHERS))
        with Session(engine) as session, session.begin():
            ensure_attribute_indexes(session, names)
        # Steady state: what autovacuum gives a live PostgreSQL database (visibility map set,
        # so index-only scans work); SQLite gets its ANALYZE statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if label == "PostgreSQL" else "ANALYZE"))
        index = time.perf_counter() - t0
        print(f"\n{label}: {n:,} active subscribers (fill {fill:.1f} s, "
              f"attribute indexes {index:.1f} s)")
        with Session(engine) as session:
            base_ms, base_n = _time(lambda: count_recipients(session, "pvd"))
            print(f"  {'baseline: COUNT(*) of the list':<52} {base_n:>9,}  {base_ms:7.1f} ms")
            for expression in SEGMENTS + OTHERS:
                seg = Segment.parse(expression)
                ms, count = _time(lambda seg=seg: count_segment(session, "pvd", seg))
                verdict = "(no target)"
                if expression in SEGMENTS:
                    verdict = f"target < {TARGET_MS:.0f} ms: " + ("ok" if ms < TARGET_MS
                                                                  else "MISSED")
                    ok = ok and ms < TARGET_MS
                print(f"  {expression:<52} {count:>9,}  {ms:7.1f} ms  "
                      f"{ms / base_ms:5.2f}x baseline  {verdict}")
    finally:
        engine.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    ok = True
    if args.db in ("sqlite", "both"):
        workdir = Path(tempfile.mkdtemp(prefix="lp-bench-seg-"))
        try:
            ok &= run(f"sqlite:///{workdir / 'subscribers.db'}", args.subscribers, "SQLite")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.db in ("postgresql", "both"):
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"lp_bench_seg_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: say so, skip the leg
            print(f"\nPostgreSQL: skipped ({exc.__class__.__name__}: {exc})")
        else:
            try:
                ok &= run(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", args.subscribers,
                          "PostgreSQL")
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
