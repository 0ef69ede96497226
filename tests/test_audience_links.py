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


def _stop_record(session, subscription_id: int):
    """What a stop leaves of a subscription: its row, its events, its address's entries."""
    from letterpress.audience.emails import email_hash
    from letterpress.audience.models import Subscription, SubscriptionEvent, Suppression

    sub = session.get(Subscription, subscription_id)
    session.refresh(sub)
    events = [(e.old_status, e.new_status, e.actor, e.channel, e.detail, e.data, e.at)
              for e in session.scalars(select(SubscriptionEvent).where(
                  SubscriptionEvent.subscription_id == subscription_id)
                  .order_by(SubscriptionEvent.id))]
    entries = [(s.scope, s.reason, s.created_at) for s in session.scalars(
        select(Suppression).where(Suppression.email_hash == email_hash(sub.subscriber.email)))]
    return (sub.status, sub.unsubscribed_at, sub.unsubscribe_channel, sub.updated_at,
            events, sorted(entries))


def test_one_click_groups_stopped_in_one_statement_write_what_a_transaction_writes(
        engine, session, clock, settings, db_url):
    """PostgreSQL's one-statement stop of one-click links leaves the rows, events and
    suppression entries that the transaction of unsubscribe_links leaves, answers the same,
    and names nobody for erased, forged, foreign-key and unconfigured links."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the one-statement stop is PostgreSQL's")
    from letterpress.audience import mark_bounced
    from letterpress.audience.unsubscribing import unsubscribe_links, unsubscribe_links_at_once

    signer = TokenSigner(["k"])

    def reader(email, status="active"):
        sub = subscribe(session, email, list_name="pvd", consent=ADMIN, clock=clock,
                        status=status)
        session.commit()
        return sub

    def data(sub, key=None):
        return signer.loads("unsubscribe", signer.dumps(
            "unsubscribe", sub.subscriber_id, sub.list_id, key or sub.subscriber.link_key))

    pairs = [(reader(f"a{n}@example.org", status), reader(f"b{n}@example.org", status))
             for n, status in enumerate(("active", "pending"))]
    stopped_before = reader("deja@example.org")
    unsubscribe_links(session, [data(stopped_before)], publications=["pvd"],
                      channel="page", clock=clock)
    bounced = reader("rebond@example.org")
    mark_bounced(session, bounced.id, clock=clock, detail="5.1.1")
    gone = reader("efface@example.org")
    gone_data = data(gone)
    session.commit()
    forget(session, "efface@example.org", clock=clock)
    session.commit()
    before = {s.id: _stop_record(session, s.id) for s in (stopped_before, bounced)}
    clock.advance(60)

    tokens = [data(a) for a, _ in pairs] + [
        data(pairs[0][0]), data(stopped_before), data(bounced), gone_data, None,
        data(pairs[0][1], key="x" * 22)]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        answers = unsubscribe_links_at_once(conn, tokens, publications=["pvd"],
                                            channel="one-click", clock=clock)
        assert unsubscribe_links_at_once(conn, [data(pairs[1][1])], publications=["autre"],
                                         channel="one-click", clock=clock) == [None]
    assert answers == ["pvd"] * 5 + [None] * 3
    unsubscribe_links(session, [data(b) for _, b in pairs], publications=["pvd"],
                      channel="one-click", clock=clock)
    session.commit()
    for a, b in pairs:
        at_once, in_transaction = _stop_record(session, a.id), _stop_record(session, b.id)
        assert at_once == in_transaction
        assert at_once[0] == "unsubscribed" and at_once[2] == "one-click"
        assert at_once[4][-1][1:4] == ("unsubscribed", "reader", "one-click")
        assert at_once[5] == [("pvd", "unsubscribed", clock.now())]
    assert [_stop_record(session, a.id)[4][-1][0] for a, _ in pairs] == ["active", "pending"]
    # Already stopped, bounced: answered, left as they were.
    assert {s.id: _stop_record(session, s.id) for s in (stopped_before, bounced)} == before


def test_legacy_links_are_left_to_a_transaction(engine, session, clock, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("the one-statement stop is PostgreSQL's")
    from letterpress.audience.unsubscribing import unsubscribe_links_at_once

    sub = subscribe(session, "ancien@example.org", list_name="pvd", consent=ADMIN,
                    clock=clock)
    session.commit()
    signer = TokenSigner(["k"])
    legacy = signer.loads("unsubscribe", signer.dumps("unsubscribe", sub.subscriber_id,
                                                      sub.list_id))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert unsubscribe_links_at_once(conn, [legacy], publications=["pvd"],
                                         channel="one-click", clock=clock) is None
    session.refresh(sub)
    assert sub.status == "active"
