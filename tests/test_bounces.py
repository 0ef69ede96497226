"""Bounces and complaints: real Postfix DSNs, an ARF report, auto-replies, VERP, the score."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from letterpress.audience import SubscriptionEvent
from letterpress.audience.models import Subscription, Suppression
from letterpress.bounces import (
    BounceRecord,
    BounceScore,
    ingest,
    parse_verp,
    run_bounce_counts,
    verp_address,
)
from letterpress.bounces.verp import ForgedVerp
from letterpress.delivery.models import Delivery
from letterpress.project import Project
from letterpress.settings import BounceThresholds, load_settings

from .fixtures_bounces import *  # noqa: F403 - fixtures
from .fixtures_bounces import DATA, KEY
from .fixtures_delivery import *  # noqa: F403 - fixtures

POSTFIX = DATA / "postfix"
SAMPLES = DATA / "samples"


def _status(project, subscription_id):
    with project.session() as session:
        return session.get(Subscription, subscription_id).status


def _records(project):
    with project.session() as session:
        return session.scalars(select(BounceRecord).order_by(BounceRecord.id)).all()


# --------------------------------------------------------------------------- VERP

def test_verp_round_trip_and_forgery():
    address = verp_address("bounces@lettres.example.org", 1234, "k1")
    assert address.startswith("bounces+1234-") and address.endswith("@lettres.example.org")
    assert parse_verp(address, ["k1"]) == 1234
    assert parse_verp(address.upper(), ["k2", "k1"]) == 1234  # case-insensitive, rotated keys
    forged = address.replace("+1234-", "+1235-")
    assert isinstance(parse_verp(forged, ["k1"]), ForgedVerp)
    assert parse_verp("bounces@lettres.example.org", ["k1"]) is None


def test_each_delivery_gets_its_own_verp_return_path(project, rendered, add_subscribers):
    from letterpress.delivery import prepare_run, send_run
    from letterpress.transports import MemoryTransport

    add_subscribers(3)
    with project.session() as session:
        run_id = prepare_run(session, rendered, "pvd", clock=project.clock).id
    transport = MemoryTransport()
    send_run(project, run_id, transport, rendered=rendered)
    with project.session() as session:
        ids = {d.email: d.id for d in session.scalars(select(Delivery))}
    assert len(transport.messages) == 3
    for sent in transport.messages:
        assert sent.mail_from.endswith("@bounces.example.org")
        assert parse_verp(sent.mail_from, [KEY]) == ids[sent.recipients[0]]


def test_without_bounce_address_the_sender_is_unchanged(project_dir, db_url, clock, issue_path,
                                                        add_subscribers):
    from letterpress.content import load_issue
    from letterpress.delivery import prepare_run, send_run
    from letterpress.render import render_issue
    from letterpress.transports import MemoryTransport

    plain = Project(load_settings(project_dir, {"LETTERPRESS_DATABASE_URL": db_url}), clock)
    try:
        rendered = render_issue(load_issue(issue_path, plain.settings), plain.settings)
        add_subscribers(1)
        with plain.session() as session:
            run_id = prepare_run(session, rendered, "pvd", clock=clock).id
        transport = MemoryTransport()
        send_run(plain, run_id, transport, rendered=rendered)
        assert transport.messages[0].mail_from == plain.settings.publication("pvd").sender_email
    finally:
        plain.close()


# --------------------------------------------------------------------------- real Postfix DSNs

def test_postfix_unknown_user_dsn_is_a_hard_bounce(project, world):
    report = ingest(project, POSTFIX / "unknown-user-verp.eml")
    assert report.counts == {"hard": 1}
    (record,) = _records(project)
    assert (record.kind, record.status, record.delivery_id) == ("hard", "5.1.1", 1)
    assert 'unknown user: "nobody-here"' in record.diagnostic
    assert _status(project, world["subs"][1]) == "bounced"
    with project.session() as session:
        delivery = session.get(Delivery, 1)
        assert (delivery.async_outcome, delivery.async_status) == ("hard", "5.1.1")
        assert delivery.async_at is not None and "nobody-here" in delivery.async_detail
        event = session.scalars(select(SubscriptionEvent).where(
            SubscriptionEvent.new_status == "bounced")).one()
        # The event log says which message caused the change.
        assert record.message_id in event.detail and f"record #{record.id}" in event.detail
        assert event.channel == "bounce"
        assert session.scalar(select(func.count()).select_from(Suppression).where(
            Suppression.reason == "bounced", Suppression.scope == "*")) == 1


def test_plain_return_path_falls_back_to_the_message_id(project, world):
    report = ingest(project, POSTFIX / "unknown-user-plain.eml")
    assert report.counts == {"hard": 1}
    assert _records(project)[0].delivery_id == 4
    assert _status(project, world["subs"][4]) == "bounced"


def test_over_quota_adds_to_the_score_until_the_threshold(project, world):
    raw = (POSTFIX / "over-quota-verp.eml").read_bytes()
    sub = world["subs"][3]

    def bounce_again(n):
        with project.session() as session:
            from letterpress.bounces import process_bytes
            return process_bytes(session, raw.replace(b"Message-Id: <", f"Message-Id: <{n}-"
                                                      .encode()),
                                 settings=project.settings, clock=project.clock, source="test")

    assert bounce_again(0).kind == "soft"
    assert _status(project, sub) == "active"
    bounce_again(1)  # the same day: counted once (Mailman's rule)
    with project.session() as session:
        assert session.get(BounceScore, sub).score == 1.0
        assert session.get(Delivery, 3).async_status == "5.2.2"
    for day in range(1, 4):
        project.clock.advance(days=1)
        bounce_again(10 + day)
    assert _status(project, sub) == "active"  # 4 < 5
    project.clock.advance(days=1)
    bounce_again(20)
    assert _status(project, sub) == "bounced"
    with project.session() as session:
        event = session.scalars(select(SubscriptionEvent).where(
            SubscriptionEvent.new_status == "bounced")).one()
        assert "bounce score 5 reached 5" in event.detail


def test_a_stale_score_decays(project, world):
    raw = (POSTFIX / "over-quota-verp.eml").read_bytes()
    sub = world["subs"][3]
    from letterpress.bounces import process_bytes
    for n in range(4):
        with project.session() as session:
            process_bytes(session, raw + f"\n{n}".encode(), settings=project.settings,
                          clock=project.clock, source="test")
        project.clock.advance(days=1)
    project.clock.advance(days=10)  # longer than decay_days (7)
    with project.session() as session:
        process_bytes(session, raw + b"\nlater", settings=project.settings,
                      clock=project.clock, source="test")
        assert session.get(BounceScore, sub).score == 1.0
    assert _status(project, sub) == "active"


def test_thresholds_are_per_publication(project_dir, project_env, clock, world, project):
    from letterpress.bounces import process_bytes
    pubs = dict(project.settings.publications)
    pubs["pvd"] = replace(pubs["pvd"], bounces=BounceThresholds(score_threshold=1.0))
    strict = project.settings.with_overrides(publications=pubs)
    with project.session() as session:
        process_bytes(session, (POSTFIX / "over-quota-verp.eml").read_bytes(),
                      settings=strict, clock=clock, source="test")
    assert _status(project, world["subs"][3]) == "bounced"


def test_policy_rejection_never_bounces_the_reader(project, world):
    report = ingest(project, SAMPLES / "policy-dmarc.eml")
    assert report.counts == {"policy": 1}
    assert _status(project, world["subs"][6]) == "active"
    with project.session() as session:
        assert run_bounce_counts(session, world["runs"]["pvd"]) == {"policy": 1}
        assert session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert "sender problem" in _records(project)[0].action


def test_arf_complaint_unsubscribes_from_every_list_of_the_publication(project, world):
    report = ingest(project, SAMPLES / "arf-abuse.eml")
    assert report.counts == {"complaint": 1}
    with project.session() as session:
        rows = session.execute(select(Subscription.status, SubscriptionEvent.channel)
                               .join(SubscriptionEvent)
                               .where(SubscriptionEvent.new_status == "complained")).all()
        assert sorted(rows) == [("complained", "complaint"), ("complained", "complaint")]
        assert session.scalar(select(Suppression.reason).where(
            Suppression.scope == "*")) == "complained"
        assert session.get(Delivery, 5).async_outcome == "complaint"


@pytest.mark.parametrize("name", ["autoreply-rfc3834.eml", "autoreply-outlook.eml",
                                  "challenge-response.eml"])
def test_auto_replies_are_ignored(project, world, name):
    report = ingest(project, SAMPLES / name)
    assert report.counts == {"ignored": 1}
    with project.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.status != "active")) == 0


def test_non_standard_bounce_found_by_flufl_bounce(project, world):
    report = ingest(project, SAMPLES / "exim-non-rfc3464.eml")
    assert report.counts == {"hard": 1}
    record = _records(project)[0]
    assert (record.recipient, record.delivery_id) == ("ancien.agent@exim.example.org", 7)
    assert _status(project, world["subs"][7]) == "bounced"


def test_forged_verp_is_ignored_and_logged(project, world, caplog):
    raw = (POSTFIX / "unknown-user-verp.eml").read_bytes().replace(
        b"bounces+1-fd3dd7e0e0cb", b"bounces+2-fd3dd7e0e0cb")
    forged = project.settings.project_dir / "forged.eml"
    forged.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="letterpress.bounces"):
        report = ingest(project, forged)
    assert report.counts == {"ignored": 1}
    assert "forged VERP" in caplog.text
    assert _status(project, world["subs"][1]) == "active"
    assert _status(project, world["subs"][2]) == "active"
    assert _records(project)[0].delivery_id is None


def test_unknown_verp_delivery_is_ignored(project, world, caplog):
    raw = (POSTFIX / "unknown-user-verp.eml").read_bytes().replace(
        b"bounces+1-fd3dd7e0e0cb", verp_address("bounces@bounces.example.org", 999, KEY).split("@")[0]
        .encode())
    path = project.settings.project_dir / "unknown.eml"
    path.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="letterpress.bounces"):
        assert ingest(project, path).counts == {"ignored": 1}
    assert "names no delivery" in caplog.text
    assert _status(project, world["subs"][1]) == "active"


def test_unparsed_message_is_counted_and_kept(project, world):
    report = ingest(project, SAMPLES / "unparsable.eml")
    assert report.counts == {"unparsed": 1}
    assert (SAMPLES / "unparsable.eml").exists()


def test_ingesting_twice_changes_nothing(project, world):
    first = ingest(project, POSTFIX)
    assert first.counts == {"hard": 3, "soft": 1}
    with project.session() as session:
        events = session.scalar(select(func.count()).select_from(SubscriptionEvent))
    second = ingest(project, POSTFIX)
    assert (second.already, second.counts) == (4, {})
    with project.session() as session:
        assert session.scalar(select(func.count()).select_from(SubscriptionEvent)) == events
        assert session.get(BounceScore, world["subs"][3]).score == 1.0
    assert len(_records(project)) == 4


def test_mbox_and_stdin_sources(project, world, tmp_path):
    import io
    mbox = tmp_path / "bounces.mbox"
    with mbox.open("wb") as fh:
        for name in ("unknown-user-verp.eml", "unknown-user-verp-2.eml"):
            fh.write(b"From MAILER-DAEMON Mon Nov 30 07:22:47 2026\n")
            fh.write((POSTFIX / name).read_bytes().replace(b"\nFrom ", b"\n>From "))
            fh.write(b"\n")
    assert ingest(project, mbox).counts == {"hard": 2}
    stream = io.BytesIO((POSTFIX / "over-quota-verp.eml").read_bytes())
    assert ingest(project, stream).counts == {"soft": 1}


BOUNCE_TABLES = {"bounce_records", "bounce_scores", "deliveries"}


def test_migration_matches_the_models(engine):
    """Migration 0006 and the bounce models (and the ledger's new columns) agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from letterpress.models import Base

    def table_of(diff):
        op = diff[0] if isinstance(diff, list) else diff
        for item in op[1:]:
            table = getattr(item, "table", None)
            if table is not None:
                return table.name
            if isinstance(item, str) and item in BOUNCE_TABLES:
                return item
            name = getattr(item, "name", None)
            if name in BOUNCE_TABLES:
                return name
        return None

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if table_of(d) in BOUNCE_TABLES]
    assert diffs == []


