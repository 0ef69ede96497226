"""Link keys and never-reused ids in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.audience.gdpr import forget
from letterpress.audience.links import check_link
from letterpress.audience.models import Subscriber
from letterpress.audience.tokens import TokenSigner
from letterpress.db import make_engine, upgrade
from letterpress.errors import InvalidEmail, TokenError

from .fixtures_audience import *  # noqa: F403 - fixtures

ADMIN = Consent("admin", text="test")


def test_erased_ids_are_never_given_again(session, clock, settings):
    ensure_lists(session, settings)
    first = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    ids = (first.subscriber_id, first.id, first.list_id)
    session.commit()
    forget(session, "a@example.org", clock=clock)
    session.commit()
    second = subscribe(session, "b@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    assert second.subscriber_id > ids[0] and second.id > ids[1]
    signer = TokenSigner(["k"])
    old = signer.dumps("unsubscribe", ids[0], ids[2], first.subscriber.link_key)
    with pytest.raises(TokenError):
        check_link(session, signer, "unsubscribe", old)
    mine = signer.dumps("unsubscribe", second.subscriber_id, second.list_id,
                        second.subscriber.link_key)
    assert check_link(session, signer, "unsubscribe", mine).subscriber_id == second.subscriber_id


def test_bulk_inserted_subscribers_get_their_own_keys(session):
    now = datetime.now(UTC)
    session.execute(insert(Subscriber), [
        {"email": f"n{i}@example.org", "email_key": f"n{i}@example.org", "name": "",
         "attributes": {}, "created_at": now, "updated_at": now} for i in range(3)])
    keys = session.scalars(select(Subscriber.link_key)).all()
    assert len(set(keys)) == 3 and all(keys)


def test_the_migration_keeps_existing_people_and_stops_reusing_ids(tmp_path):
    """An existing SQLite database: rows survive the rebuild, with the legacy empty key."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0004_web")
    now = "2024-01-01 00:00:00.000000"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO mailing_lists (name, publication, created_at) "
                          "VALUES ('pvd', 'pvd', :now)"), {"now": now})
        for i in (1, 2):
            conn.execute(text(
                "INSERT INTO subscribers (email, email_key, name, attributes, created_at, "
                "updated_at) VALUES (:e, :e, '', '{}', :now, :now)"),
                {"e": f"p{i}@example.org", "now": now})
            conn.execute(text(
                "INSERT INTO subscriptions (subscriber_id, list_id, status, consent_at, "
                "consent_source, consent_text, created_at, updated_at) "
                "VALUES (:i, 1, 'active', :now, 'admin', '', :now, :now)"), {"i": i, "now": now})
            conn.execute(text(
                "INSERT INTO subscription_events (subscription_id, at, new_status, actor, "
                "channel, detail, data) VALUES (:i, :now, 'active', 'admin', 'admin', '', '{}')"),
                {"i": i, "now": now})
    upgrade(engine)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, email, link_key FROM subscribers ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "p1@example.org", ""), (2, "p2@example.org", "")]
        assert conn.scalar(text("SELECT count(*) FROM subscriptions")) == 2
        assert conn.scalar(text("SELECT count(*) FROM subscription_events")) == 2
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        conn.execute(text("DELETE FROM subscribers WHERE id = 2"))
        assert conn.scalar(text("SELECT count(*) FROM subscriptions")) == 1  # cascade kept
        conn.execute(text(
            "INSERT INTO subscribers (email, email_key, name, attributes, created_at, "
            "updated_at, link_key) VALUES ('p3@example.org', 'p3@example.org', '', '{}', "
            ":now, :now, 'k')"), {"now": now})
        assert conn.scalar(text("SELECT max(id) FROM subscribers")) == 3
    engine.dispose()


def test_addresses_needing_smtputf8_are_never_subscribed(session, clock, settings):
    ensure_lists(session, settings)
    with pytest.raises(InvalidEmail) as info:
        subscribe(session, "josé@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    assert "SMTPUTF8" in info.value.reason
    assert subscribe(session, "jose@bücher.de", list_name="pvd", consent=ADMIN,
                     clock=clock).status == "active"
