"""``letterpress db backup`` / ``db restore`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from letterpress.audience.emails import email_hash
from letterpress.audience.models import Subscriber, Suppression
from letterpress.backup import BackupError, backup, restore
from letterpress.delivery import prepare_run, send_run
from letterpress.delivery.models import Delivery, SendRun
from letterpress.project import Project
from letterpress.settings import load_settings
from letterpress.transports import MemoryTransport

from .cli_runner import cli_runner
from .conftest import _PG
from .fixtures_delivery import *  # noqa: F403 - fixtures


@pytest.fixture
def new_db_url(db_url, tmp_path):
    """An empty, migrated database of the same kind: the new server."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'new' / 'subscribers.db'}"
        yield url
    else:
        url = _PG.fresh()
        yield url
        _PG.drop(url)


@pytest.fixture
def new_project_dir(project_dir, tmp_path):
    """A copy of the project files (letterpress.toml, secret, journal…) on the new server."""
    def copy():
        dest = tmp_path / "new-project"
        shutil.copytree(project_dir, dest, dirs_exist_ok=True)
        return dest
    return copy


def _cli(project_dir, url):
    return cli_runner(project_dir, {"LETTERPRESS_DATABASE_URL": url,
                                    "LETTERPRESS_BASE_URL": "https://lettre.example.org"})


def test_backup_mid_send_restored_into_an_empty_project_resumes_the_run(
        project, add_subscribers, rendered, tmp_path, new_db_url, new_project_dir, clock):
    emails = add_subscribers(60)
    with project.session() as session:
        run_id = prepare_run(session, rendered, "pvd", clock=clock).id
    snapshot = tmp_path / "mid-send.backup"

    def back_up_at_the_25th(mail_from, recipients, data):
        if len(transport.messages) == 24:
            backup(project.settings.database_url, snapshot)

    transport = MemoryTransport(fail=back_up_at_the_25th)
    send_run(project, run_id, transport, rendered=rendered, batch_size=5)
    assert snapshot.is_file() and len(transport.messages) == 60

    new_dir = new_project_dir()
    report = restore(new_db_url, snapshot, clock=clock, journal=new_dir / "erasures.jsonl")
    assert report.erased_again == 0
    env = {"LETTERPRESS_DATABASE_URL": new_db_url,
           "LETTERPRESS_BASE_URL": "https://lettre.example.org"}
    restored = Project(load_settings(new_dir, env), clock)
    try:
        with restored.session() as session:
            states = dict(session.execute(
                select(Delivery.state, func.count()).where(Delivery.run_id == run_id)
                .group_by(Delivery.state)).all())
            sent_before = set(session.scalars(select(Delivery.email).where(
                Delivery.run_id == run_id, Delivery.state == "sent")))
        assert 15 <= len(sent_before) < 60 and states.get("queued", 0) > 0
        again = MemoryTransport()
        result = send_run(restored, run_id, again, rendered=rendered, batch_size=5)
        received = {r for m in again.messages for r in m.recipients}
        assert not received & sent_before, "a reader recorded as sent got it twice"
        assert len(received) == states["queued"]
        with restored.session() as session:
            left = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.run_id == run_id, Delivery.state.in_(["queued", "sending"])))
            run = session.get(SendRun, run_id)
            assert left == 0 and run.state in ("done", "paused"), (run.state, run.message)
            assert run.lease_owner is None or run.lease_owner != "?"
        assert result is not None
        assert sent_before | received | set(emails) == set(emails)
    finally:
        restored.close()


def test_a_restore_never_brings_back_someone_erased_after_the_backup(
        project, add_subscribers, project_dir, db_url, new_db_url, new_project_dir, tmp_path):
    add_subscribers(3)
    old = _cli(project_dir, db_url)
    archive = tmp_path / "lundi.backup"
    assert "backup written" in old("db", "backup", str(archive)).output
    old("subscribers", "forget", "lecteur0001@example.org", "--yes")

    # On a new server, with the project files (and their erasure journal), an empty database.
    new_dir = new_project_dir()
    new = _cli(new_dir, new_db_url)
    out = new("db", "restore", str(archive)).output
    assert "1 people erased again" in out
    listed = new("subscribers", "list").output
    assert "lecteur0001@example.org" not in listed and "lecteur0002@example.org" in listed
    shown = new("subscribers", "export-person", "lecteur0001@example.org").output
    assert '"email": null' in shown and "erased" in shown
    again = new("subscribers", "add", "lecteur0001@example.org", ok=False)
    assert again.exit_code == 1 and "erased" in again.stderr

    refused = new("db", "restore", str(archive), ok=False)
    assert refused.exit_code == 1 and "not empty" in refused.stderr


