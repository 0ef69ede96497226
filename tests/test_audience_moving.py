"""Moving an audience: export → import into a new project gives the same state (both databases)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from letterpress.audience import Consent, ensure_lists, subscribe, unsubscribe
from letterpress.audience.archive import ArchiveError, export_archive, import_archive
from letterpress.audience.csv_export import export_csv
from letterpress.audience.csv_import import import_csv
from letterpress.audience.emails import email_hash
from letterpress.audience.gdpr import forget
from letterpress.audience.models import (
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
)
from letterpress.audience.service import mark_bounced, mark_complained
from letterpress.clock import FrozenClock
from letterpress.db import open_database, session_scope

from .cli_runner import cli_runner
from .conftest import _PG
from .fixtures_audience import *  # noqa: F403 - fixtures

FORM = Consent("form", text="J'accepte de recevoir la lettre PVD", ip="203.0.113.9",
               form_id="pvd/subscribe")


@pytest.fixture
def other_db_url(db_url, tmp_path):
    """A second empty, migrated database of the same kind: the "new server"."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'new-server.db'}"
        open_database(url).dispose()
        yield url
    else:
        url = _PG.fresh()
        yield url
        _PG.drop(url)


def _cli(project_dir, url):
    return cli_runner(project_dir, {"LETTERPRESS_DATABASE_URL": url,
                                    "LETTERPRESS_BASE_URL": "https://lettre.example.org"})


def _rows(path):
    return {r["email"]: r for r in csv.DictReader(io.StringIO(path.read_text("utf-8")))}


