"""Double opt-in subscribe, confirm and preferences through the test client, on both databases."""

from __future__ import annotations

import re
import time

import itsdangerous.timed
from sqlalchemy import select

from letterpress.audience import find_subscriber
from letterpress.audience.models import Subscription

from .fixtures_web import *  # noqa: F403 - the web fixtures
from .fixtures_web import csrf_from, link_in, status_of


def _form(client, slug="pvd"):
    page = client.get(f"/{slug}/subscribe").get_data(as_text=True)
    return page, csrf_from(page)


def _post(client, email, *, consent=True, slug="pvd", **extra):
    _page, token = _form(client, slug)
    data = {"csrf_token": token, "email": email, "name": "", **extra}
    if consent:
        data["consent"] = "yes"
    return client.post(f"/{slug}/subscribe", data=data)


def _subscription(project, email, list_name="pvd"):
    with project.session() as session:
        subscriber = find_subscriber(session, email)
        if subscriber is None:
            return None
        for sub in subscriber.subscriptions:
            if sub.mailing_list.name == list_name:
                sub.attributes = dict(subscriber.attributes or {})  # read before detaching
                return sub
    return None


def test_form_has_notice_unticked_consent_and_attributes(client, project):
    page, _ = _form(client)
    pub = project.settings.publication("pvd")
    assert '<html lang="fr">' in page
    consent = re.search(r'<input type="checkbox" id="consent"[^>]*>', page).group(0)
    assert "checked" not in consent
    assert 'for="consent"' in page and 'for="email"' in page
    assert "CNIL" in page and "Informatique et libertés" in page
    assert "Base légale" in page
    assert "Commune" in page and 'name="attr_commune"' in page
    assert pub.subscribe.consent_text.replace("'", "&#39;") in page
    assert client.get("/subscribe").headers["Location"].endswith("/pvd/subscribe")
    assert client.get("/nope/subscribe").status_code == 404


def test_subscribe_records_pending_consent_and_mails_the_confirm_link(client, project, mailbox):
    response = _post(client, "Camille@Example.org", name="Camille", attr_commune="Tramayes")
    assert response.status_code == 200
    assert "Vérifiez votre boîte de réception" in response.get_data(as_text=True)
    sub = _subscription(project, "camille@example.org")
    assert sub.status == "pending"
    assert sub.consent_source == "form"
    assert sub.consent_text == project.settings.publication("pvd").subscribe.consent_text
    assert sub.consent_form_id == "pvd/subscribe"
    assert sub.consent_ip == "127.0.0.1"
    assert sub.attributes == {"commune": "Tramayes"}

    [mail] = mailbox.to("Camille@Example.org")
    message = mail.message
    assert "Confirmez votre inscription" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    url = link_in(text, "/confirm/")
    assert url.startswith("https://lettre.example.org/confirm/")
    path = url.removeprefix("https://lettre.example.org")

    # Opening the link (or a scanner doing so) confirms nothing.
    page = client.get(path)
    assert page.status_code == 200
    assert status_of(project, sub.id) == "pending"
    done = client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 200
    assert "Inscription confirmée" in done.get_data(as_text=True)
    assert status_of(project, sub.id) == "active"
    # A second click is harmless.
    again = client.get(path).get_data(as_text=True)
    assert "plus en attente" in again


def test_same_answer_whatever_the_address_state(client, project, make_reader, signer, mailbox):
    make_reader("active@example.org")
    make_reader("pending@example.org", status="pending")
    gone = make_reader("left@example.org")
    client.post(f"/u/{signer.dumps('unsubscribe', gone.subscriber_id, gone.list_id, gone.link_key)}",
                data={"List-Unsubscribe": "One-Click"})
    assert status_of(project, gone.subscription_id) == "unsubscribed"

    bodies = {}
    for email in ("new@example.org", "active@example.org", "pending@example.org",
                  "left@example.org"):
        response = _post(client, email)
        assert response.status_code == 200
        bodies[email] = response.get_data(as_text=True).replace(email, "ADDRESS")
    assert len(set(bodies.values())) == 1, "the answer tells states apart"

    # The unsubscribed address was not touched by a stranger typing it: it gets a link instead.
    assert status_of(project, gone.subscription_id) == "unsubscribed"
    [mail] = mailbox.to("left@example.org")
    url = link_in(mail.message.get_body(("plain",)).get_content(), "/resubscribe/")
    path = url.removeprefix("https://lettre.example.org")
    page = client.get(path).get_data(as_text=True)
    assert status_of(project, gone.subscription_id) == "unsubscribed"
    client.post(path, data={"csrf_token": csrf_from(page)})
    assert status_of(project, gone.subscription_id) == "active"
    # The active reader is told, with a link to their preferences.
    [mail] = mailbox.to("active@example.org")
    assert "/p/" in mail.message.get_body(("plain",)).get_content()


