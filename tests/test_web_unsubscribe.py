"""Unsubscribe pages through the app's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from letterpress.audience.gdpr import forget
from letterpress.audience.models import Subscription, SubscriptionEvent
from letterpress.web.security import CSP

from .fixtures_web import *  # noqa: F403 - the web fixtures
from .fixtures_web import csrf_from, status_of


def _token(signer, reader, purpose="unsubscribe"):
    return signer.dumps(purpose, reader.subscriber_id, reader.list_id, reader.link_key)


def test_one_click_urlencoded_without_cookies(app, project, reader, signer):
    token = _token(signer, reader)
    fresh = app.test_client(use_cookies=False)
    response = fresh.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                          content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "désinscrit" in response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert status_of(project, reader.subscription_id) == "unsubscribed"
    with project.session() as session:
        sub = session.get(Subscription, reader.subscription_id)
        assert sub.unsubscribe_channel == "one-click"


def test_one_click_without_content_type(app, project, reader, signer):
    fresh = app.test_client(use_cookies=False)
    response = fresh.post(f"/u/{_token(signer, reader)}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200
    assert status_of(project, reader.subscription_id) == "unsubscribed"


def test_one_click_multipart_and_idempotent(app, project, reader, signer):
    token = _token(signer, reader)
    fresh = app.test_client(use_cookies=False)
    for _ in range(2):
        response = fresh.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"},
                              content_type="multipart/form-data")
        assert response.status_code == 200
    assert status_of(project, reader.subscription_id) == "unsubscribed"
    with project.session() as session:
        events = session.scalars(select(SubscriptionEvent).where(
            SubscriptionEvent.subscription_id == reader.subscription_id,
            SubscriptionEvent.new_status == "unsubscribed")).all()
        assert len(events) == 1


def test_get_changes_nothing_and_masks_the_address(client, project, reader, signer):
    token = _token(signer, reader)
    for _ in range(3):  # a mail scanner opening the link several times
        response = client.get(f"/u/{token}")
        assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "d•••••@example.org" in page
    assert reader.email not in page
    assert "Lettre d&#39;information des Petites villes de demain" in page
    assert 'method="post"' in page
    assert status_of(project, reader.subscription_id) == "active"


def test_page_flow_with_reason_and_resubscribe(client, project, reader, signer):
    token = _token(signer, reader)
    page = client.get(f"/u/{token}").get_data(as_text=True)
    response = client.post(f"/u/{token}", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 200
    done = response.get_data(as_text=True)
    assert "Désinscription confirmée" in done
    assert "Se réabonner" in done
    assert status_of(project, reader.subscription_id) == "unsubscribed"
    with project.session() as session:
        assert session.get(Subscription, reader.subscription_id).unsubscribe_channel == "page"

    # The optional reason is kept in the event log; the status stays unsubscribed.
    csrf_reason = csrf_from(done.split('action="/u/')[1])
    response = client.post(f"/u/{token}/reason", data={"csrf_token": csrf_reason,
                                                       "reason": "too_many"})
    assert response.status_code == 200
    assert "Merci pour votre réponse" in response.get_data(as_text=True)
    with project.session() as session:
        reasons = [e.data.get("reason") for e in session.scalars(select(SubscriptionEvent).where(
            SubscriptionEvent.subscription_id == reader.subscription_id))]
        assert "too_many" in reasons

    # "Se réabonner": a new consent, recorded as such.
    resub_form = done.split('action="/resubscribe/')[1]
    resub_token = resub_form.split('"')[0]
    response = client.post(f"/resubscribe/{resub_token}",
                           data={"csrf_token": csrf_from(resub_form)})
    assert response.status_code == 200
    assert "Réabonnement confirmé" in response.get_data(as_text=True)
    with project.session() as session:
        sub = session.get(Subscription, reader.subscription_id)
        assert sub.status == "active"
        assert sub.consent_source == "form"
        assert sub.consent_form_id == "unsubscribe-page"
        assert "désinscription" in sub.consent_text


def test_page_post_without_csrf_is_refused(client, app, project, reader, signer):
    token = _token(signer, reader)
    response = client.post(f"/u/{token}", data={})
    assert response.status_code == 400
    other = app.test_client()
    page = other.get(f"/u/{token}").get_data(as_text=True)
    # A token taken from another browser (another cookie) does not work either.
    response = client.post(f"/u/{token}", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert status_of(project, reader.subscription_id) == "active"


def test_bad_tokens_reveal_nothing(app, project, make_reader, signer):
    alive = make_reader("alive@example.org")
    gone = make_reader("erased@example.org")
    good = _token(signer, alive)
    erased = _token(signer, gone)
    with project.session() as session:  # erasure (GDPR art. 17): the person's rows are gone
        forget(session, gone.email, clock=project.clock)
    unknown = signer.dumps("unsubscribe", 999_999, alive.list_id)
    wrong_purpose = _token(signer, alive, "confirm")
    altered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    bad = [altered, good[:-6], "x", good + "x", unknown, erased, wrong_purpose,
           "not.a.token"]
    client = app.test_client(use_cookies=False)
    bodies = set()
    for token in bad:
        for response in (client.get(f"/u/{token}"),
                         client.post(f"/u/{token}", data="List-Unsubscribe=One-Click",
                                     content_type="application/x-www-form-urlencoded")):
            assert response.status_code == 404, token
            bodies.add(response.get_data())
    assert len(bodies) == 1
    body = bodies.pop().decode()
    assert "alive" not in body and "erased" not in body
    assert status_of(project, alive.subscription_id) == "active"


def test_security_headers_everywhere(app, client, reader, signer):
    token = _token(signer, reader)
    for path in ("/healthz", "/pvd/subscribe", f"/u/{token}", "/u/forged", "/pvd/",
                 "/static/letterpress.css", "/theme/pvd.css", "/nowhere"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = app.test_client().get("/pvd/subscribe").headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_are_french_and_accessible(client, reader, signer):
    page = client.get(f"/u/{_token(signer, reader)}").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert 'class="skip"' in page
    assert "<script" not in page


def test_one_click_works_while_a_send_holds_write_transactions(app, project, make_reader,
                                                                 signer, db_url):
    readers = [make_reader(f"r{i}@example.org") for i in range(12)]
    writer = make_reader("writer@example.org")
    stop = threading.Event()
    errors: list[BaseException] = []

    def busy_writer():
        # What a send run does: short write transactions, back to back, on the same database.
        try:
            while not stop.is_set():
                with project.session() as session:
                    session.execute(text("UPDATE subscribers SET name = :n WHERE id = :id"),
                                    {"n": f"w{time.monotonic()}", "id": writer.subscriber_id})
                    time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=busy_writer)
    thread.start()
    try:
        client = app.test_client(use_cookies=False)
        for r in readers:
            response = client.post(f"/u/{_token(signer, r)}", data="List-Unsubscribe=One-Click",
                                   content_type="application/x-www-form-urlencoded")
            assert response.status_code == 200
    finally:
        stop.set()
        thread.join()
    assert not errors
    for r in readers:
        assert status_of(project, r.subscription_id) == "unsubscribed"


def test_a_real_send_run_survives_one_click_unsubscribes(app, project, signer, db_url):
    from datetime import UTC, datetime
    from pathlib import Path

    from sqlalchemy import insert

    from letterpress.audience.emails import email_key
    from letterpress.audience.models import MailingList, Subscriber
    from letterpress.content import load_issue
    from letterpress.delivery import prepare_run, send_run
    from letterpress.render import render_issue
    from letterpress.transports import MemoryTransport

    now = datetime.now(UTC)
    with project.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.name == "pvd"))
        session.execute(insert(Subscriber), [
            {"email": f"r{i}@example.org", "email_key": email_key(f"r{i}@example.org"),
             "name": "", "attributes": {}, "created_at": now, "updated_at": now}
            for i in range(400)])
        ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        keys = dict(session.execute(select(Subscriber.id, Subscriber.link_key)).all())
        session.execute(insert(Subscription), [
            {"subscriber_id": i, "list_id": list_id, "status": "active", "consent_at": now,
             "consent_source": "import", "consent_text": "", "created_at": now,
             "updated_at": now} for i in ids])
    issue = load_issue(Path(project.settings.issues_dir) / "2024-12-pvd-42.yaml",
                       project.settings)
    rendered = render_issue(issue, project.settings)
    with project.session() as session:
        run_id = prepare_run(session, rendered, "pvd", clock=project.clock).id
    transport = MemoryTransport()
    errors: list[BaseException] = []

    def sender():
        try:
            send_run(project, run_id, transport, rendered=rendered, batch_size=10)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=sender)
    thread.start()
    client = app.test_client(use_cookies=False)
    posted = []
    for subscriber_id in reversed(ids[-100:]):
        if not thread.is_alive():
            break
        token = signer.dumps("unsubscribe", subscriber_id, list_id, keys[subscriber_id])
        response = client.post(f"/u/{token}", data=b"List-Unsubscribe=One-Click")
        assert response.status_code == 200
        posted.append(subscriber_id)
    thread.join()
    assert not errors, errors
    received = [r for m in transport.messages for r in m.recipients]
    assert len(received) == len(set(received)), "someone got the issue twice"
    everyone = {f"r{i}@example.org" for i in range(400)}
    with project.session() as session:
        left = set(session.scalars(select(Subscriber.email).join(
            Subscription, Subscription.subscriber_id == Subscriber.id).where(
            Subscription.status == "unsubscribed")))
    assert len(left) == len(posted)
    assert everyone - left <= set(received), "a subscriber who stayed missed the issue"


@pytest.mark.parametrize("path", ["/p/", "/confirm/", "/resubscribe/"])
def test_other_token_pages_refuse_forged_tokens(client, path):
    response = client.get(path + "Wzk5OSwxXQ.forged.signature")
    assert response.status_code == 404


def test_forged_tokens_do_not_queue_for_the_write_lock(app, project, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("about SQLite's single writer")
    import sqlite3

    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a send run in the middle of a write
    try:
        client = app.test_client(use_cookies=False)
        started = time.monotonic()
        response = client.post("/u/WzEsMV0.forged.token", data=b"List-Unsubscribe=One-Click")
        assert response.status_code == 404
        assert time.monotonic() - started < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_crash_logs_no_token_and_shows_a_plain_page(app, reader, signer, monkeypatch,
                                                      caplog):
    import letterpress.web.unsubscribe as pages

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(pages, "unsubscribe_links", broken)
    monkeypatch.setattr(pages, "unsubscribe_links_at_once", broken)  # PostgreSQL's writer
    app.config["TESTING"] = False  # let Flask handle and log the error as in production
    token = _token(signer, reader)
    with caplog.at_level("ERROR"):
        response = app.test_client(use_cookies=False).post(
            f"/u/{token}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 500
    assert "Erreur" in response.get_data(as_text=True)
    assert "/u/…" in caplog.text
    assert token not in caplog.text


def test_concurrent_one_clicks_are_all_applied_each_answered_after_its_commit(
        app, project, make_reader, signer, db_url):
    """Many one-clicks at once go through the group-commit writer: every 200 is already
    visible to another connection (committed) when it arrives, and a token posted twice at
    the same moment unsubscribes once."""
    from sqlalchemy import create_engine

    readers = [make_reader(f"c{i}@example.org") for i in range(24)]
    tokens = [_token(signer, r) for r in readers]
    tokens += tokens[:4]  # the same links clicked twice at once
    observer = create_engine(db_url)  # another connection: sees only what is committed
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def click(token, reader):
        client = app.test_client(use_cookies=False)
        response = client.post(f"/u/{token}", data=b"List-Unsubscribe=One-Click")
        with observer.connect() as conn:
            status = conn.execute(text("SELECT status FROM subscriptions WHERE id = :id"),
                                  {"id": reader.subscription_id}).scalar()
        with lock:
            seen.append((response.status_code, status))

    pairs = list(zip(tokens, readers + readers[:4], strict=True))
    threads = [threading.Thread(target=click, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    observer.dispose()
    assert seen == [(200, "unsubscribed")] * len(pairs)
    with project.session() as session:
        events = session.scalars(select(SubscriptionEvent).where(
            SubscriptionEvent.new_status == "unsubscribed")).all()
        assert sorted(e.subscription_id for e in events) == sorted(
            r.subscription_id for r in readers)
        assert {(e.actor, e.channel, e.old_status) for e in events} == {
            ("reader", "one-click", "active")}
    writer = app.extensions["letterpress"].one_clicks
    assert writer.batches < len(pairs)  # some of them shared a transaction


def test_one_click_of_a_reader_erased_after_the_check_gets_the_forged_answer(
        app, project, make_reader, signer, monkeypatch):
    """The writer checks the binding again: a row gone since the token was verified gets the
    same 404 as a forged token, and the writer goes on with the next one."""
    import letterpress.web.unsubscribe as pages

    kept = make_reader("kept@example.org")
    gone = make_reader("gone@example.org")
    real_signed, real_named = pages.signed_token, pages.links_named

    def erase():
        with project.session() as session:
            forget(session, gone.email, clock=project.clock)

    def signed(*args, **kwargs):
        data = real_signed(*args, **kwargs)
        if data is not None and data.subscriber_id == gone.subscriber_id:
            erase()
        return data

    def screened(conn, tokens, **kwargs):
        named = real_named(conn, tokens, **kwargs)
        if any(t is not None and t.subscriber_id == gone.subscriber_id for t in tokens):
            erase()
        return named

    # Erased after the last check before the writer's: on SQLite the writer's screen, which
    # reads before the write lock (and still found the row); on PostgreSQL the signature.
    if project.engine.dialect.name == "sqlite":
        monkeypatch.setattr(pages, "links_named", screened)
    else:
        monkeypatch.setattr(pages, "signed_token", signed)
    client = app.test_client(use_cookies=False)
    refused = client.post(f"/u/{_token(signer, gone)}", data=b"List-Unsubscribe=One-Click")
    forged = client.post("/u/WzEsMV0.forged.token", data=b"List-Unsubscribe=One-Click")
    assert (refused.status_code, refused.get_data()) == (404, forged.get_data())
    response = client.post(f"/u/{_token(signer, kept)}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200
    assert status_of(project, kept.subscription_id) == "unsubscribed"


def test_one_clicks_go_on_after_the_database_dropped_every_connection(
        app, project, make_reader, signer):
    """A PostgreSQL restart or failover between two clicks: the writer's connection is dead
    (not pinged: it was in use a moment ago), the batch is written again on a new one, and
    the reader gets the 200 as usual."""
    if project.engine.dialect.name != "postgresql":
        pytest.skip("about server-side connections")
    first, second = make_reader("un@example.org"), make_reader("deux@example.org")
    client = app.test_client(use_cookies=False)
    assert client.post(f"/u/{_token(signer, first)}",
                       data=b"List-Unsubscribe=One-Click").status_code == 200
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    admin = create_engine(project.engine.url, poolclass=NullPool)
    with admin.connect() as conn:
        dropped = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert dropped >= 1
    response = client.post(f"/u/{_token(signer, second)}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200
    assert status_of(project, second.subscription_id) == "unsubscribed"