def test_gdpr_erasure_reaches_the_bounce_records(project_dir, project_env, world, project):
    from click.testing import CliRunner

    from letterpress.cli import main

    ingest(project, POSTFIX / "unknown-user-verp.eml")
    result = CliRunner(env=project_env).invoke(
        main, ["-C", str(project_dir), "subscribers", "forget", "nobody-here@lettres.example.org",
               "--yes"])
    assert result.exit_code == 0, result.output
    with project.session() as session:
        record = session.scalars(select(BounceRecord)).one()
        assert record.recipient.startswith("erased:") and record.diagnostic == ""
        assert record.subscriber_id is None and record.kind == "hard"
        assert session.get(Delivery, 1).async_detail == ""


def test_junk_without_a_from_header_is_unparsed_quietly(capsys):
    """flufl.bounce's detectors trip over a message with no From: it is simply unparsed."""
    import email

    from letterpress.bounces.detect import detect

    assert detect(email.message_from_string("hello\n")).kind == "unparsed"
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out


def test_the_right_of_access_includes_the_ledger_and_the_bounce_records(project_dir,
                                                                        project_env, world,
                                                                        project):
    from click.testing import CliRunner

    from letterpress.cli import main

    ingest(project, POSTFIX / "unknown-user-verp.eml")
    result = CliRunner(env=project_env).invoke(
        main, ["-C", str(project_dir), "subscribers", "export-person",
               "nobody-here@lettres.example.org"])
    assert result.exit_code == 0, result.output
    held = json.loads(result.output)
    [delivery] = held["deliveries"]
    assert (delivery["issue"], delivery["address"], delivery["later"]) == (
        "pvd#42", "nobody-here@lettres.example.org", "hard")
    [bounce] = held["bounces"]
    assert (bounce["kind"], bounce["status"]) == ("hard", "5.1.1")
    assert 'unknown user: "nobody-here"' in bounce["diagnostic"]
