"""The subscriber database on SQLite and PostgreSQL: addresses, statuses, events, suppression."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from letterpress.audience import (
    Consent,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
    confirm,
    count_by_status,
    count_recipients,
    email_hash,
    envelope_address,
    get_subscription,
    inactive_among,
    iter_recipients,
    mark_bounced,
    mark_complained,
    normalise_email,
    subscribe,
    unsubscribe,
    update_profile,
)
from letterpress.audience.service import change_status
from letterpress.errors import (
    InvalidEmail,
    InvalidTransition,
    SubscriberNotFound,
    Suppressed,
    UnknownList,
)

from .fixtures_audience import *  # noqa: F403 - fixtures

ADMIN = Consent("admin", text="asked at the annual meeting")
FORM = Consent("form", text="J'accepte de recevoir la lettre", ip="203.0.113.9", form_id="pvd-v1")


# --------------------------------------------------------------------------- addresses

@pytest.mark.parametrize("raw, expected", [
    ("Jean.Dupont@Example.ORG", "Jean.Dupont@example.org"),       # domain lower, local kept
    ("  claire@example.org \n", "claire@example.org"),
    ("cecile+lettre@example.org", "cecile+lettre@example.org"),    # plus-addressing kept
    ("zoe@BÜCHER.de", "zoe@bücher.de"),                            # IDN: Unicode form
    ("zoe@xn--bcher-kva.de", "zoe@bücher.de"),                     # ASCII form → same
    ("hélène@exemple.fr", "hélène@exemple.fr"),                    # internationalised local part
])
def test_normalise_email(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "pas-une-adresse", "a@b", "deux@@example.org",
                                 "x@example.org\r\nBcc: victim@example.org", "a b@example.org"])
def test_invalid_addresses_are_refused_with_a_reason(raw):
    with pytest.raises(InvalidEmail) as info:
        normalise_email(raw)
    assert info.value.reason


def test_envelope_address_uses_ascii_domain():
    assert envelope_address("zoe@bücher.de") == "zoe@xn--bcher-kva.de"
    assert envelope_address("a@example.org") == "a@example.org"


def test_one_subscriber_per_address_whatever_the_case(session, clock):
    subscribe(session, "Jean.Dupont@Example.org", list_name="pvd", consent=ADMIN, clock=clock)
    again = subscribe(session, "JEAN.DUPONT@example.ORG", list_name="pvd", consent=ADMIN,
                      clock=clock)
    subscribe(session, "jean.dupont@example.org", list_name="acv", consent=ADMIN, clock=clock)
    subscribe(session, "jean.dupont+acv@example.org", list_name="acv", consent=ADMIN, clock=clock)
    session.commit()
    emails = session.scalars(select(Subscriber.email).order_by(Subscriber.id)).all()
    assert emails == ["Jean.Dupont@example.org", "jean.dupont+acv@example.org"]
    assert again.subscriber.email == "Jean.Dupont@example.org"  # case kept for sending
    assert session.scalar(select(func.count()).select_from(Subscription)) == 3


def test_idn_spellings_are_one_subscriber(session, clock):
    subscribe(session, "zoe@xn--bcher-kva.de", list_name="pvd", consent=ADMIN, clock=clock)
    subscribe(session, "Zoe@BÜCHER.DE", list_name="pvd", consent=ADMIN, clock=clock)
    assert session.scalars(select(Subscriber.email)).all() == ["zoe@bücher.de"]


def test_database_refuses_a_second_row_with_the_same_key(session, clock):
    subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    session.commit()
    session.add(Subscriber(email="A@example.org", email_key="a@example.org", name="",
                           attributes={}, created_at=clock.now(), updated_at=clock.now()))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_unknown_list(session, clock):
    with pytest.raises(UnknownList) as info:
        subscribe(session, "a@example.org", list_name="nope", consent=ADMIN, clock=clock)
    assert "pvd" in info.value.known


# --------------------------------------------------------------------------- consent & statuses

def _events(session, sub):
    return [(e.old_status, e.new_status, e.actor, e.channel) for e in session.scalars(
        select(SubscriptionEvent).where(SubscriptionEvent.subscription_id == sub.id)
        .order_by(SubscriptionEvent.id))]


def test_consent_proof_is_kept(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock,
                    name="Anne", attributes={"commune": "Brest", "departement": "29"},
                    status="pending")
    session.commit()
    session.expire_all()
    sub = get_subscription(session, sub.id)
    assert sub.status == "pending"
    assert sub.consent_at == clock.now()
    assert (sub.consent_source, sub.consent_text, sub.consent_ip, sub.consent_form_id) == (
        "form", "J'accepte de recevoir la lettre", "203.0.113.9", "pvd-v1")
    assert sub.subscriber.attributes == {"commune": "Brest", "departement": "29"}
    assert sub.mailing_list.publication == "pvd"
    assert _events(session, sub) == [(None, "pending", "reader", "form")]


def test_double_opt_in_confirm(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock,
                    status="pending")
    assert count_recipients(session, "pvd") == 0
    clock.advance(hours=2)
    assert confirm(session, sub.id, clock=clock, ip="203.0.113.9") is True
    assert confirm(session, sub.id, clock=clock) is False  # second click: nothing to do
    assert sub.status == "active" and sub.confirmed_at == clock.now()
    assert count_recipients(session, "pvd") == 1
    assert _events(session, sub) == [(None, "pending", "reader", "form"),
                                     ("pending", "active", "reader", "confirm")]


def test_unsubscribe_is_immediate_idempotent_and_logged(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    clock.advance(days=30)
    assert unsubscribe(session, sub.id, channel="one-click", clock=clock) is True
    assert unsubscribe(session, sub.id, channel="page", clock=clock) is False
    assert sub.status == "unsubscribed"
    assert sub.unsubscribed_at == clock.now() and sub.unsubscribe_channel == "one-click"
    assert _events(session, sub) == [(None, "active", "admin", "admin"),
                                     ("active", "unsubscribed", "reader", "one-click")]
    assert count_recipients(session, "pvd") == 0
    assert count_recipients(session, "pvd", status="unsubscribed") == 1


def test_late_confirmation_click_does_not_reactivate(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock,
                    status="pending")
    unsubscribe(session, sub.id, channel="page", clock=clock)
    with pytest.raises(InvalidTransition):
        confirm(session, sub.id, clock=clock)
    assert sub.status == "unsubscribed"


def test_bounce_and_complaint(session, clock):
    a = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    b = subscribe(session, "b@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    assert mark_bounced(session, a.id, clock=clock, detail="550 5.1.1 no such user") is True
    assert mark_bounced(session, a.id, clock=clock, detail="again") is False
    assert mark_complained(session, b.id, clock=clock, detail="FBL report") is True
    assert mark_complained(session, b.id, clock=clock) is False
    assert (a.status, b.status) == ("bounced", "complained")
    assert session.scalars(select(SubscriptionEvent.detail).where(
        SubscriptionEvent.subscription_id == a.id).order_by(SubscriptionEvent.id)
    ).all() == ["", "550 5.1.1 no such user"]
    # a complaint after an unsubscribe is still recorded: it matters for the sender's reputation
    c = subscribe(session, "c@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    unsubscribe(session, c.id, channel="one-click", clock=clock)
    assert mark_complained(session, c.id, clock=clock) is True
    assert mark_bounced(session, c.id, clock=clock, detail="x") is False


def _statements(session):
    """The SQL the session's connection runs meanwhile (a list filled as it goes)."""
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute",
                 lambda conn, cursor, sql, *a: seen.append(sql.lower()))
    return seen


