"""A list that stays healthy: one double opt-in reminder, expiry of unconfirmed sign-ups,
retention.  Every test runs on SQLite and PostgreSQL; mail goes to a real SMTP server."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from letterpress.audience import (
    Consent,
    TokenSigner,
    confirm,
    ensure_lists,
    find_subscriber,
    subscribe,
    unsubscribe,
)
from letterpress.audience.emails import email_key, key_hash
from letterpress.audience.health import erase_for_retention, retention_candidates
from letterpress.audience.models import ConsentArchive, Subscription, Suppression
from letterpress.cli import main
from letterpress.schedule.daemon import SchedulerDaemon
from letterpress.transports import SMTPTransport
from letterpress.web.reminders import sweep_pending_subscriptions

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp(smtp_server):
    return lambda _pub: SMTPTransport.from_url(smtp_server.url, pool=1)


def sign_up(project, email, *, list_name="pvd", status="pending"):
    with project.session() as session:
        ensure_lists(session, project.settings)
        sub = subscribe(session, email, list_name=list_name, clock=project.clock,
                        consent=Consent("form", "J'accepte", ip="192.0.2.7", form_id="pvd/subscribe"),
                        status=status)
        return sub.id


def status_of(project, subscription_id):
    with project.session() as session:
        sub = session.get(Subscription, subscription_id)
        return None if sub is None else (sub.status, sub.reminder_sent_at)


def test_one_reminder_after_48_hours_with_a_working_link(project, clock, smtp, smtp_server):
    clock.set(START)
    late = sign_up(project, "lent@example.org")
    clock.advance(hours=1)
    quick = sign_up(project, "rapide@example.org")
    with project.session() as session:
        confirm(session, quick, clock=clock)
    clock.set(START + timedelta(hours=47))
    assert sweep_pending_subscriptions(project, transport_factory=smtp).reminded == []
    clock.set(START + timedelta(hours=48, minutes=1))
    report = sweep_pending_subscriptions(project, transport_factory=smtp)
    assert report.reminded == ["lent@example.org"] and report.expired == []
    assert status_of(project, late) == ("pending", START + timedelta(hours=48, minutes=1))
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["lent@example.org"]
    assert "Rappel : confirmez votre inscription" in str(mail.message["Subject"])
    body = mail.message.get_body(("plain",)).get_content()
    token = re.search(r"/confirm/(\S+)", body).group(1)
    data = TokenSigner(project.settings.secret_keys).loads("confirm", token)
    with project.session() as session:
        assert session.get(Subscription, late).subscriber_id == data.subscriber_id
    # Only one reminder, ever.
    clock.advance(days=5)
    assert sweep_pending_subscriptions(project, transport_factory=smtp).reminded == []
    assert len(smtp_server.received) == 1


def test_failed_reminder_is_tried_again(project, clock, smtp_server):
    clock.set(START)
    sub_id = sign_up(project, "lent@example.org")
    clock.advance(hours=49)

    def broken(_pub):
        return SMTPTransport.from_url("smtp://127.0.0.1:9?tls=none", pool=1)

    report = sweep_pending_subscriptions(project, transport_factory=broken)
    assert report.reminded == [] and report.failed[0][0] == "lent@example.org"
    assert status_of(project, sub_id) == ("pending", None)
    ok = sweep_pending_subscriptions(
        project, transport_factory=lambda _p: SMTPTransport.from_url(smtp_server.url, pool=1))
    assert ok.reminded == ["lent@example.org"]


def test_pending_removed_after_30_days_consent_proof_kept(project, clock, smtp):
    clock.set(START)
    alone = sign_up(project, "jamais@example.org")
    both = sign_up(project, "deux@example.org", list_name="acv")
    sign_up(project, "deux@example.org", list_name="acv-elus", status="active")
    active = sign_up(project, "actif@example.org", status="active")
    clock.set(START + timedelta(days=29, hours=23))
    assert sweep_pending_subscriptions(project, transport_factory=smtp, dry_run=True).expired == []
    clock.set(START + timedelta(days=30, minutes=1))
    preview = sweep_pending_subscriptions(project, transport_factory=smtp, dry_run=True)
    assert sorted(preview.expired) == ["deux@example.org", "jamais@example.org"]
    assert status_of(project, alone)[0] == "pending"  # a dry run changes nothing
    report = sweep_pending_subscriptions(project, transport_factory=smtp)
    assert sorted(report.expired) == ["deux@example.org", "jamais@example.org"]
    assert report.reminded == []  # too old for a reminder: it expires instead
    assert status_of(project, alone) is None and status_of(project, both) is None
    assert status_of(project, active)[0] == "active"
    with project.session() as session:
        assert find_subscriber(session, "jamais@example.org") is None  # nothing personal left
        kept = find_subscriber(session, "deux@example.org")  # still on acv-elus
        assert [s.mailing_list.name for s in kept.subscriptions] == ["acv-elus"]
        archive = session.scalars(select(ConsentArchive).order_by(ConsentArchive.id)).all()
        assert [(a.list_name, a.reason) for a in archive] == [
            ("pvd", "pending-expired"), ("acv", "pending-expired")]
        first = archive[0]
        assert first.email_hash == key_hash(email_key("jamais@example.org"))
        assert (first.consent_source, first.consent_text, first.consent_ip,
                first.consent_form_id) == ("form", "J'accepte", "192.0.2.7", "pvd/subscribe")
        assert first.consent_at == START
        assert first.removed_at == START + timedelta(days=30, minutes=1)
        assert "jamais" not in repr(first.__dict__)
    # They may sign up again afterwards.
    assert sign_up(project, "jamais@example.org") is not None


def test_the_daemon_runs_the_sweep(project, clock, smtp_server):
    clock.set(START)
    sign_up(project, "lent@example.org")
    clock.advance(hours=49)
    transport = SMTPTransport.from_url(smtp_server.url, pool=1)
    daemon = SchedulerDaemon(project, threading.Event(), transport_factory=lambda: transport)
    daemon.list_health()
    assert [m.rcpt_tos for m in smtp_server.received] == [["lent@example.org"]]


# --------------------------------------------------------------------------- retention

def test_retention_lists_and_erases_people_past_the_period(project, clock):
    clock.set(datetime(2021, 1, 10, tzinfo=UTC))
    old = sign_up(project, "ancien@example.org", status="active")
    left = sign_up(project, "parti@example.org", status="active")
    sign_up(project, "revenu@example.org", status="active")
    clock.set(datetime(2022, 6, 1, tzinfo=UTC))
    with project.session() as session:
        unsubscribe(session, left, channel="one-click", clock=clock)
        # An administrator's change is not the person's own contact.
        unsubscribe(session, old, channel="admin", clock=clock, actor="admin")
        subscribe(session, "ancien@example.org", list_name="pvd", clock=clock,
                  consent=Consent("admin", "remis"), resubscribe=True)
    clock.set(datetime(2023, 12, 1, tzinfo=UTC))
    sign_up(project, "revenu@example.org", list_name="acv", status="active")
    clock.set(datetime(2025, 3, 1, tzinfo=UTC))
    with project.read_session() as session:
        people = retention_candidates(session, now=clock.now(), days=1095)
    # Every consent counts as contact (ancien's renewed one too, 2022-06-01): nobody yet.
    assert [p.email for p in people] == []
    clock.set(datetime(2025, 6, 2, tzinfo=UTC))
    with project.read_session() as session:
        people = retention_candidates(session, now=clock.now(), days=1095)
    assert [(p.email, p.last_contact.date().isoformat()) for p in people] == [
        ("ancien@example.org", "2022-06-01"), ("parti@example.org", "2022-06-01")]
    with project.session() as session:
        for person in people:
            erase_for_retention(session, person.email, clock=clock)
    with project.session() as session:
        assert find_subscriber(session, "ancien@example.org") is None
        assert find_subscriber(session, "revenu@example.org") is not None
        hashes = {(s.email_hash, s.scope, s.reason) for s in session.scalars(select(Suppression))}
    parti = key_hash(email_key("parti@example.org"))
    ancien = key_hash(email_key("ancien@example.org"))
    assert (parti, "pvd", "unsubscribed") in hashes  # the objection stays honoured
    assert not any(h == ancien and scope == "*" for h, scope, _r in hashes)  # no new objection
    assert sign_up(project, "ancien@example.org") is not None  # may subscribe again


def test_retention_keeps_a_bounce_a_bounce(project, clock):
    """The erasure raises an existing entry to "erased" (an objection); retention must not:
    a bounced address stays suppressed as bounced, nothing more."""
    from letterpress.audience.suppression import suppress

    clock.set(datetime(2021, 1, 10, tzinfo=UTC))
    sign_up(project, "ancien@example.org", status="active")
    digest = key_hash(email_key("ancien@example.org"))
    with project.session() as session:
        suppress(session, digest, scope="*", reason="bounced", at=clock.now())
        suppress(session, digest, scope="pvd", reason="complained", at=clock.now())
    clock.set(datetime(2025, 6, 2, tzinfo=UTC))
    with project.session() as session:
        erase_for_retention(session, "ancien@example.org", clock=clock)
    with project.session() as session:
        assert find_subscriber(session, "ancien@example.org") is None
        entries = {(s.scope, s.reason) for s in session.scalars(
            select(Suppression).where(Suppression.email_hash == digest))}
    assert entries == {("*", "bounced"), ("pvd", "complained")}


@pytest.fixture
def lp(project_dir, project_env):
    runner = CliRunner(env=project_env)

    def run(*args, code=0, input=None):
        result = runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False,
                               input=input)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return run


def test_retention_command_reports_then_applies_never_silently(project, clock, lp):
    clock.set(datetime.now(UTC) - timedelta(days=1200))
    sign_up(project, "ancien@example.org", status="active")
    clock.set(datetime.now(UTC))
    sign_up(project, "recent@example.org", status="active")
    report = lp("subscribers", "retention").stdout
    assert "ancien@example.org\tlast contact" in report and "recent@" not in report
    assert "1 person(s) with no own contact for more than 1095 days." in report
    assert "Nothing changed" in report
    with project.session() as session:
        assert find_subscriber(session, "ancien@example.org") is not None
    # The hint repeats the period asked for: the default would erase other people.
    longer = lp("subscribers", "retention", "--days", "1150").stdout
    assert longer.strip().endswith("letterpress subscribers retention --apply --days 1150")
    for contradiction in (("--report", "--apply"), ("--report", "-y")):
        assert "Usage" in lp("subscribers", "retention", *contradiction, code=2).stderr
    lp("subscribers", "retention", "--apply", input="n\n", code=1)  # asked, refused
    applied = lp("subscribers", "retention", "--apply", "--yes").stdout
    assert "ancien@example.org: erased" in applied
    with project.session() as session:
        assert find_subscriber(session, "ancien@example.org") is None
        assert session.scalar(select(func.count()).select_from(Subscription)) == 1


def test_sweep_pending_command_dry_run(project, clock, lp):
    clock.set(datetime.now(UTC) - timedelta(days=31))
    sign_up(project, "jamais@example.org")
    out = lp("subscribers", "sweep-pending", "--dry-run").stdout
    assert "jamais@example.org: pending subscription would be removed" in out
    assert out.strip().endswith("0 reminder(s) sent, 1 pending subscription(s) removed")
    out = lp("subscribers", "sweep-pending").stdout
    assert "jamais@example.org: pending subscription was removed" in out


def test_retention_warns_about_people_an_import_brought_in_recently(project, lp, tmp_path):
    """Right after a migration, the last contact of everyone imported is the consent date
    their file gave: the report lists them, and warns that this project could not have
    seen a contact since."""
    moved = tmp_path / "ancien-outil.csv"
    moved.write_text("email,status,consent_at,consent_source\n"
                     "migre@example.org,active,2021-01-05T10:00:00+00:00,form\n",
                     encoding="utf-8")
    lp("subscribers", "import", str(moved), "-q")
    result = lp("subscribers", "retention")
    since = datetime.now(UTC).date().isoformat()
    assert ("migre@example.org\tlast contact 2021-01-05\tpvd\tin this project since "
            f"{since}\n") in result.stdout
    assert ("Warning: 1 of them came into this project less than 1095 days ago (an import)"
            in result.stderr)


def test_retention_gives_no_warning_for_people_known_here_for_the_whole_period(project,
                                                                               clock, lp):
    clock.set(datetime.now(UTC) - timedelta(days=1200))
    sign_up(project, "ancien@example.org", status="active")
    result = lp("subscribers", "retention")
    assert "ancien@example.org\tlast contact" in result.stdout
    assert "in this project since" not in result.stdout and "Warning" not in result.stderr
