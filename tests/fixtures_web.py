"""Fixtures for the web tests: the app, its test client, a captured mailbox and readers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.audience.tokens import TokenSigner
from letterpress.transports import MemoryTransport
from letterpress.web import create_app

__all__ = ["app", "client", "mailbox", "make_reader", "reader", "signer"]


@dataclass(frozen=True)
class Reader:
    """A subscriber created for a test, with the ids its tokens carry."""

    email: str
    subscription_id: int
    subscriber_id: int
    list_id: int
    link_key: str = ""


@pytest.fixture
def mailbox() -> MemoryTransport:
    """Every mail the app sends (confirmation, resubscribe) lands here."""
    return MemoryTransport()


@pytest.fixture
def app(project, mailbox):
    with project.session() as session:
        ensure_lists(session, project.settings)
    app = create_app(project, transport_factory=lambda publication: mailbox)
    app.config["TESTING"] = True

    @app.after_request
    def _mail_is_out(response):
        # Mails leave from a background thread; tests look at the mailbox right after.
        app.extensions["letterpress"].mails.drain()
        return response

    yield app
    app.extensions["letterpress"].one_clicks.close()
    app.extensions["letterpress"].mails.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def signer(project) -> TokenSigner:
    return TokenSigner(project.settings.secret_keys)


@pytest.fixture
def make_reader(project):
    """Subscribe an address (active by default) and return a :class:`Reader`."""

    def make(email: str = "dominique@example.org", *, list_name: str = "pvd",
             status: str = "active", name: str = "Dominique") -> Reader:
        with project.session() as session:
            sub = subscribe(session, email, list_name=list_name, clock=project.clock,
                            consent=Consent("admin", text="test"), status=status, name=name)
            return Reader(email, sub.id, sub.subscriber_id, sub.list_id,
                          sub.subscriber.link_key)

    return make


@pytest.fixture
def reader(make_reader) -> Reader:
    return make_reader()


def status_of(project, subscription_id: int) -> str:
    from letterpress.audience.models import Subscription

    with project.session() as session:
        return session.get(Subscription, subscription_id).status


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def link_in(text: str, path: str) -> str:
    found = re.search(r"https?://[^\s\"<>]+" + re.escape(path) + r"[^\s\"<>]+", text)
    assert found, f"no {path} link in:\n{text}"
    return found.group(0)
