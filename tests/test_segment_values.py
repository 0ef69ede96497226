"""Segment counts from ``segment_values``: the triggers that keep it, the counts read from it
(and, for attributes not registered, from the subscribers' JSON) and the migration that adds it.

Database tests run on SQLite and PostgreSQL (``project`` / ``engine`` sit on ``db_url``).
Counts are checked against a plain Python reading of the same expression over the same
people, before and after their attributes and statuses change.
"""

from __future__ import annotations

import random

import pytest
from alembic import command
from sqlalchemy import delete, select, text

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.audience.models import SegmentValue, Subscriber, Subscription
from letterpress.audience.segment_counts import register_attributes
from letterpress.audience.segments import (
    MAX_VALUE_CHARS,
    BoolOp,
    Not,
    Segment,
    count_segment,
    ensure_attribute_indexes,
    parse,
)
from letterpress.audience.segments import Test as AttributeTest
from letterpress.audience.service import change_status, get_list
from letterpress.db import _alembic_config, current_revision, head_revision
from letterpress.errors import SegmentError

EXPRESSIONS = [
    "role = elu",
    "departement = 29",
    "departement in [04, 05, 06]",
    "departement in [04, 4]",
    "commune present",
    "not commune present",
    "role != elu",
    "departement not in [04, 05]",
    "departement in [04, 05, 06] and role = elu",
    "role = elu and commune present",
    "role = elu or departement = 29",
    "(departement = 04 or departement = 29) and commune present",
    "not (role = elu or commune present)",
    "not role = elu and not commune present",
    "rang = 2",
    "actif = true",
    "rang present and not actif = false",
    'commune = ""',
]