def test_export_all_then_import_in_a_new_project_keeps_every_state(
        project_dir, db_url, other_db_url, settings, tmp_path):
    """pending stays pending, the consent proof is kept, unsubscribed stays unsubscribed —
    and the old contact file cannot make the unsubscribed person active again."""
    engine = open_database(db_url)
    clock = FrozenClock(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    with session_scope(engine) as session:
        ensure_lists(session, settings)
        subscribe(session, "attente@example.org", list_name="pvd", consent=FORM, clock=clock,
                  status="pending", name="Alix Attente")
        subscribe(session, "fidele@example.org", list_name="pvd", consent=FORM, clock=clock,
                  name="Fidèle", attributes={"commune": "Brest"})
        gone = subscribe(session, "parti@example.org", list_name="pvd", consent=FORM,
                         clock=clock)
        clock.advance(days=30)
        unsubscribe(session, gone.id, channel="one-click", clock=clock)
    engine.dispose()
    old, new = _cli(project_dir, db_url), _cli(project_dir, other_db_url)
    # Blocklisted in another tool: unsubscribed here, suppressed on every list.
    blocked = tmp_path / "blocked.csv"
    blocked.write_text("email,status,consent_at,consent_source,consent_text\n"
                       "bloque@example.org,blocklisted,2024-01-05T10:00:00+00:00,import,"
                       "liste d'avant\n", encoding="utf-8")
    old("subscribers", "import", str(blocked))
    exported = tmp_path / "export.csv"
    old("subscribers", "export", "--status", "all", "-o", str(exported))

    result = new("subscribers", "import", str(exported))
    assert "rejected 0" in result.output
    again = tmp_path / "again.csv"
    new("subscribers", "export", "--status", "all", "-o", str(again))
    assert again.read_text("utf-8") == exported.read_text("utf-8")
    rows = _rows(again)
    assert rows["attente@example.org"]["status"] == "pending"
    proof = rows["fidele@example.org"]
    assert (proof["consent_at"], proof["consent_source"], proof["consent_text"],
            proof["consent_ip"]) == ("2024-03-01T09:30:00+00:00", "form",
                                     "J'accepte de recevoir la lettre PVD", "203.0.113.9")
    assert (rows["parti@example.org"]["status"], rows["parti@example.org"]["unsubscribed_at"],
            rows["parti@example.org"]["unsubscribe_channel"]) == (
        "unsubscribed", "2024-03-31T09:30:00+00:00", "one-click")
    assert rows["bloque@example.org"]["status"] == "blocklisted"
    # Still suppressed on the other list too, as in the old project.
    refused = new("subscribers", "add", "bloque@example.org", "-l", "acv", ok=False)
    assert refused.exit_code == 1 and "suppress" in refused.stderr

    contacts = tmp_path / "anciens-contacts.csv"
    contacts.write_text("email;nom\nparti@example.org;Parti\nattente@example.org;Alix\n",
                        encoding="utf-8")
    result = new("subscribers", "import", str(contacts))
    assert "suppressed parti@example.org (unsubscribed)" in result.stderr
    final = _rows(_export(new, tmp_path / "final.csv"))
    assert final["parti@example.org"]["status"] == "unsubscribed"
    assert final["attente@example.org"]["status"] == "pending"  # an import confirms nobody


def _export(cli, path):
    cli("subscribers", "export", "--status", "all", "-o", str(path))
    return path


def test_a_bare_unsubscribed_row_is_not_added_but_keeps_the_objection(session, clock,
                                                                       settings, tmp_path):
    ensure_lists(session, settings)
    path = tmp_path / "s.csv"
    path.write_text("email,status\nb@example.org,unsubscribed\n", encoding="utf-8")
    import_csv(session, path, list_name="pvd", clock=clock)
    later = tmp_path / "later.csv"
    later.write_text("email\nb@example.org\n", encoding="utf-8")
    report = import_csv(session, later, list_name="pvd", clock=clock)
    assert report.added == 0 and report.suppressed[0].reason == "unsubscribed"


def _build_audience(session, clock, settings) -> None:
    ensure_lists(session, settings)
    subscribe(session, "attente@example.org", list_name="pvd", consent=FORM, clock=clock,
              status="pending")
    sub = subscribe(session, "rebond@example.org", list_name="pvd", consent=FORM, clock=clock)
    subscribe(session, "rebond@example.org", list_name="acv-elus",
              consent=Consent("admin", text="au téléphone"), clock=clock)
    clock.advance(hours=3)
    mark_bounced(session, sub.id, clock=clock, detail="550 5.1.1 user unknown")
    subscribe(session, "efface@example.org", list_name="pvd", consent=FORM, clock=clock)
    forget(session, "efface@example.org", clock=clock)
    session.flush()


def test_archive_round_trip_is_the_same_file_and_erased_people_stay_erased(
        project_dir, db_url, other_db_url, settings, tmp_path):
    engine = open_database(db_url)
    clock = FrozenClock(datetime(2024, 5, 2, 8, 0, 0, 123456, tzinfo=UTC))
    with session_scope(engine) as session:
        _build_audience(session, clock, settings)
    engine.dispose()
    old, new = _cli(project_dir, db_url), _cli(project_dir, other_db_url)
    archive = tmp_path / "audience.jsonl"
    old("subscribers", "export", "--archive", "-o", str(archive))
    assert "imported" in new("subscribers", "import", str(archive)).output
    again = tmp_path / "again.jsonl"
    new("subscribers", "export", "--archive", "-o", str(again))
    assert again.read_bytes() == archive.read_bytes()
    text = archive.read_text("utf-8")
    assert email_hash("efface@example.org") in text and "efface@example.org" not in text
    # The erased person cannot come back through an old contact file in the new project.
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\nefface@example.org\n", encoding="utf-8")
    result = new("subscribers", "import", str(contacts))
    assert "suppressed efface@example.org (erased)" in result.stderr
    # An archive restores a state: it refuses to merge into a non-empty audience.
    refused = new("subscribers", "import", str(archive), ok=False)
    assert refused.exit_code == 1 and "not empty" in refused.stderr


def test_a_malformed_archive_is_refused_with_its_line(session, settings):
    ensure_lists(session, settings)
    lines = ['{"format": "letterpress-audience", "version": 1}\n',
             '{"type": "subscriber", "email": "a@example.org", "created_at": "hier"}\n']
    with pytest.raises(ArchiveError) as info:
        import_archive(session, lines)
    assert info.value.line == 2 and "created_at" in info.value.reason
    assert session.scalar(select(Subscriber.id)) is None


# --------------------------------------------------------------------------- the property

_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_person = st.fixed_dictionaries({
    "name": _names,
    "commune": _names,
    "status": st.sampled_from(["pending", "active", "unsubscribed", "bounced", "complained",
                               "erased"]),
    "consent": st.sampled_from([FORM, Consent("admin", text="par téléphone"),
                                Consent("import", text="fichier 2023; « club »")]),
    "second_list": st.booleans(),
    "minutes": st.integers(0, 60 * 24 * 400),
})


def _clear(session) -> None:
    for table in (SubscriptionEvent, Subscription, Subscriber, Suppression, MailingList):
        session.execute(delete(table))
    session.commit()


def _populate(session, people, settings) -> datetime:
    """Build the audience over time; returns when it was done (a move comes after)."""
    ensure_lists(session, settings)
    clock = FrozenClock(datetime(2024, 1, 1, tzinfo=UTC))
    for i, p in enumerate(people):
        clock.advance(minutes=p["minutes"], microseconds=i)
        email = f"p{i}@example.org"
        status = "pending" if p["status"] == "pending" else "active"
        sub = subscribe(session, email, list_name="pvd", consent=p["consent"], clock=clock,
                        name=p["name"] or None, attributes={"commune": p["commune"]},
                        status=status)
        if p["second_list"]:
            subscribe(session, email, list_name="acv-elus", consent=p["consent"], clock=clock)
        clock.advance(minutes=5)
        if p["status"] == "unsubscribed":
            unsubscribe(session, sub.id, channel="page", clock=clock)
        elif p["status"] == "bounced":
            mark_bounced(session, sub.id, clock=clock, detail="550 5.1.1")
        elif p["status"] == "complained":
            mark_complained(session, sub.id, clock=clock)
        elif p["status"] == "erased":
            forget(session, email, clock=clock)
    session.commit()
    return clock.now()


@pytest.fixture
def two_sessions(db_url, other_db_url):
    a, b = open_database(db_url), open_database(other_db_url)
    with Session(a, expire_on_commit=False) as sa, Session(b, expire_on_commit=False) as sb:
        yield sa, sb
    a.dispose()
    b.dispose()


@hypothesis_settings(max_examples=25, deadline=None, database=None,
                     phases=[Phase.explicit, Phase.generate, Phase.shrink],
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
@given(people=st.lists(_person, max_size=6))
def test_export_import_export_gives_the_same_file(two_sessions, settings, tmp_path, people):
    """For any audience: archive and CSV export → import into an empty project → export is
    byte for byte the same file."""
    source, target = two_sessions
    _clear(source)
    _clear(target)
    built = _populate(source, people, settings)

    archive = io.StringIO()
    export_archive(source, archive)
    import_archive(target, io.StringIO(archive.getvalue()))
    again = io.StringIO()
    export_archive(target, again)
    assert again.getvalue() == archive.getvalue()

    _clear(target)
    ensure_lists(target, settings)
    target.commit()
    first = io.StringIO()
    export_csv(source, first, list_name="pvd", status=None)
    path = tmp_path / "roundtrip.csv"
    path.write_text(first.getvalue(), encoding="utf-8")
    report = import_csv(target, path, list_name="pvd", clock=FrozenClock(built))
    assert report.rejected == []
    second = io.StringIO()
    export_csv(target, second, list_name="pvd", status=None)
    assert second.getvalue() == first.getvalue()
