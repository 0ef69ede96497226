"""A link acts only on the person it was sent to, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from letterpress.audience.gdpr import forget
from letterpress.audience.models import Subscriber, Subscription, SubscriptionEvent
from letterpress.content import load_issue
from letterpress.delivery import prepare_run, send_run
from letterpress.render import render_issue
from letterpress.transports import MemoryTransport

from .fixtures_web import *  # noqa: F403 - the web fixtures
from .fixtures_web import csrf_from, status_of

LINK = re.compile(r"https?://[^\s<>\"]+/(u|p)/([A-Za-z0-9_.-]+)")


def _links_mailed_to(project, email: str) -> dict[str, str]:
    """Send issue #42 to the list and return the tokens of the letter ``email`` received."""
    issue = load_issue(Path(project.settings.issues_dir) / "2024-12-pvd-42.yaml",
                       project.settings)
    rendered = render_issue(issue, project.settings)
    with project.session() as session:
        run_id = prepare_run(session, rendered, "pvd", clock=project.clock).id
    transport = MemoryTransport()
    send_run(project, run_id, transport, rendered=rendered, batch_size=10)
    [sent] = transport.to(email)
    message = sent.message
    text = str(message["List-Unsubscribe"]) + "\n" + message.get_body(("plain",)).get_content()
    links = {kind: token for kind, token in LINK.findall(text)}
    assert set(links) == {"u", "p"}, text[:2000]
    return links


