"""GDPR erasure and access on both databases."""

import json

import pytest
from sqlalchemy import func, select, text

from letterpress.audience import (
    Consent,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
    email_hash,
    subscribe,
    unsubscribe,
)
from letterpress.audience.gdpr import export_person, forget
from letterpress.errors import SubscriberNotFound, Suppressed

from .fixtures_audience import *  # noqa: F403 - fixtures

FORM = Consent("form", text="J'accepte de recevoir la lettre", ip="203.0.113.9", form_id="pvd-v1")


def _people(session, clock):
    anne = subscribe(session, "Anne.Brest@example.org", list_name="pvd", consent=FORM, clock=clock,
                     name="Anne Le Goff", attributes={"commune": "Brest", "role": "maire"},
                     status="pending")
    subscribe(session, "anne.brest@example.org", list_name="acv", consent=Consent("admin"),
              clock=clock)
    subscribe(session, "bob@example.org", list_name="pvd", clock=clock,
              consent=Consent("form", text="J'accepte", ip="198.51.100.7"))
    unsubscribe(session, anne.id, channel="one-click", clock=clock)
    session.commit()
    return anne


def test_forget_leaves_only_the_hash(session, clock, engine):
    _people(session, clock)
    report = forget(session, "ANNE.BREST@example.org", clock=clock)
    session.commit()
    assert report.found and report.subscriptions == 2 and report.events == 3
    assert report.email_hash == email_hash("anne.brest@example.org")
    assert session.scalars(select(Subscriber.email)).all() == ["bob@example.org"]
    assert session.scalar(select(func.count()).select_from(Subscription)) == 1
    assert session.scalar(select(func.count()).select_from(SubscriptionEvent)) == 1
    rows = session.execute(select(Suppression.email_hash, Suppression.scope,
                                  Suppression.reason)).all()
    assert (report.email_hash, "*", "erased") in rows
    # nothing readable about her anywhere in the database
    session.commit()  # end the session's transaction: on SQLite it holds the write lock
    with engine.connect() as conn:
        for table in ("subscribers", "subscriptions", "subscription_events", "suppressions"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                dump = " ".join(str(v) for v in row).lower()
                assert "anne" not in dump and "203.0.113.9" not in dump and "brest" not in dump


def test_forgotten_address_cannot_come_back_silently(session, clock):
    _people(session, clock)
    forget(session, "anne.brest@example.org", clock=clock)
    for list_name in ("pvd", "acv", "acv-elus"):
        with pytest.raises(Suppressed) as info:
            subscribe(session, "Anne.Brest@Example.org", list_name=list_name,
                      consent=Consent("admin"), clock=clock)
        assert info.value.reason == "erased"
    # only an explicit resubscribe with new consent brings her back, on that list only
    sub = subscribe(session, "anne.brest@example.org", list_name="pvd", clock=clock,
                    consent=Consent("admin", text="wrote to ask to receive it again"),
                    resubscribe=True)
    assert sub.status == "active"
    assert "erased" in sub.events[0].detail
    with pytest.raises(Suppressed):
        subscribe(session, "anne.brest@example.org", list_name="acv", consent=Consent("admin"),
                  clock=clock)


def test_forget_an_unknown_address_still_records_the_objection(session, clock):
    report = forget(session, "never@example.org", clock=clock)
    assert not report.found
    with pytest.raises(Suppressed):
        subscribe(session, "never@example.org", list_name="pvd", consent=Consent("admin"),
                  clock=clock)


def test_forget_twice(session, clock):
    _people(session, clock)
    forget(session, "bob@example.org", clock=clock)
    again = forget(session, "bob@example.org", clock=clock)
    assert not again.found
    assert session.scalar(select(func.count()).select_from(Suppression).where(
        Suppression.email_hash == again.email_hash)) == 1


def test_export_person_contains_everything(session, clock):
    _people(session, clock)
    data = export_person(session, "anne.brest@EXAMPLE.org")
    json.dumps(data)  # JSON-ready
    assert data["email"] == "Anne.Brest@example.org" and data["name"] == "Anne Le Goff"
    assert data["attributes"] == {"commune": "Brest", "role": "maire"}
    by_list = {s["list"]: s for s in data["subscriptions"]}
    assert set(by_list) == {"pvd", "acv"}
    pvd = by_list["pvd"]
    assert pvd["status"] == "unsubscribed" and pvd["unsubscribe_channel"] == "one-click"
    assert pvd["consent"] == {"at": clock.now().isoformat(), "source": "form",
                              "text": "J'accepte de recevoir la lettre", "form_id": "pvd-v1",
                              "ip": "203.0.113.9"}
    assert [(e["from"], e["to"], e["channel"]) for e in pvd["events"]] == [
        (None, "pending", "form"), ("pending", "unsubscribed", "one-click")]
    assert by_list["acv"]["publication"] == "acv"
    assert data["suppressions"] == [{"scope": "pvd", "reason": "unsubscribed",
                                     "since": clock.now().isoformat()}]
    assert data["email_sha256"] == email_hash("anne.brest@example.org")


def test_export_person_after_erasure_and_unknown(session, clock):
    _people(session, clock)
    forget(session, "bob@example.org", clock=clock)
    data = export_person(session, "bob@example.org")
    assert data["email"] is None and data["suppressions"][0]["reason"] == "erased"
    with pytest.raises(SubscriberNotFound):
        export_person(session, "nobody@example.org")


def test_forget_calls_the_erasers_of_other_modules_first(session, clock):
    anne = _people(session, clock)
    seen = []

    def ledger_eraser(s, target):
        assert s is session
        seen.append(target)
        return 5

    report = forget(session, "anne.brest@example.org", clock=clock, erasers=[ledger_eraser])
    assert report.elsewhere == 5
    (target,) = seen
    assert target.email == "Anne.Brest@example.org" and target.subscriber_id == anne.subscriber_id
    assert anne.id in target.subscription_ids and len(target.subscription_ids) == 2
    assert target.email_hash == report.email_hash