@pytest.mark.parametrize("stop", ["bounced", "complained", "status"])
def test_status_changes_never_read_the_past_events(session, clock, stop):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock,
                    status="pending")
    for _ in range(20):  # a long history: consent renewed many times
        subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock,
                  status="pending")
    session.commit()
    session.expire_all()
    seen = _statements(session)
    if stop == "bounced":
        assert mark_bounced(session, sub.id, clock=clock, detail="5.1.1") is True
    elif stop == "complained":
        assert mark_complained(session, sub.id, clock=clock) is True
    else:
        change_status(session, get_subscription(session, sub.id), "active", clock=clock,
                      actor="test", channel="admin")
        session.flush()
    reads = [sql for sql in seen if sql.lstrip().startswith("select")
             and "from subscription_events" in sql]
    assert reads == []
    assert any("insert into subscription_events" in sql for sql in seen)
    assert _events(session, sub)[-1][1] == {"status": "active"}.get(stop, stop)


@pytest.mark.parametrize("start, target, allowed", [
    ("pending", "active", True), ("pending", "unsubscribed", True),
    ("pending", "bounced", True), ("pending", "complained", True),
    ("active", "pending", False), ("active", "unsubscribed", True),
    ("active", "bounced", True), ("active", "complained", True),
    ("unsubscribed", "active", False), ("unsubscribed", "pending", False),
    ("unsubscribed", "bounced", False), ("unsubscribed", "complained", True),
    ("bounced", "active", False), ("bounced", "unsubscribed", False),
    ("bounced", "complained", True),
    ("complained", "active", False), ("complained", "unsubscribed", False),
    ("complained", "bounced", False), ("complained", "pending", False),
])
def test_status_machine(session, clock, start, target, allowed):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock,
                    status="pending" if start == "pending" else "active")
    if start not in ("pending", "active"):
        change_status(session, sub, start, clock=clock, actor="test", channel="admin")
    before = len(_events(session, sub))
    if allowed:
        change_status(session, sub, target, clock=clock, actor="test", channel="admin")
        session.flush()
        assert sub.status == target
        assert _events(session, sub)[-1] == (start, target, "test", "admin")
    else:
        with pytest.raises(InvalidTransition):
            change_status(session, sub, target, clock=clock, actor="test", channel="admin")
        session.flush()
        assert sub.status == start
        assert len(_events(session, sub)) == before


