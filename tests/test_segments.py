"""Segments: the expression language, counts in the database, and sends to part of a list.

Database tests run on SQLite and PostgreSQL (``project`` / ``engine`` sit on ``db_url``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from letterpress import schedule as sched
from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.audience.attribute_names import (
    UnknownAttribute,
    attribute_names,
    unknown_attributes,
)
from letterpress.audience.models import SegmentAttribute
from letterpress.audience.segments import (
    Segment,
    count_segment,
    ensure_attribute_indexes,
    parse,
    resolve_segment,
)
from letterpress.cli import main
from letterpress.delivery.models import Delivery, SendRun
from letterpress.errors import ConfigError, SegmentError
from letterpress.settings import load_settings
from letterpress.transports import MemoryTransport

from .fixtures_schedule import clear_issues, utc, write_issue

PEOPLE = {
    "digne@example.org": {"departement": "04", "role": "elu", "commune": "Digne-les-Bains"},
    "gap@example.org": {"departement": "05", "role": "agent", "commune": "Gap"},
    "nice@example.org": {"departement": "06", "role": "elu"},
    "brest@example.org": {"departement": "29", "role": "elu", "commune": "Brest"},
    "sans@example.org": {},
    "quatre@example.org": {"departement": "4", "role": "elu"},  # not "04"
}


@pytest.fixture
def people(project):
    with project.session() as session:
        ensure_lists(session, project.settings)
        for email, attributes in PEOPLE.items():
            subscribe(session, email, list_name="pvd", clock=project.clock,
                      consent=Consent("admin", "test"), attributes=attributes or None)
        # Someone pending in the south is not a recipient.
        subscribe(session, "attente@example.org", list_name="pvd", clock=project.clock,
                  consent=Consent("admin", "test"), status="pending",
                  attributes={"departement": "04", "role": "elu"})
    return project


def matching(project, expression: str, status: str | None = "active") -> int:
    with project.read_session() as session:
        return count_segment(session, "pvd", Segment.parse(expression), status=status)


# --------------------------------------------------------------------------- the language

@pytest.mark.parametrize(("expression", "column", "reason"), [
    ("departement in [04, 05, 06", 27, "expected ',' or ']'"),
    ("role = ", 8, "expected a value"),
    ("(role = elu", 12, "expected ')' to close the '(' at column 1"),
    ("role == elu", 7, "expected a value, found '='"),
    ("role = elu)", 11, "')' without a matching '('"),
    ("role elu", 6, "expected '=', '!=', 'in', 'not in' or 'present' after 'role'"),
    ("role = elu and", 15, "expected an attribute name"),
    ("role = elu; DROP TABLE subscribers", 11, "unexpected character ';'"),
    ("__import__('os') = 1", 11, "expected '=', '!=', 'in', 'not in' or 'present'"),
    ("", 1, "empty expression"),
])
def test_errors_say_where(expression, column, reason):
    with pytest.raises(SegmentError) as info:
        parse(expression)
    assert info.value.position == column - 1
    assert reason in str(info.value)
    # The message shows the expression with a caret under the problem.
    lines = str(info.value).splitlines()
    assert lines[-2] == "  " + expression
    assert lines[-1] == "  " + " " * (column - 1) + "^"


def test_canonical_form_and_attributes():
    seg = Segment.parse("departement IN [04,05 , 06] AND NOT (role='agent' OR commune present)")
    assert seg.canonical == "departement in [04, 05, 06] and not (role = agent or commune present)"
    assert seg.attributes == {"departement", "role", "commune"}
    assert Segment.parse(seg.canonical).canonical == seg.canonical
    quoted = Segment.parse("""commune = "Saint-Martin d'Hères" or role = 'and'""")
    assert Segment.parse(quoted.canonical) == Segment.parse(quoted.canonical)
    assert 'commune = "Saint-Martin d\'Hères"' in quoted.canonical


def test_resolve_named_or_adhoc():
    named = resolve_segment({"sud": "departement in [04]"}, name="sud")
    assert named.name == "sud" and named.label == "sud (departement in [04])"
    assert resolve_segment({}, where="role = elu").name is None
    assert resolve_segment({}) is None
    with pytest.raises(SegmentError, match="unknown segment 'nord'.*known: sud"):
        resolve_segment({"sud": "a = 1"}, name="nord")


def test_bad_segment_in_letterpress_toml_stops_the_load(project_dir):
    path = project_dir / "letterpress.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'sans_commune = "not commune present"', 'casse = "role = elu and"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"segments\] casse: expected an attribute name"):
        load_settings(project_dir, {})


# --------------------------------------------------------------------------- in the database

def test_counts_from_the_issue_examples(people):
    assert matching(people, "departement in [04, 05, 06] and role = elu") == 2
    assert matching(people, "departement in [04, 05, 06] and role = elu", status=None) == 3
    assert matching(people, "role = elu") == 4
    assert matching(people, "commune present") == 3
    assert matching(people, "not commune present") == 3
    # Two-valued: people without a role are "not elu".
    assert matching(people, "not role = elu") == 2
    assert matching(people, "role != elu") == 2
    assert matching(people, "departement not in [04, 05, 06]") == 3
    assert matching(people, "(departement = 04 or departement = 29) and commune present") == 2
    assert matching(people, "departement = 4") == 1  # text, compared exactly


def test_values_are_data_never_sql(people):
    assert matching(people, """role = "elu' OR '1'='1" """) == 0
    assert matching(people, "commune = \"Digne-les-Bains\"") == 1


def test_attribute_indexes_serve_the_count(people, project):
    seg = Segment.parse("departement in [04, 05, 06] and role = elu")
    with project.session() as session:
        created = ensure_attribute_indexes(session, seg.attributes)
    assert created == ["ix_subscribers_attr_departement", "ix_subscribers_attr_role"]
    with project.session() as session:
        assert ensure_attribute_indexes(session, seg.attributes) == []
        clause = seg.clause().compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        where = str(clause)
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in session.execute(text(
                f"EXPLAIN QUERY PLAN SELECT count(*) FROM subscribers WHERE {where}")))
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in session.execute(text(
                f"EXPLAIN SELECT count(*) FROM subscribers WHERE {where}")))
        assert "ix_subscribers_attr_" in plan, plan
    assert matching(project, seg.expression) == 2


# --------------------------------------------------------------------------- sending to a segment

@pytest.fixture
def lp(project_dir, project_env):
    runner = CliRunner(env=project_env)

    def run(*args, code=0):
        result = runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return run


def test_cli_count_where_and_segment(people, lp):
    assert lp("subscribers", "count", "--where",
              "departement in [04, 05, 06] and role = elu").stdout.strip() == "2"
    # elus_sud in the repository's letterpress.toml: departements 04 05 06 13 83 84, elus.
    assert lp("subscribers", "count", "--segment", "elus_sud").stdout.strip() == "2"
    assert lp("subscribers", "count", "--segment", "sans_commune").stdout.strip() == "3"
    bad = lp("subscribers", "count", "--where", "departement in [04, 05", code=1)
    assert "column 23" in bad.stderr and "^" in bad.stderr
    assert "unknown segment" in lp("subscribers", "count", "--segment", "nord", code=1).stderr
    listed = lp("segments", "list").stdout
    assert "elus_sud\t2\tdepartement in [04, 05, 06, 13, 83, 84] and role = elu" in listed


def _attribute_indexes_and_registrations(project) -> tuple[set[str], set[str]]:
    with project.read_session() as session:
        if session.get_bind().dialect.name == "postgresql":
            indexes = session.scalars(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'subscribers'"))
        else:
            indexes = session.scalars(text("SELECT name FROM sqlite_master "
                                           "WHERE type = 'index' AND tbl_name = 'subscribers'"))
        registered = set(session.scalars(select(SegmentAttribute.name)))
    return {i for i in indexes if i.startswith("ix_subscribers_attr_")}, registered


def test_unknown_attributes_says_which_and_suggests(people, project):
    with project.read_session() as session:
        assert unknown_attributes(session, ["departement", "role"]) == []
        assert attribute_names(session) == ("commune", "departement", "role")
        assert unknown_attributes(session, ["depatement", "role", "zzz"]) == [
            UnknownAttribute("depatement", ("commune", "departement", "role"), "departement"),
            UnknownAttribute("zzz", ("commune", "departement", "role"), None)]


def test_a_misspelt_attribute_warns_and_creates_no_index(people, lp, project):
    result = lp("subscribers", "count", "--where", "depatement = 04")
    assert result.stdout.strip() == "0"
    assert ("warning: no subscriber has the attribute 'depatement' (known: commune, "
            "departement, role); did you mean 'departement'?") in result.stderr
    assert "created index" not in result.stderr
    indexes, registered = _attribute_indexes_and_registrations(project)
    assert "ix_subscribers_attr_depatement" not in indexes and "depatement" not in registered
    # The attributes that exist are still indexed and registered, with the same warning.
    both = lp("subscribers", "count", "--where", "role = elu and not depatement = 04")
    assert both.stdout.strip() == "4"
    assert "no subscriber has the attribute 'depatement'" in both.stderr
    assert "created index ix_subscribers_attr_role" in both.stderr
    indexes, registered = _attribute_indexes_and_registrations(project)
    assert indexes == {"ix_subscribers_attr_role"} and registered == {"role"}
    # An attribute everybody may have had: no warning at all.
    quiet = lp("subscribers", "count", "--where", "commune present")
    assert quiet.stdout.strip() == "3" and "warning" not in quiet.stderr


def test_send_to_a_misspelt_attribute_warns_and_sends_nothing(people, lp, project,
                                                              project_dir):
    refused = lp("send", str(project_dir / "issues/2024-12-pvd-42.yaml"), "--where",
                 "depatement = 04", "--yes", code=1)
    assert "no subscriber has the attribute 'depatement'" in refused.stderr
    assert "nobody to send pvd#42 to" in refused.stderr
    with project.read_session() as session:
        assert session.scalars(select(SendRun)).all() == []
    assert "depatement" not in _attribute_indexes_and_registrations(project)[1]


def test_send_segment_goes_only_to_it_and_is_recorded(people, lp, project, project_dir):
    out = lp("send", "issues/2024-12-pvd-42.yaml", "--segment", "elus_sud", "--dry-run").stdout
    assert "would go to 2 recipient(s) of list pvd, segment elus_sud" in out
    lp("send", str(project_dir / "issues/2024-12-pvd-42.yaml"), "--segment", "elus_sud", "--yes")
    with project.session() as session:
        run = session.scalars(select(SendRun)).one()
        assert (run.segment_name, run.segment) == (
            "elus_sud", "departement in [04, 05, 06, 13, 83, 84] and role = elu")
        assert sorted(session.scalars(select(Delivery.email))) == [
            "digne@example.org", "nice@example.org"]
    shown = lp("runs", "show", str(run.id)).stdout
    assert "segment    elus_sud: departement in [04, 05, 06, 13, 83, 84] and role = elu" in shown


def test_send_where_expression(people, lp, project, project_dir):
    lp("send", str(project_dir / "issues/2024-12-pvd-42.yaml"), "--where", "commune present",
       "--yes")
    with project.session() as session:
        run = session.scalars(select(SendRun)).one()
        assert (run.segment_name, run.segment) == (None, "commune present")
        assert run.total == 3


def test_schedule_with_a_segment(people, project, project_dir, clock):
    clear_issues(project_dir)
    clock.set(utc(2025, 1, 10, 12, 0))
    path = write_issue(project_dir, number=43)
    row = sched.schedule_issue(project, path, "2025-01-14 10:00", segment="elus_sud")
    assert row.segment_name == "elus_sud"
    clock.set(utc(2025, 1, 14, 9, 0) + timedelta(seconds=2))
    transport = MemoryTransport()
    outcome = sched.run_scheduled_send(project, row.id, transport=transport)
    assert outcome.state == "done", outcome.detail
    assert sorted(r for m in transport.messages for r in m.recipients) == [
        "digne@example.org", "nice@example.org"]
    with project.session() as session:
        run = session.scalars(select(SendRun)).one()
        assert run.segment_name == "elus_sud"


def test_archive_says_an_issue_went_to_part_of_the_list(people, lp, project, project_dir):
    from letterpress.web import create_app

    lp("send", str(project_dir / "issues/2024-12-pvd-42.yaml"), "--segment", "elus_sud", "--yes")
    client = create_app(project, transport_factory=lambda pub: MemoryTransport()).test_client()
    page = client.get("/pvd/").get_data(as_text=True)
    assert "Envoyée à une partie des abonnés : elus_sud" in page