def test_an_erased_readers_links_never_act_on_the_next_subscriber(app, project, make_reader):
    """Reader gets a letter, is erased, someone else subscribes: the old links are dead."""
    first = make_reader("premier@example.org", name="Dominique")
    links = _links_mailed_to(project, first.email)
    with project.session() as session:
        forget(session, first.email, clock=project.clock)
    newcomer = make_reader("camille@example.org", name="Camille Lenouveau")
    assert newcomer.subscriber_id != first.subscriber_id  # ids are never reused
    assert newcomer.subscription_id != first.subscription_id

    client = app.test_client(use_cookies=False)
    one_click = client.post(f"/u/{links['u']}", data="List-Unsubscribe=One-Click",
                            content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 404
    assert status_of(project, newcomer.subscription_id) == "active"
    with project.session() as session:
        history = session.scalars(select(SubscriptionEvent.channel).where(
            SubscriptionEvent.subscription_id == newcomer.subscription_id)).all()
    assert "one-click" not in history

    page = client.get(f"/p/{links['p']}")
    assert page.status_code == 404
    body = page.get_data(as_text=True)
    assert "Camille" not in body and "c•••••@example.org" not in body
    edit = client.post(f"/p/{links['p']}", data={"name": "Pirate", "lists": []})
    assert edit.status_code in (400, 403, 404)
    with project.session() as session:
        assert session.get(Subscriber, newcomer.subscriber_id).name == "Camille Lenouveau"


def test_a_letter_links_still_work_for_its_reader(app, project, make_reader):
    reader = make_reader("fidele@example.org")
    links = _links_mailed_to(project, reader.email)
    client = app.test_client(use_cookies=False)
    assert client.get(f"/p/{links['p']}").status_code == 200
    response = client.post(f"/u/{links['u']}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200
    assert status_of(project, reader.subscription_id) == "unsubscribed"


def _count_statements(project):
    counted: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        # A lookup: a SELECT, or the WITH query that checks and stops one-clicks (PostgreSQL)
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            counted.append(statement)

    event.listen(project.engine, "before_cursor_execute", count)
    return counted, lambda: event.remove(project.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("purpose, path, method", [
    ("unsubscribe", "/u/", "get"),
    ("unsubscribe", "/u/", "one-click"),
    ("preferences", "/p/", "get"),
    ("confirm", "/confirm/", "get"),
    ("resubscribe", "/resubscribe/", "get"),
])
def test_erased_and_forged_tokens_get_the_same_answer_after_the_same_work(
        app, project, make_reader, signer, purpose, path, method):
    gone = make_reader("efface@example.org")
    erased = signer.dumps(purpose, gone.subscriber_id, gone.list_id, gone.link_key)
    with project.session() as session:
        forget(session, gone.email, clock=project.clock)
    forged = erased[:-3] + ("AAA" if not erased.endswith("AAA") else "BBB")
    stranger = signer.dumps(purpose, gone.subscriber_id, gone.list_id, "x" * 22)
    client = app.test_client(use_cookies=False)
    answers, work = [], []
    for token in (forged, erased, stranger):
        client.get("/healthz")  # warm every code path the same way
        statements, stop = _count_statements(project)
        try:
            if method == "one-click":
                response = client.post(path + token, data=b"List-Unsubscribe=One-Click")
            else:
                response = client.get(path + token)
        finally:
            stop()
        answers.append((response.status_code, response.get_data(), response.headers.get(
            "Content-Type")))
        work.append(len(statements))
    assert answers[0][0] == 404
    assert answers[0] == answers[1] == answers[2]
    assert work[0] == work[1] == work[2] >= 1


def test_legacy_tokens_work_only_for_the_row_they_were_issued_for(app, project, make_reader,
                                                                  signer, clock):
    """Links mailed before link keys existed: the migrated row (empty key) still honours
    them, but never a row created after the token was signed (an id reused before)."""
    old = make_reader("ancien@example.org")
    with project.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == old.subscriber_id)
                        .values(link_key=""))
    legacy = signer.dumps("preferences", old.subscriber_id, old.list_id)
    client = app.test_client(use_cookies=False)
    assert client.get(f"/p/{legacy}").status_code == 200
    # The same row, but created after the token was signed: issued to someone else.
    with project.session() as session:
        row = session.get(Subscriber, old.subscriber_id)
        row.created_at = datetime.now(UTC) + timedelta(hours=1)
    assert client.get(f"/p/{legacy}").status_code == 404
    # A keyed row never accepts the legacy form.
    fresh = make_reader("nouveau@example.org")
    legacy_fresh = signer.dumps("unsubscribe", fresh.subscriber_id, fresh.list_id)
    response = client.post(f"/u/{legacy_fresh}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 404
    assert status_of(project, fresh.subscription_id) == "active"


def test_every_subscriber_gets_a_distinct_random_key(app, project, make_reader):
    readers = [make_reader(f"k{i}@example.org") for i in range(5)]
    keys = {r.link_key for r in readers}
    assert len(keys) == 5 and all(len(k) >= 22 for k in keys)
    with project.session() as session:
        assert session.scalar(select(Subscription.id).where(
            Subscription.subscriber_id == readers[0].subscriber_id)) is not None


def test_the_form_refuses_an_address_it_could_never_mail(client, project, mailbox):
    """``josé@example.org``: a clear error on the form, no "mail sent", nothing stored."""
    page = client.get("/pvd/subscribe").get_data(as_text=True)
    response = client.post("/pvd/subscribe", data={
        "csrf_token": csrf_from(page), "email": "josé@example.org", "name": "",
        "consent": "yes"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "adresse électronique valide" in body
    assert mailbox.messages == []
    with project.session() as session:
        assert session.scalar(select(Subscriber.id)) is None


def test_a_legacy_one_click_still_unsubscribes_the_reader_it_was_mailed_to(
        app, project, make_reader, signer):
    """Links mailed before link keys are not checked by PostgreSQL's one-statement stop: they
    take the transaction, which still honours them."""
    old = make_reader("ancien@example.org")
    with project.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == old.subscriber_id)
                        .values(link_key=""))
    legacy = signer.dumps("unsubscribe", old.subscriber_id, old.list_id)
    response = app.test_client(use_cookies=False).post(
        f"/u/{legacy}", data=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200
    assert status_of(project, old.subscription_id) == "unsubscribed"
