"""Fixtures for the dashboard tests: accounts, and a client that logs in through the form."""

from __future__ import annotations

import re

import pytest

from letterpress.admin import add_account

__all__ = ["accounts", "login", "PASSWORDS"]

PASSWORDS = {"claire": "correct horse battery", "paul": "lecture seule 2026"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def accounts(project):
    """``claire`` (admin) and ``paul`` (editor)."""
    with project.session() as session:
        add_account(session, "claire", PASSWORDS["claire"], role="admin", clock=project.clock)
        add_account(session, "paul", PASSWORDS["paul"], role="editor", clock=project.clock)


def token_of(client, path: str, action: str | None = None) -> str:
    """The CSRF token of the form posting to ``action`` on page ``path`` (default: the last
    form, the page's own)."""
    page = client.get(path).get_data(as_text=True)
    if action:
        page = page[page.index(f'action="{action}"'):]
        return _TOKEN.search(page).group(1)
    return _TOKEN.findall(page)[-1]


@pytest.fixture
def login(app, accounts):
    """``login("claire")`` → a test client over HTTPS holding claire's session cookie."""

    def make(username: str, password: str | None = None):
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        token = token_of(client, "/admin/login")
        r = client.post("/admin/login", data={"username": username, "csrf_token": token,
                                              "password": password or PASSWORDS[username]})
        assert r.status_code == 302, r.get_data(as_text=True)
        return client

    return make