def test_a_restore_into_a_project_without_the_old_key_says_to_copy_it(
        project, add_subscribers, rendered, project_dir, db_url, new_db_url, new_project_dir,
        tmp_path, clock):
    """The backup holds the database only: restored beside a new key, every unsubscribe link
    already mailed would answer 404.  The restore says so, and keeps no new key."""
    add_subscribers(2)
    with project.session() as session:
        run_id = prepare_run(session, rendered, "pvd", clock=clock).id
    send_run(project, run_id, MemoryTransport(), rendered=rendered)
    archive = tmp_path / "envoye.backup"
    _cli(project_dir, db_url)("db", "backup", str(archive))

    new_dir = new_project_dir()
    (new_dir / ".letterpress-secret").unlink()  # the project files, but not the key
    new = _cli(new_dir, new_db_url)
    refused = new("db", "restore", str(archive), ok=False)
    assert refused.exit_code == 1 and "restored" in refused.output
    assert ".letterpress-secret is missing, but this database has sent 1 run(s)" in refused.stderr
    assert "Copy .letterpress-secret from the old project's files" in refused.stderr
    assert not (new_dir / ".letterpress-secret").exists()
    # With the old key copied, the restored project answers the mailed links.
    shutil.copy(project_dir / ".letterpress-secret", new_dir / ".letterpress-secret")
    assert "lecteur0000@example.org" in new("subscribers", "list").output


def test_restoring_over_the_same_database_keeps_its_erasures(
        project, add_subscribers, project_dir, db_url, tmp_path):
    add_subscribers(2)
    old = _cli(project_dir, db_url)
    archive = tmp_path / "avant.backup"
    old("db", "backup", str(archive))
    old("subscribers", "forget", "lecteur0000@example.org", "--yes")
    (project_dir / "erasures.jsonl").unlink()  # even without the journal
    project.close()
    old("db", "restore", "--force", str(archive))
    with project.session() as session:
        assert session.scalar(select(Subscriber.id).where(
            Subscriber.email == "lecteur0000@example.org")) is None
        assert session.scalar(select(Suppression.reason).where(
            Suppression.email_hash == email_hash("lecteur0000@example.org"))) == "erased"


def test_a_backup_never_overwrites(project, add_subscribers, tmp_path):
    add_subscribers(1)
    path = tmp_path / "b.backup"
    backup(project.settings.database_url, path)
    with pytest.raises(BackupError):
        backup(project.settings.database_url, path)


def test_restoring_a_file_that_is_not_a_backup_is_refused_cleanly(project_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    lp = _cli(project_dir, url)
    not_a_backup = tmp_path / "contacts.csv"
    not_a_backup.write_text("email,nom\na@example.org,A\n", encoding="utf-8")
    result = lp("db", "restore", str(not_a_backup), "--force", ok=False)
    assert result.exit_code == 1
    assert "is not a letterpress backup" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_backup_taken_after_segments_were_used_restores(
        project, project_dir, db_url, new_db_url, new_project_dir, tmp_path):
    """Using a segment creates segment_values (a WITHOUT ROWID table on SQLite); SQLite
    3.40's integrity check misread it when its key columns were not declared first, and
    every backup from then on was refused as "not a sound SQLite database"."""
    csv = tmp_path / "elus.csv"
    csv.write_text("email,nom,role\na@example.org,A,elu\nb@example.org,B,agent\n",
                   encoding="utf-8")
    old = _cli(project_dir, db_url)
    old("subscribers", "import", str(csv), "--list", "pvd")
    assert old("subscribers", "count", "--where", "role = elu").output.splitlines()[-1] == "1"
    if db_url.startswith("sqlite"):
        with project.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA quick_check").scalar() == "ok"
    archive = tmp_path / "segments.backup"
    old("db", "backup", str(archive))
    new = _cli(new_project_dir(), new_db_url)
    new("db", "restore", str(archive))
    assert new("subscribers", "count", "--where", "role = elu").output.splitlines()[-1] == "1"


def test_a_restore_erases_again_who_the_retention_period_erased_not_who_came_back(
        project, project_dir, db_url, new_db_url, new_project_dir, tmp_path, clock):
    """People erased at the end of the retention period stay erased after restoring an
    older backup — without an objection, so they may subscribe again; and whoever did
    subscribe again after that erasure is kept by a restore of a later backup."""
    from datetime import UTC, datetime

    from letterpress.audience import Consent, ensure_lists, subscribe

    clock.set(datetime(2021, 3, 1, tzinfo=UTC))  # their last contact, long ago
    with project.session() as session:
        ensure_lists(session, project.settings)
        for name in ("ancien", "autre"):
            subscribe(session, f"{name}@example.org", list_name="pvd", clock=clock,
                      consent=Consent("form", "J'accepte"), status="active")
    old = _cli(project_dir, db_url)
    monday = tmp_path / "lundi.backup"
    old("db", "backup", str(monday))
    assert "2 person(s) erased" in old("subscribers", "retention", "--apply", "-y").output
    old("subscribers", "add", "ancien@example.org")  # back, with a new consent
    thursday = tmp_path / "jeudi.backup"
    old("db", "backup", str(thursday))

    new = _cli(new_project_dir(), new_db_url)
    assert "2 people erased again" in new("db", "restore", str(monday)).output
    listed = new("subscribers", "list", "--status", "all").output
    assert "example.org" not in listed
    # No objection: the erased may subscribe again.
    assert new("subscribers", "add", "autre@example.org").exit_code == 0
    again = new("db", "restore", "--force", str(thursday)).output
    assert "0 people erased again" in again
    listed = new("subscribers", "list", "--status", "all").output
    assert "ancien@example.org" in listed and "autre@example.org" not in listed
