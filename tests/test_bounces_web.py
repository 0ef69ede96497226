"""Relay webhooks (Brevo, Mailjet) with payloads shaped as their documentation shows, and the
bounces CLI over the same world."""

from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from letterpress.audience.models import Subscription
from letterpress.bounces import BounceRecord
from letterpress.cli import main
from letterpress.delivery.models import Delivery
from letterpress.web import create_app

from .fixtures_bounces import *  # noqa: F403 - fixtures
from .fixtures_bounces import DATA

SECRET = "w3bh00k-secret-0123456789"


@pytest.fixture
def project_env(db_url):
    return {"LETTERPRESS_DATABASE_URL": db_url, "LETTERPRESS_SECRET_KEY": "fixture-key",
            "LETTERPRESS_BASE_URL": "https://lettre.example.org",
            "LETTERPRESS_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def client(project, world):
    app = create_app(project)
    app.config["TESTING"] = True
    return app.test_client()


def _status(project, delivery_id):
    with project.session() as session:
        delivery = session.get(Delivery, delivery_id)
        return session.get(Subscription, delivery.subscription_id).status


# Shaped as the example of Brevo's transactional webhook documentation (hard_bounce, spam).
def brevo(event, email, message_id, **extra):
    return {"event": event, "email": email, "id": 26224, "date": "2026-03-02 10:00:00",
            "ts": 1772442000, "message-id": message_id, "ts_event": 1772442000,
            "subject": "Lettre d'information n°42", "tag": "", "sending_ip": "185.41.28.109",
            "ts_epoch": 1772442000223, "tags": [], **extra}


# Shaped as the examples of Mailjet's Event API documentation (bounce, spam, blocked).
def mailjet(event, email, **extra):
    return {"event": event, "time": 1772442000, "MessageID": 13792286917004336,
            "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j", "email": email,
            "mj_campaign_id": 7257, "mj_contact_id": 4, "customcampaign": "", "CustomID": "",
            "Payload": "", **extra}


def test_brevo_hard_bounce_with_the_secret_in_the_path(project, client):
    response = client.post(f"/webhooks/brevo/{SECRET}", json=brevo(
        "hard_bounce", "nobody-here@lettres.example.org", "<fixture-1@lettres.example.org>",
        reason="550 5.1.1 user unknown"))
    assert response.status_code == 200, response.data
    assert _status(project, 1) == "bounced"
    with project.session() as session:
        assert session.get(Delivery, 1).async_outcome == "hard"
    # The relay retries: nothing happens twice.
    again = client.post(f"/webhooks/brevo/{SECRET}", json=brevo(
        "hard_bounce", "nobody-here@lettres.example.org", "<fixture-1@lettres.example.org>",
        reason="550 5.1.1 user unknown"))
    assert b"1 already known" in again.data
    with project.session() as session:
        assert len(session.scalars(select(BounceRecord)).all()) == 1


def test_brevo_spam_is_a_complaint_and_soft_bounce_a_score(project, client):
    client.post(f"/webhooks/brevo/{SECRET}", json=brevo(
        "spam", "plaignant@example.org", "<fixture-arf@lettres.example.org>"))
    assert _status(project, 5) == "complained"
    client.post(f"/webhooks/brevo/{SECRET}", json=brevo(
        "soft_bounce", "full@quota.example.org", "<fixture-3@lettres.example.org>",
        reason="mailbox full"))
    assert _status(project, 3) == "active"
    client.post(f"/webhooks/brevo/{SECRET}", json=brevo(
        "opened", "lectrice@gmail.example.org", "<fixture-policy@lettres.example.org>"))
    assert _status(project, 6) == "active"


def test_mailjet_grouped_events_with_basic_auth(project, client):
    auth = base64.b64encode(f"mailjet:{SECRET}".encode()).decode()
    events = [
        mailjet("bounce", "jean.inconnu@lettres.example.org", blocked=False, hard_bounce=True,
                error_related_to="recipient", error="user unknown"),
        mailjet("spam", "plaignant@example.org", source="JMRPP"),
        mailjet("bounce", "lectrice@gmail.example.org", blocked=False, hard_bounce=True,
                error_related_to="spam", error="sender blocked"),
    ]
    response = client.post("/webhooks/mailjet", json=events,
                           headers={"Authorization": f"Basic {auth}"})
    assert response.status_code == 200, response.data
    assert _status(project, 2) == "bounced"
    assert _status(project, 5) == "complained"
    assert _status(project, 6) == "active"  # a sender-side refusal never bounces a reader
    with project.session() as session:
        assert session.get(Delivery, 6).async_outcome == "policy"


def test_brevo_blocked_is_a_policy_refusal_and_the_reference_is_the_message_id(project, client):
    # "blocked": Brevo did not send; the reader is not at fault.  "id" is the webhook's id.
    response = client.post(f"/webhooks/brevo/{SECRET}", json=brevo(
        "blocked", "lectrice@gmail.example.org", "<fixture-policy@lettres.example.org>",
        reason="blocked : due to blacklist user"))
    assert response.status_code == 200, response.data
    assert _status(project, 6) == "active"
    with project.session() as session:
        assert session.get(Delivery, 6).async_outcome == "policy"
        record = session.scalars(select(BounceRecord)).one()
    assert record.source_ref == "<fixture-policy@lettres.example.org>"
    assert record.received_at.timestamp() == 1772442000


def test_brevo_event_time_falls_back_to_ts_epoch_in_milliseconds(project, client):
    event = brevo("hard_bounce", "nobody-here@lettres.example.org",
                  "<fixture-1@lettres.example.org>", ts_epoch=1772445600000)
    del event["ts_event"]
    client.post(f"/webhooks/brevo/{SECRET}", json=event)
    with project.session() as session:
        record = session.scalars(select(BounceRecord)).one()
    assert record.received_at.timestamp() == 1772445600


def test_mailjet_error_table(project, client):
    # Shaped as guides/_event-api.md: error_related_to and error from its error table.
    events = [
        # domain errors are the address's own: a hard bounce, not a sender problem
        mailjet("bounce", "personne@lettres.example.org", blocked=True, hard_bounce=True,
                error_related_to="domain", error="invalid domain"),
        # preblocked: Mailjet did not even try an address that recently bounced
        mailjet("blocked", "full@quota.example.org", error_related_to="mailjet",
                error="preblocked"),
        # content blocked by an anti-spam filter: the sender's problem
        mailjet("blocked", "lectrice@gmail.example.org", error_related_to="spam",
                error="content blocked"),
        mailjet("unsub", "jean.inconnu@lettres.example.org", mj_list_id=1, ip="127.0.0.1",
                geo="FR", agent="Mozilla/5.0"),
    ]
    response = client.post(f"/webhooks/mailjet/{SECRET}", json=events)
    assert response.status_code == 200, response.data
    assert _status(project, 4) == "bounced"
    assert _status(project, 3) == "active"
    assert _status(project, 6) == "active"
    assert _status(project, 2) == "active"
    with project.session() as session:
        assert session.get(Delivery, 4).async_outcome == "hard"
        assert session.get(Delivery, 3).async_outcome == "soft"
        assert session.get(Delivery, 6).async_outcome == "policy"
        refs = {r.source_ref for r in session.scalars(select(BounceRecord))}
    assert refs == {"13792286917004336"}


@pytest.mark.parametrize("how", ["wrong path", "wrong basic", "no auth"])
def test_forged_webhooks_are_refused_and_change_nothing(project, client, how):
    body = brevo("hard_bounce", "nobody-here@lettres.example.org",
                 "<fixture-1@lettres.example.org>")
    if how == "wrong path":
        response = client.post("/webhooks/brevo/" + SECRET[:-1] + "x", json=body)
    elif how == "wrong basic":
        auth = base64.b64encode(b"brevo:guess").decode()
        response = client.post("/webhooks/brevo", json=body,
                               headers={"Authorization": f"Basic {auth}"})
    else:
        response = client.post("/webhooks/brevo", json=body)
    assert response.status_code in (401, 403)
    assert _status(project, 1) == "active"
    with project.session() as session:
        assert session.scalars(select(BounceRecord)).all() == []


def test_bad_payload_is_a_400(project, client):
    response = client.post(f"/webhooks/mailjet/{SECRET}", json={"hello": "world"})
    assert response.status_code == 400
    response = client.post(f"/webhooks/mailjet/{SECRET}", data=b"not json")
    assert response.status_code == 400


def test_webhooks_do_not_exist_without_a_secret(project_dir, db_url, clock, world):
    from letterpress.project import Project
    from letterpress.settings import load_settings

    plain = Project(load_settings(project_dir, {"LETTERPRESS_DATABASE_URL": db_url}), clock)
    try:
        app = create_app(plain)
        response = app.test_client().post("/webhooks/brevo/", json={})
        assert response.status_code == 404
        response = app.test_client().post("/webhooks/brevo", json={})
        assert response.status_code == 404
    finally:
        plain.close()


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def lp(project_dir, project_env):
    runner = CliRunner(env=project_env)

    def run(*args, input=None, code=0):
        result = runner.invoke(main, ["-C", str(project_dir), *args], input=input,
                               catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return run


def test_cli_ingest_list_show_and_the_hooks(project, world, lp):
    result = lp("bounces", "ingest", str(DATA / "postfix"))
    assert "3 hard" in result.stderr and "1 soft" in result.stderr
    lp("bounces", "ingest", "-", input=(DATA / "samples" / "policy-dmarc.eml").read_bytes())
    lp("bounces", "ingest", str(DATA / "samples" / "arf-abuse.eml"))
    listed = lp("bounces", "list", "--kind", "hard").output
    assert listed.count("hard") == 3 and "nobody-here@lettres.example.org" in listed
    with project.session() as session:
        record = session.scalars(select(BounceRecord).where(BounceRecord.delivery_id == 1)).one()
    shown = lp("bounces", "show", str(record.id)).output
    assert "5.1.1" in shown and "bounced and suppressed" in shown
    runs = lp("runs", "show", str(world["runs"]["pvd"])).output
    assert "3 hard bounces" in runs and "1 soft bounces" in runs
    assert "sender problem" in runs
    person = lp("subscribers", "show", "nobody-here@lettres.example.org").output
    assert "bounces and complaints:" in person and "hard 5.1.1" in person
    lp("bounces", "show", "999999", code=1)


def test_cli_dry_run_changes_nothing(project, world, lp):
    result = lp("bounces", "ingest", "--dry-run", str(DATA / "samples" / "arf-abuse.eml"))
    assert "complaint" in result.output
    with project.session() as session:
        assert session.scalars(select(BounceRecord)).all() == []


def test_cli_fetch_needs_a_mailbox(lp):
    result = lp("bounces", "fetch", code=2)
    assert "LETTERPRESS_BOUNCE_URL" in result.output + result.stderr


def test_settings_hide_the_mailbox_password_and_the_webhook_secret(project_dir, db_url):
    runner = CliRunner(env={"LETTERPRESS_DATABASE_URL": db_url,
                            "LETTERPRESS_BOUNCE_URL": "imaps://bounces:hunter2@mail/INBOX",
                            "LETTERPRESS_WEBHOOK_SECRET": SECRET})
    result = runner.invoke(main, ["-C", str(project_dir), "settings"])
    assert "imaps://bounces:***@mail/INBOX" in result.output
    assert "hunter2" not in result.output and SECRET not in result.output