def test_missing_consent_or_bad_address_shows_errors(client, project, mailbox):
    response = _post(client, "someone@example.org", consent=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Cochez la case" in page
    assert 'value="someone@example.org"' in page  # what they typed is kept
    response = _post(client, "not-an-address")
    assert response.status_code == 400
    assert "adresse électronique valide" in response.get_data(as_text=True)
    assert _subscription(project, "someone@example.org") is None
    assert mailbox.messages == []


def test_honeypot_looks_the_same_and_does_nothing(client, project, mailbox):
    human = _post(client, "human@example.org").get_data(as_text=True)
    bot = _post(client, "bot@example.org", website="http://spam.example")
    assert bot.status_code == 200
    assert bot.get_data(as_text=True).replace("bot@", "human@") == human
    assert _subscription(project, "bot@example.org") is None
    assert mailbox.to("bot@example.org") == []


def test_csrf_is_required(app, project, mailbox):
    client = app.test_client()
    response = client.post("/pvd/subscribe", data={"email": "x@example.org", "consent": "yes"})
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    _page, token = _form(client)
    response = client.post("/pvd/subscribe", data={"email": "x@example.org", "consent": "yes",
                                                   "csrf_token": token[:-3] + "abc"})
    assert response.status_code == 400
    # A token issued for another form is refused too.
    other = client.get("/acv/subscribe").get_data(as_text=True)
    response = client.post("/pvd/subscribe", data={"email": "x@example.org", "consent": "yes",
                                                   "csrf_token": csrf_from(other)})
    assert response.status_code == 400
    assert _subscription(project, "x@example.org") is None
    assert mailbox.messages == []


def test_rate_limit_per_address_and_per_ip(client, project, clock, mailbox):
    for _ in range(3):
        assert _post(client, "target@example.org").status_code == 200
    limited = _post(client, "target@example.org")
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    assert len(mailbox.to("target@example.org")) == 3
    clock.advance(hours=1, seconds=1)
    assert _post(client, "target@example.org").status_code == 200

    clock.advance(hours=2)
    statuses = [_post(client, f"many{i}@example.org").status_code for i in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
    assert _subscription(project, "many10@example.org") is None


def test_expired_confirm_link_explains_what_to_do(client, project, make_reader, signer,
                                                  monkeypatch):
    reader = make_reader("late@example.org", status="pending")
    eight_days_ago = time.time() - 8 * 24 * 3600
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.time, "time", lambda: eight_days_ago)
        token = signer.dumps("confirm", reader.subscriber_id, reader.list_id, reader.link_key)
    response = client.get(f"/confirm/{token}")
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "expiré" in page and 'href="/pvd/subscribe"' in page
    response = client.post(f"/confirm/{token}", data={})
    assert response.status_code in (400, 410)
    assert status_of(project, reader.subscription_id) == "pending"


def test_preferences_lists_details_and_leave_everything(client, project, make_reader, signer):
    reader = make_reader("elu@example.org", list_name="acv", name="Élu")
    token = signer.dumps("preferences", reader.subscriber_id, reader.list_id, reader.link_key)
    page = client.get(f"/p/{token}").get_data(as_text=True)
    assert "e•••••@example.org" in page
    assert 'value="acv" checked' in page and 'value="acv-elus">' in page
    assert 'value="Élu"' in page

    response = client.post(f"/p/{token}", data={"csrf_token": csrf_from(page), "action": "save",
                                               "lists": ["acv-elus"], "name": "Claude"})
    assert response.status_code == 200
    assert "enregistrées" in response.get_data(as_text=True)
    with project.session() as session:
        subs = {s.mailing_list.name: s for s in session.scalars(select(Subscription).where(
            Subscription.subscriber_id == reader.subscriber_id))}
        assert subs["acv"].status == "unsubscribed"
        assert subs["acv"].unsubscribe_channel == "preferences"
        assert subs["acv-elus"].status == "active"
        assert subs["acv-elus"].consent_form_id == "acv/preferences"
        assert subs["acv"].subscriber.name == "Claude"

    page = response.get_data(as_text=True)
    response = client.post(f"/p/{token}", data={"csrf_token": csrf_from(page),
                                                "action": "unsubscribe_all"})
    assert "toutes les lettres" in response.get_data(as_text=True)
    with project.session() as session:
        statuses = set(session.scalars(select(Subscription.status).where(
            Subscription.subscriber_id == reader.subscriber_id)))
        assert statuses == {"unsubscribed"}


def test_preferences_refuses_unsubscribe_tokens(client, reader, signer):
    token = signer.dumps("unsubscribe", reader.subscriber_id, reader.list_id, reader.link_key)
    assert client.get(f"/p/{token}").status_code == 404


def test_forms_without_csrf_change_nothing(client, project, make_reader, signer):
    pending = make_reader("waiting@example.org", status="pending")
    active = make_reader("kept@example.org")
    confirm = signer.dumps("confirm", pending.subscriber_id, pending.list_id, pending.link_key)
    prefs = signer.dumps("preferences", active.subscriber_id, active.list_id, active.link_key)
    resub = signer.dumps("resubscribe", active.subscriber_id, active.list_id, active.link_key)
    assert client.post(f"/confirm/{confirm}", data={}).status_code == 400
    assert client.post(f"/p/{prefs}", data={"action": "unsubscribe_all"}).status_code == 400
    assert client.post(f"/resubscribe/{resub}", data={}).status_code == 400
    assert status_of(project, pending.subscription_id) == "pending"
    assert status_of(project, active.subscription_id) == "active"


def test_expired_resubscribe_offer(client, project, make_reader, signer, monkeypatch):
    reader = make_reader("back@example.org")
    long_ago = time.time() - 30 * 24 * 3600
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.time, "time", lambda: long_ago)
        token = signer.dumps("resubscribe", reader.subscriber_id, reader.list_id, reader.link_key)
    response = client.get(f"/resubscribe/{token}")
    assert response.status_code == 410
    assert 'href="/pvd/subscribe"' in response.get_data(as_text=True)