def _text(value) -> str | None:
    """An attribute as a segment reads it: text, as PostgreSQL's ->> writes it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _holds(node, attributes: dict) -> bool:
    if isinstance(node, Not):
        return not _holds(node.operand, attributes)
    if isinstance(node, BoolOp):
        parts = [_holds(n, attributes) for n in node.operands]
        return all(parts) if node.op == "and" else any(parts)
    assert isinstance(node, AttributeTest)
    value = _text(attributes.get(node.name))
    if node.op == "present":
        return value is not None and value > ""
    return value is not None and value in node.values


def _random_attributes(rng: random.Random) -> dict:
    attributes: dict = {}
    for name, choices in (("departement", ["04", "05", "06", "29", "4"]),
                          ("role", ["elu", "agent"]),
                          ("commune", ["Brest", "Gap", ""]),
                          ("rang", [1, 2, 3]),
                          ("actif", [True, False])):
        if rng.random() < 0.7:
            attributes[name] = rng.choice(choices)
    return attributes


@pytest.fixture
def crowd(project):
    """60 people with random attributes on pvd (some pending, some unsubscribed), a third of
    them also on acv.  Returns (project, {email: attributes}, {(email, list): status})."""
    rng = random.Random(7)
    people, statuses = {}, {}
    with project.session() as session:
        ensure_lists(session, project.settings)
        for i in range(60):
            email = f"p{i}@example.org"
            people[email] = _random_attributes(rng)
            for list_name in ("pvd", "acv") if i % 3 == 0 else ("pvd",):
                status = rng.choice(["active", "active", "pending", "unsubscribed"])
                sub = subscribe(session, email, list_name=list_name, clock=project.clock,
                                consent=Consent("admin", "test"), attributes=people[email],
                                status="pending" if status == "pending" else "active")
                if status == "unsubscribed":
                    change_status(session, sub, "unsubscribed", clock=project.clock,
                                  actor="test", channel="admin")
                statuses[(email, list_name)] = status
    return project, people, statuses


def _expected(people, statuses, list_name, expression, status):
    tree = parse(expression)
    return sum(1 for (email, name), st in statuses.items()
               if name == list_name and (status is None or st == status)
               and _holds(tree, people[email]))


NAMES = ("departement", "role", "commune", "rang", "actif")


def _check_all(project, people, statuses, expressions=EXPRESSIONS):
    with project.read_session() as session:
        # What the database holds (subscribing drops empty values, for one).
        stored = dict(session.execute(select(Subscriber.email, Subscriber.attributes)).all())
        assert set(stored) == set(people)
        people = stored
        for list_name in ("pvd", "acv"):
            for expression in expressions:
                for status in ("active", None):
                    got = count_segment(session, list_name, Segment.parse(expression),
                                        status=status)
                    want = _expected(people, statuses, list_name, expression, status)
                    assert got == want, (list_name, expression, status)


def test_counts_match_a_plain_reading_of_the_expression(crowd):
    project, people, statuses = crowd
    # Not registered yet: counted over the subscribers' JSON.  (There SQLite compares a
    # number stored as such with its JSON type: text values only.)
    with project.read_session() as session:
        assert session.scalar(text("SELECT count(*) FROM segment_values")) == 0
    _check_all(project, people, statuses, [e for e in EXPRESSIONS
                                           if "rang" not in e and "actif" not in e])
    with project.session() as session:
        assert register_attributes(session, NAMES) == sorted(NAMES)  # back-filled
        assert register_attributes(session, NAMES) == []
    _check_all(project, people, statuses)


def test_counts_follow_changes_of_attributes_status_and_deletions(crowd):
    project, people, statuses = crowd
    rng = random.Random(11)
    with project.session() as session:
        ensure_attribute_indexes(session, NAMES)
    with project.session() as session:
        for email in rng.sample(sorted(people), 20):  # new attributes (also: all removed)
            people[email] = _random_attributes(rng)
            person = session.scalar(select(Subscriber).where(Subscriber.email == email))
            person.attributes = people[email]
        session.flush()
        list_ids = {name: get_list(session, name).id for name in ("pvd", "acv")}
        for (email, list_name), status in sorted(statuses.items()):
            if status == "pending" and rng.random() < 0.5:  # confirmed
                sub = session.scalar(select(Subscription).join(Subscriber).where(
                    Subscriber.email == email, Subscription.list_id == list_ids[list_name]))
                change_status(session, sub, "active", clock=project.clock, actor="test",
                              channel="admin")
                statuses[(email, list_name)] = "active"
        gone = sorted(people)[:5]
        session.execute(delete(Subscriber).where(Subscriber.email.in_(gone)))
        for email in gone:
            del people[email]
            statuses.pop((email, "pvd"), None)
            statuses.pop((email, "acv"), None)
    _check_all(project, people, statuses)
    with project.read_session() as session:
        orphans = session.scalar(text(
            "SELECT count(*) FROM segment_values WHERE subscription_id NOT IN "
            "(SELECT id FROM subscriptions)"))
    assert orphans == 0


def test_what_segment_values_keeps(project):
    long_value = "x" * 2000
    attributes = {"role": "elu", "rang": 2, "actif": False, "vide": None, "k" * 64: "trop long",
                  "note": long_value, "liste": ["a", "b"]}
    with project.session() as session:
        ensure_lists(session, project.settings)
        register_attributes(session, ["role", "rang", "actif", "vide", "note", "liste"])
        sub = subscribe(session, "b@example.org", list_name="pvd", clock=project.clock,
                        consent=Consent("admin", "test"), attributes={"autre": "x"})
        other_id = sub.id
        sub = subscribe(session, "a@example.org", list_name="pvd", clock=project.clock,
                        consent=Consent("admin", "test"), attributes=attributes,
                        status="pending")
        sub_id = sub.id
    with project.read_session() as session:
        rows = {r.name: r for r in session.execute(
            select(SegmentValue.subscription_id, SegmentValue.name, SegmentValue.status,
                   SegmentValue.value))}
        assert other_id not in {r.subscription_id for r in rows.values()}
    # Only registered names are copied, without null values; the rest is text.
    assert set(rows) == {"role", "rang", "actif", "note", "liste"}
    assert (rows["role"].value, rows["rang"].value, rows["actif"].value) == ("elu", "2", "false")
    assert rows["note"].value == long_value[:MAX_VALUE_CHARS + 1]
    assert {(r.subscription_id, r.status) for r in rows.values()} == {(sub_id, "pending")}
    with project.session() as session:
        change_status(session, session.get(Subscription, sub_id), "active",
                      clock=project.clock, actor="test", channel="admin")
    with project.read_session() as session:
        assert set(session.scalars(select(SegmentValue.status))) == {"active"}
        # A cut value never equals a value of an expression (those are shorter).
        assert count_segment(session, "pvd", Segment.parse(
            f"note = {'x' * MAX_VALUE_CHARS}")) == 0
        assert count_segment(session, "pvd", Segment.parse("note present")) == 1


def test_values_longer_than_the_limit_are_refused():
    with pytest.raises(SegmentError, match=f"longer than {MAX_VALUE_CHARS}") as info:
        parse(f"commune = \"{'y' * (MAX_VALUE_CHARS + 1)}\"")
    assert info.value.position == len("commune = ")
    assert parse(f"commune = {'y' * MAX_VALUE_CHARS}")


def test_counts_read_index_ranges(crowd):
    """A large test is one range of the segment index, never a scan of the subscribers."""
    project, _people, _statuses = crowd
    from letterpress.audience.segment_counts import _Counter

    with project.session() as session:
        ensure_attribute_indexes(session, ["role"])
    with project.read_session() as session:
        list_id = session.scalar(text("SELECT id FROM mailing_lists WHERE name = 'pvd'"))
        ids = _Counter(session, list_id, "active").driven(parse("role = elu"))
        sql = str(ids.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in session.execute(
                text(f"EXPLAIN QUERY PLAN SELECT count(*) FROM ({sql})")))
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in session.execute(
                text(f"EXPLAIN SELECT count(*) FROM ({sql}) AS ids")))
    assert "ix_segment_values_list_status_name_value" in plan, plan
    assert "subscribers" not in plan, plan


def test_bulk_import_fills_segment_values(project, tmp_path):
    from letterpress.audience.csv_import import import_csv

    path = tmp_path / "people.csv"
    path.write_text("email;departement;role\n"
                    "a@example.org;04;elu\nb@example.org;29;agent\nc@example.org;04;\n",
                    encoding="utf-8")
    with project.session() as session:
        ensure_lists(session, project.settings)
        register_attributes(session, ["departement", "role"])
    with project.session() as session:
        import_csv(session, path, list_name="pvd", clock=project.clock)
    with project.read_session() as session:
        assert count_segment(session, "pvd", Segment.parse("departement = 04")) == 2
        assert count_segment(session, "pvd", Segment.parse("departement = 04 and role = elu")) == 1
        assert count_segment(session, "pvd", Segment.parse("not role present")) == 1


# --------------------------------------------------------------------------- the migration

def _migrate(engine, revision: str, down: bool = False) -> None:
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _objects(engine) -> set[str]:
    """The segment_values table and its triggers, as the database lists them."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE "
                                     "'%segment_%'"))
        else:
            rows = conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tr_segment_values%' "
                "UNION ALL SELECT tablename FROM pg_tables WHERE tablename LIKE 'segment_%' "
                "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'segment_values%'"))
        return {r[0] for r in rows}