def test_status_check_constraint_in_the_database(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    session.commit()
    sub.status = "deleted"
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_missing_subscription(session, clock):
    with pytest.raises(SubscriberNotFound):
        unsubscribe(session, 999_999, channel="page", clock=clock)
    assert get_subscription(session, 999_999) is None


# --------------------------------------------------------------------------- suppression

def test_unsubscribed_address_is_not_readded_without_resubscribe(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    unsubscribe(session, sub.id, channel="one-click", clock=clock)
    with pytest.raises(Suppressed) as info:
        subscribe(session, "A@Example.org", list_name="pvd", consent=ADMIN, clock=clock)
    assert info.value.reason == "unsubscribed"
    assert sub.status == "unsubscribed"
    # the other list is not affected by an unsubscribe from this one
    other = subscribe(session, "a@example.org", list_name="acv", consent=ADMIN, clock=clock)
    assert other.status == "active"


def test_resubscribe_needs_and_records_new_consent(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock)
    unsubscribe(session, sub.id, channel="one-click", clock=clock)
    clock.advance(days=90)
    renewed = Consent("admin", text="phoned us on 1 April to come back")
    again = subscribe(session, "a@example.org", list_name="pvd", consent=renewed, clock=clock,
                      resubscribe=True)
    assert again.id == sub.id and again.status == "active"
    assert again.consent_at == clock.now() and again.consent_source == "admin"
    assert again.consent_text == "phoned us on 1 April to come back"
    assert again.consent_ip is None and again.unsubscribed_at is None
    last = session.scalars(select(SubscriptionEvent).where(
        SubscriptionEvent.subscription_id == sub.id).order_by(SubscriptionEvent.id.desc())).first()
    assert (last.old_status, last.new_status) == ("unsubscribed", "active")
    assert last.data["consent"]["text"] == "phoned us on 1 April to come back"
    assert last.data["cleared_suppression"] == ["unsubscribed"]
    assert session.scalar(select(func.count()).select_from(Suppression).where(
        Suppression.scope == "pvd")) == 0


def test_bounce_suppresses_on_every_list(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    mark_bounced(session, sub.id, clock=clock, detail="550 unknown user")
    with pytest.raises(Suppressed) as info:
        subscribe(session, "a@example.org", list_name="acv", consent=ADMIN, clock=clock)
    assert info.value.reason == "bounced"
    entry = session.scalars(select(Suppression)).one()
    assert entry.scope == "*" and entry.email_hash == email_hash("A@EXAMPLE.org")
    assert "a@example.org" not in entry.email_hash


def test_subscribing_an_active_address_updates_its_profile_only(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=FORM, clock=clock,
                    attributes={"commune": "Brest"})
    first_consent = sub.consent_at
    clock.advance(days=1)
    same = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock,
                     name="Anne", attributes={"role": "maire"})
    assert same.id == sub.id and same.consent_at == first_consent
    assert same.subscriber.name == "Anne"
    assert same.subscriber.attributes == {"commune": "Brest", "role": "maire"}
    assert len(_events(session, sub)) == 1


def test_update_profile(session, clock):
    sub = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock,
                    attributes={"commune": "Brest", "role": "maire"})
    update_profile(session, sub.subscriber_id, clock=clock, name="Anne B",
                   attributes={"commune": "Morlaix", "role": ""})
    assert sub.subscriber.name == "Anne B"
    assert sub.subscriber.attributes == {"commune": "Morlaix"}


# --------------------------------------------------------------------------- queries

def test_iter_recipients_pages_in_id_order_and_resumes(session, clock):
    ids = [subscribe(session, f"r{i:03}@example.org", list_name="pvd", consent=ADMIN,
                     clock=clock, name=f"R {i}").id for i in range(25)]
    unsubscribe(session, ids[3], channel="page", clock=clock)
    pending = subscribe(session, "p@example.org", list_name="pvd", consent=FORM, clock=clock,
                        status="pending")
    subscribe(session, "other@example.org", list_name="acv", consent=ADMIN, clock=clock)
    session.commit()
    got = list(iter_recipients(session, "pvd", batch_size=4))
    assert [r.subscription_id for r in got] == [i for i in ids if i != ids[3]]
    assert got[0].email == "r000@example.org" and got[0].name == "R 0"
    assert {r.list_id for r in got} == {got[0].list_id}
    resumed = list(iter_recipients(session, "pvd", batch_size=4, after_id=ids[10]))
    assert [r.subscription_id for r in resumed] == ids[11:]
    assert [r.email for r in iter_recipients(session, "pvd", status="pending")] == [
        "p@example.org"]
    assert pending.status == "pending"
    assert count_recipients(session, "pvd") == 24


def test_inactive_among(session, clock):
    a = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    b = subscribe(session, "b@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    c = subscribe(session, "c@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    session.commit()
    assert inactive_among(session, [a.id, b.id, c.id]) == set()
    unsubscribe(session, b.id, channel="one-click", clock=clock)
    mark_bounced(session, c.id, clock=clock, detail="550")
    session.commit()
    assert inactive_among(session, [a.id, b.id, c.id, 123456]) == {b.id, c.id, 123456}
    assert inactive_among(session, []) == set()
    many = list(range(1, 2500)) + [a.id]
    assert a.id not in inactive_among(session, many)


def test_count_by_status(session, clock):
    a = subscribe(session, "a@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    subscribe(session, "b@example.org", list_name="pvd", consent=ADMIN, clock=clock)
    subscribe(session, "c@example.org", list_name="acv-elus", consent=FORM, clock=clock,
              status="pending")
    unsubscribe(session, a.id, channel="mailto", clock=clock)
    counts = count_by_status(session)
    assert counts["pvd"] == {"active": 1, "unsubscribed": 1}
    assert counts["acv-elus"] == {"pending": 1}
    assert counts["acv"] == {}


def test_concurrent_subscribe_of_the_same_address(pg_url, settings, clock):
    """Two requests for one new address at once: the second finds the first's row."""
    import threading

    from sqlalchemy.orm import sessionmaker

    from letterpress.audience import ensure_lists
    from letterpress.db import open_database

    engine = open_database(pg_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as s:
        ensure_lists(s, settings)
        s.commit()
    first_flushed, let_first_commit = threading.Event(), threading.Event()

    def first():
        with factory() as s:
            subscribe(s, "same@example.org", list_name="pvd", consent=FORM, clock=clock,
                      status="pending")
            first_flushed.set()
            let_first_commit.wait(10)
            s.commit()

    thread = threading.Thread(target=first)
    thread.start()
    first_flushed.wait(10)
    with factory() as s:
        # our INSERT waits on the first transaction's unique key, then fails: we retry
        threading.Timer(0.5, let_first_commit.set).start()
        sub = subscribe(s, "Same@example.org", list_name="pvd", consent=FORM, clock=clock,
                        status="pending")
        s.commit()
        assert sub.subscriber.email == "same@example.org"
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 1
    thread.join()
    engine.dispose()


# --------------------------------------------------------------------------- schema

AUDIENCE_TABLES = {"subscribers", "mailing_lists", "subscriptions", "subscription_events",
                   "suppressions", "segment_values", "segment_attributes"}


def test_migration_matches_the_models(engine):
    """Migration 0001 and the models describe the same tables (no autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from letterpress.models import Base

    def table_of(diff):
        op = diff[0] if isinstance(diff, list) else diff
        for item in op[1:]:
            name = getattr(item, "name", None) if not isinstance(item, str) else item
            table = getattr(item, "table", None)
            if table is not None:
                return table.name
            if name in AUDIENCE_TABLES:
                return name
        return None

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if table_of(d) in AUDIENCE_TABLES]
    assert diffs == []


def test_public_names_exist():
    import importlib

    for name in ("letterpress.audience", "letterpress.audience.emails",
                 "letterpress.audience.models", "letterpress.audience.queries",
                 "letterpress.audience.service", "letterpress.audience.suppression",
                 "letterpress.audience.tokens", "letterpress.audience.csv_import",
                 "letterpress.audience.csv_export", "letterpress.audience.gdpr"):
        module = importlib.import_module(name)
        for public in module.__all__:
            assert hasattr(module, public), f"{name}.{public}"


# The fast path for plain ASCII addresses must agree with email-validator, whatever the input.
_ascii_local = "abcXYZ019.!#$%&'*+/=?^_`{|}~-\""
_ascii_domain = "abcXYZ019.-_"


def _both(address):
    from email_validator import EmailNotValidError, validate_email

    from letterpress.audience.emails import _plain_form

    fast = _plain_form(address)
    try:
        slow = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        slow = None
    return fast, slow


def test_plain_address_fast_path_agrees_with_email_validator():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    tlds = st.sampled_from(["org", "fr", "Test", "local", "COM", "x", "c0m", "museum",
                            "onion", "arpa", "bzh"])

    @settings(max_examples=3000, deadline=None)
    @given(st.text(_ascii_local, min_size=1, max_size=70),
           st.lists(st.text(_ascii_domain, min_size=1, max_size=70), min_size=1, max_size=3),
           tlds)
    def check(local, labels, tld):
        fast, slow = _both(f"{local}@{'.'.join(labels)}.{tld}")
        if fast is not None:  # the fast path decides only when it is sure
            assert fast == slow

    check()
    for address in ("Jean.Dupont@Example.ORG", "a@mairie-12.example.org", "x@y.test",
                    "a..b@x.org", "a@-x.org", "a@x_y.org", "a@xn--bcher-kva.de"):
        fast, slow = _both(address)
        assert fast is None or fast == slow


def test_unsubscribe_many_at_once_is_the_same_as_one_by_one(session, clock):
    """The form the one-click writer uses: several ids, the same statements for all."""
    subs = [subscribe(session, f"m{i}@example.org", list_name="pvd", consent=ADMIN,
                      clock=clock) for i in range(4)]
    unsubscribe(session, subs[3].id, channel="page", clock=clock)
    # An entry already there (kept by an import, say) stays as it is: no conflict.
    session.add(Suppression(email_hash=email_hash("m2@example.org"), scope="pvd",
                            reason="unsubscribed", created_at=clock.now()))
    session.flush()
    clock.advance(days=1)
    ids = [subs[0].id, subs[1].id, subs[0].id, subs[3].id, subs[2].id]
    seen = _statements(session)
    assert unsubscribe(session, ids, channel="one-click", clock=clock) == [
        True, True, False, False, True]
    # One UPDATE for every status (events and suppression entries go through the driver's
    # executemany or one unnest each, see audience.bulk).
    assert len([sql for sql in seen if sql.lstrip().startswith("update")]) == 1
    assert session.scalar(select(func.count()).select_from(Suppression).where(
        Suppression.reason == "unsubscribed")) == 4
    for sub in subs[:3]:
        assert (sub.status, sub.unsubscribe_channel, sub.unsubscribed_at) == (
            "unsubscribed", "one-click", clock.now())
        assert _events(session, sub)[-1] == ("active", "unsubscribed", "reader", "one-click")
        with pytest.raises(Suppressed):
            subscribe(session, sub.subscriber.email, list_name="pvd", consent=ADMIN,
                      clock=clock)
    assert subs[3].unsubscribe_channel == "page"
    assert unsubscribe(session, [], channel="one-click", clock=clock) == []
    with pytest.raises(SubscriberNotFound):
        unsubscribe(session, [subs[0].id, 999_999], channel="one-click", clock=clock)