def test_http_errors_are_pages_with_headers(client):
    for method, path, status in (("post", "/pvd/", 405), ("get", "/nowhere/at/all", 404),
                                 ("post", "/healthz", 405)):
        response = getattr(client, method)(path)
        assert response.status_code == status
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert '<html lang="fr">' in response.get_data(as_text=True)
    big = client.post("/pvd/subscribe", data={"email": "x" * 100_000})
    assert big.status_code == 413


def test_theme_css_follows_the_publication(client, project):
    css = client.get("/theme/acv.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    theme = project.settings.publication("acv").theme
    assert f"--primary: {theme.primary_color};" in css.get_data(as_text=True)


def test_mail_server_down_gives_the_same_answer(project, app, client):
    from letterpress.errors import TransportError
    from letterpress.transports import MemoryTransport
    from letterpress.web import create_app

    def refuse(mail_from, recipients, data):
        raise TransportError("Connection refused")

    broken = create_app(project, transport_factory=lambda pub: MemoryTransport(fail=refuse))
    other = broken.test_client()
    response = _post(other, "down@example.org")
    broken.extensions["letterpress"].mails.close()
    expected = _post(client, "up@example.org").get_data(as_text=True)
    assert response.status_code == 200
    assert response.get_data(as_text=True).replace("down@", "up@") == expected
    assert _subscription(project, "down@example.org").status == "pending"
