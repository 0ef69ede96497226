"""Subscriber database benchmark: CSV import, count and streaming at list sizes that matter.

    .venv/bin/python bench/bench_audience.py [--import-rows 100000] [--stream-rows 1000000]
                                             [--no-postgres] [--segment-attributes a,b]

* import: 100,000 generated rows (5% invalid, 5% duplicates) into an empty database;
  baselines: reading the same file with the bare ``csv`` module, and that read plus
  email-validator on every address (what validation alone costs); target ≥ 20,000 rows/s on
  SQLite and ≥ 15,000 rows/s on PostgreSQL, and a re-import at least as fast.  With
  ``--segment-attributes commune,departement`` those attributes are registered for segment
  counts first (as the first use of a segment reading them does), so the import also fills
  ``segment_values`` for them — what an import costs once segments use its columns.
* count/stream: 1,000,000 subscribers (bulk-inserted), ``count_recipients`` and
  ``iter_recipients`` over a 100k list and the 1M list; baseline: the naive
  ``session.execute(select(...)).all()`` of the same columns, loading the whole list.

Each scenario runs in its own subprocess so every peak memory figure (max RSS) is its own;
"+N MB" is the growth of that peak during the measured work (imports and connection excluded).
Runs on SQLite, and on PostgreSQL when one answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("LETTERPRESS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


# --------------------------------------------------------------------------- data

def generate_csv(path: Path, rows: int, seed: int = 42) -> dict[str, int]:
    """``rows`` data rows: 5% invalid addresses, 5% duplicates (other case) of earlier rows."""
    rng = random.Random(seed)
    communes = ["Brest", "Quimper", "Morlaix", "Lorient", "Vannes", "Pontivy", "Châteaulin"]
    invalid = duplicates = 0
    emitted: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Courriel;Prénom;Nom;Commune;Département\n")
        for i in range(rows):
            r = rng.random()
            if r < 0.05:
                email = f"invalide-{i}.example.org"
                invalid += 1
            elif r < 0.10 and emitted:
                email = rng.choice(emitted).upper()
                duplicates += 1
            else:
                email = f"prenom.nom{i}+lettre@mairie-{i % 997}.example.org"
                emitted.append(email)
            fh.write(f"{email};Prénom{i};Nom{i};{rng.choice(communes)};{rng.randint(1, 95):02}\n")
    return {"invalid": invalid, "duplicates": duplicates}


def populate(url: str, total: int, small: int) -> None:
    """``total`` subscribers on list pvd, the first ``small`` of them also on acv."""
    from datetime import UTC, datetime

    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from letterpress.audience import ensure_lists, get_list
    from letterpress.audience.models import Subscriber, Subscription
    from letterpress.db import open_database
    from letterpress.settings import load_settings

    engine = open_database(url)
    settings = load_settings(ROOT, {"LETTERPRESS_DATABASE_URL": url, "LETTERPRESS_SECRET_KEY": "x"})
    with Session(engine) as s:
        ensure_lists(s, settings)
        s.commit()
        pvd, acv = get_list(s, "pvd").id, get_list(s, "acv").id
    now = datetime.now(UTC)
    chunk = 50_000
    with engine.begin() as conn:
        for start in range(0, total, chunk):
            ids = range(start + 1, min(start + chunk, total) + 1)
            conn.execute(insert(Subscriber), [
                {"id": i, "email": f"lecteur{i}@example.org", "email_key": f"lecteur{i}@example.org",
                 "name": f"Lecteur {i}", "attributes": {"commune": "Brest"},
                 "created_at": now, "updated_at": now} for i in ids])
            conn.execute(insert(Subscription), [
                {"subscriber_id": i, "list_id": pvd, "status": "active", "consent_at": now,
                 "consent_source": "import", "consent_text": "", "created_at": now,
                 "updated_at": now} for i in ids])
            small_ids = [i for i in ids if i <= small]
            if small_ids:
                conn.execute(insert(Subscription), [
                    {"subscriber_id": i, "list_id": acv, "status": "active", "consent_at": now,
                     "consent_source": "import", "consent_text": "", "created_at": now,
                     "updated_at": now} for i in small_ids])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('subscribers_id_seq', (SELECT max(id) FROM subscribers))")
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


# --------------------------------------------------------------------------- scenarios (child)

def _peak_mb() -> float:
    """This process's peak resident memory.  VmHWM, not ru_maxrss: on Linux ru_maxrss
    survives exec, so a child would inherit the parent's peak at fork time."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scenario(name: str, url: str, arg: str, extra: str = "") -> dict:
    """Run one scenario in this (child) process; return its figures."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from letterpress.audience import count_recipients, ensure_lists, iter_recipients
    from letterpress.audience.models import Subscriber, Subscription
    from letterpress.clock import SystemClock
    from letterpress.db import open_database
    from letterpress.settings import load_settings

    engine = open_database(url) if url else None
    base = _peak_mb()
    t0 = time.perf_counter()
    result: dict = {}
    if name == "csv-read":
        import csv

        with open(arg, encoding="utf-8-sig", newline="") as fh:
            result["rows"] = sum(1 for _ in csv.reader(fh, delimiter=";")) - 1
    elif name == "validate":
        import csv

        from email_validator import EmailNotValidError, validate_email

        n = 0
        with open(arg, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=";")
            next(reader)
            for row in reader:
                n += 1
                with contextlib.suppress(EmailNotValidError):
                    validate_email(row[0], check_deliverability=False)
        result["rows"] = n
    elif name == "import":
        from letterpress.audience.csv_import import import_csv

        settings = load_settings(ROOT, {"LETTERPRESS_DATABASE_URL": url,
                                        "LETTERPRESS_SECRET_KEY": "x"})
        from letterpress.audience.segment_counts import register_attributes

        with Session(engine, expire_on_commit=False) as s:
            ensure_lists(s, settings)
            register_attributes(s, [n for n in extra.split(",") if n])
            s.commit()
            report = import_csv(s, arg, list_name="pvd", clock=SystemClock())
        result.update(rows=report.rows, added=report.added, rejected=len(report.rejected),
                      duplicates=report.duplicates)
    elif name == "count":
        with Session(engine) as s:
            result["count"] = count_recipients(s, arg)
    elif name == "stream":
        with Session(engine) as s:
            n = 0
            for _r in iter_recipients(s, arg):
                n += 1
        result["rows"] = n
    elif name == "naive":
        # The same columns the stream reads, loaded in one go into a list.
        from letterpress.audience import get_list

        with Session(engine) as s:
            list_id = get_list(s, arg).id
            rows = s.execute(select(Subscription.id, Subscription.subscriber_id,
                                    Subscription.list_id, Subscriber.email, Subscriber.name)
                             .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                             .where(Subscription.list_id == list_id,
                                    Subscription.status == "active")
                             .order_by(Subscription.id)).all()
            result["rows"] = len(rows)
    else:
        raise SystemExit(f"unknown scenario {name}")
    result["seconds"] = time.perf_counter() - t0
    result["peak_mb"] = _peak_mb()
    result["baseline_mb"] = base
    if engine is not None:
        engine.dispose()
    return result


def run_child(name: str, url: str, arg: str, extra: str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name, url, arg, extra],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- driver

def databases(tmp: Path, use_pg: bool):
    yield "sqlite", f"sqlite:///{tmp / 'bench.db'}", None
    if not use_pg:
        return
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"lp_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL: SQLite figures only
        print(f"(PostgreSQL skipped: {exc.__class__.__name__})")
        return
    try:
        yield "postgresql", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, None
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh(url: str) -> None:
    """Empty the benchmark database between the import and the stream parts."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        from letterpress.db import open_database

        engine = open_database(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE subscription_events, subscriptions, subscribers, "
                                 "suppressions, segment_values, segment_attributes "
                                 "RESTART IDENTITY CASCADE")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--segment-attributes", default="", metavar="A,B",
                        help="attributes registered for segment counts before importing")
    args = parser.parse_args()
    small = max(args.stream_rows // 10, 1)

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        csv_path = tmp / "subscribers.csv"
        made = generate_csv(csv_path, args.import_rows)
        print(f"generated {args.import_rows:,} rows ({made['invalid']:,} invalid, "
              f"{made['duplicates']:,} duplicates), {csv_path.stat().st_size / 1e6:.1f} MB")
        raw = run_child("csv-read", "", str(csv_path))
        print(f"baseline  csv module read           {raw['seconds']:7.2f} s  "
              f"{raw['rows'] / raw['seconds']:10,.0f} rows/s  peak {raw['peak_mb']:6.0f} MB")

        val = run_child("validate", "", str(csv_path))
        print(f"baseline  csv read + email-validator {val['seconds']:7.2f} s  "
              f"{val['rows'] / val['seconds']:10,.0f} rows/s  peak {val['peak_mb']:6.0f} MB")
        targets = {"sqlite": 20_000, "postgresql": 15_000}
        for label, url, _ in databases(tmp, not args.no_postgres):
            print(f"\n--- {label}")
            fresh(url)
            imp = run_child("import", url, str(csv_path), args.segment_attributes)
            if args.segment_attributes:
                print(f"(attributes registered for segments: {args.segment_attributes})")
            print(f"import    {imp['rows']:,} rows → {imp['added']:,} added, "
                  f"{imp['rejected']:,} rejected, {imp['duplicates']:,} duplicates")
            print(f"          {imp['seconds']:7.2f} s  {imp['rows'] / imp['seconds']:10,.0f} rows/s"
                  f"  +{imp['peak_mb'] - imp['baseline_mb']:.0f} MB (peak {imp['peak_mb']:.0f} MB)  ({imp['seconds'] / raw['seconds']:.0f}× "
                  "the bare csv read, which validates and writes nothing)")
            rate = imp["rows"] / imp["seconds"]
            print(f"          {rate / (val['rows'] / val['seconds']):.2f}× the speed of "
                  f"email-validator alone; target {targets[label]:,} rows/s: "
                  f"{'met' if rate >= targets[label] else 'NOT met'}")
            again = run_child("import", url, str(csv_path), args.segment_attributes)
            assert again["added"] == 0, again
            print(f"re-import same file (nothing to add) {again['seconds']:7.2f} s  "
                  f"{again['rows'] / again['seconds']:10,.0f} rows/s  "
                  f"({imp['seconds'] / again['seconds']:.2f}× the first import's speed)  "
                  f"+{again['peak_mb'] - again['baseline_mb']:.0f} MB")
            fresh(url)
            t0 = time.perf_counter()
            from letterpress.db import open_database

            open_database(url).dispose()
            populate(url, args.stream_rows, small)
            print(f"populate  {args.stream_rows:,} subscribers (+{small:,} on a second list) "
                  f"in {time.perf_counter() - t0:.1f} s")
            for list_name, size in (("acv", small), ("pvd", args.stream_rows)):
                cnt = run_child("count", url, list_name)
                st = run_child("stream", url, list_name)
                nv = run_child("naive", url, list_name)
                assert cnt["count"] == st["rows"] == nv["rows"] == size, (cnt, st, nv)
                grow_st = st["peak_mb"] - st["baseline_mb"]
                grow_nv = nv["peak_mb"] - nv["baseline_mb"]
                print(f"{size:>9,}  count {cnt['seconds'] * 1000:7.1f} ms | "
                      f"stream {st['seconds']:6.2f} s {st['rows'] / st['seconds']:9,.0f} rows/s "
                      f"+{grow_st:4.0f} MB (peak {st['peak_mb']:.0f}) | naive .all() "
                      f"{nv['seconds']:6.2f} s +{grow_nv:5.0f} MB (peak {nv['peak_mb']:.0f}) "
                      f"| naive/stream: time {nv['seconds'] / st['seconds']:.1f}×, "
                      f"memory growth {grow_nv / max(grow_st, 1):.0f}×")
            fresh(url)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(scenario(*sys.argv[2:6])))
    else:
        main()