def test_migration_backfills_and_downgrades(engine):
    assert current_revision(engine) == head_revision()
    _migrate(engine, "0009_reports", down=True)
    assert _objects(engine) == set()
    now = "2024-01-01 00:00:00+00"
    with engine.begin() as conn:
        # An attribute a segment used before: its expression index says so.
        conn.execute(text(
            "CREATE INDEX ix_subscribers_attr_role ON subscribers ((attributes ->> 'role'))"
            if engine.dialect.name == "postgresql" else
            "CREATE INDEX ix_subscribers_attr_role ON subscribers "
            "(json_extract(attributes, '$.role'))"))
        conn.execute(text("INSERT INTO mailing_lists (name, publication, created_at) "
                          "VALUES ('pvd', 'pvd', :now)"), {"now": now})
        for i, attributes in enumerate(['{"role": "elu", "departement": "04"}', "{}",
                                        '{"role": "agent"}'], start=1):
            conn.execute(text(
                "INSERT INTO subscribers (email, email_key, name, attributes, created_at, "
                "updated_at) VALUES (:e, :e, '', :a, :now, :now)"),
                {"e": f"p{i}@example.org", "a": attributes, "now": now})
            conn.execute(text(
                "INSERT INTO subscriptions (subscriber_id, list_id, status, consent_at, "
                "consent_source, consent_text, created_at, updated_at) VALUES "
                "(:i, 1, :s, :now, 'admin', '', :now, :now)"),
                {"i": i, "s": "pending" if i == 3 else "active", "now": now})
    _migrate(engine, "head")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT subscription_id, status, name, value "
                                 "FROM segment_values ORDER BY 1, 3")).all()
    # Registered from the index: role (not departement, which no segment used).
    assert [tuple(r) for r in rows] == [(1, "active", "role", "elu"),
                                        (3, "pending", "role", "agent")]
    # The triggers work on the upgraded database.
    with engine.begin() as conn:
        conn.execute(text("UPDATE subscribers SET attributes = '{\"role\": \"elu\"}' "
                          "WHERE id = 2"))
        conn.execute(text("UPDATE subscriptions SET status = 'active' WHERE id = 3"))
        conn.execute(text("DELETE FROM subscriptions WHERE id = 1"))
        rows = conn.execute(text("SELECT subscription_id, status, name, value "
                                 "FROM segment_values ORDER BY 1, 3")).all()
    assert [tuple(r) for r in rows] == [(2, "active", "role", "elu"),
                                        (3, "active", "role", "agent")]
    _migrate(engine, "0009_reports", down=True)
    assert _objects(engine) == set()
    _migrate(engine, "head")
    assert "segment_values" in _objects(engine)
