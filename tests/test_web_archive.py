"""Online archive, Atom feed and issue images, on both databases."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from letterpress.content import load_issue
from letterpress.delivery import prepare_run, send_run
from letterpress.render import render_issue
from letterpress.transports import MemoryTransport
from letterpress.web.published import publish_issue
from letterpress.web.security import ARCHIVE_CSP, CSP

from .fixtures_web import *  # noqa: F403 - the web fixtures

ATOM = "{http://www.w3.org/2005/Atom}"


def _issue(project):
    path = Path(project.settings.issues_dir) / "2024-12-pvd-42.yaml"
    return load_issue(path, project.settings)


def _send(project, issue, *, test=False):
    rendered = render_issue(issue, project.settings)
    with project.session() as session:
        run = prepare_run(session, rendered, "pvd", clock=project.clock,
                          test_recipients=["editor@example.org"] if test else None)
        run_id = run.id
    send_run(project, run_id, MemoryTransport())
    return rendered


def test_archive_lists_only_sent_issues(client, project, make_reader):
    make_reader("reader@example.org")
    issue = _issue(project)
    assert "Aucune lettre" in client.get("/pvd/").get_data(as_text=True)
    assert client.get("/pvd/42").status_code == 404

    _send(project, issue, test=True)  # a test send does not publish anything
    assert "Aucune lettre" in client.get("/pvd/").get_data(as_text=True)
    assert client.get("/pvd/42").status_code == 404

    _send(project, issue)
    index = client.get("/pvd/")
    page = index.get_data(as_text=True)
    assert index.status_code == 200
    assert 'href="/pvd/42"' in page
    assert "16 décembre 2024" in page
    assert "Lettre d&#39;information #42" in page
    assert "Rencontres régionales PACA" in page  # the preheader says what is inside
    other = client.get("/acv/").get_data(as_text=True)  # another publication's archive
    assert "Aucune lettre" in other and "/pvd/42" not in other


def test_issue_page_has_no_recipient_data(client, project, make_reader):
    make_reader("reader@example.org", name="Dominique Secret")
    issue = _issue(project)
    _send(project, issue)
    response = client.get("/pvd/42")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "%%LP_" not in html
    assert "reader@example.org" not in html and "Dominique Secret" not in html
    assert "/u/" not in html and "/p/" not in html
    assert "https://lettre.example.org/pvd/subscribe" in html
    # Inline e-mail CSS needs 'unsafe-inline' styles here, and only here; never scripts.
    assert response.headers["Content-Security-Policy"] == ARCHIVE_CSP
    assert "script-src 'none'" in ARCHIVE_CSP
    assert client.get("/pvd/").headers["Content-Security-Policy"] == CSP
    assert client.get("/pvd/43").status_code == 404
    assert client.get("/nope/42").status_code == 404


def test_publish_without_sending(client, project):
    issue = _issue(project)
    with project.session() as session:
        publish_issue(session, issue, clock=project.clock)
        publish_issue(session, issue, clock=project.clock)  # again: still one entry
    page = client.get("/pvd/").get_data(as_text=True)
    assert page.count('href="/pvd/42"') == 1
    assert client.get("/pvd/42").status_code == 200


def test_atom_feed_is_valid(client, project):
    with project.session() as session:
        publish_issue(session, _issue(project), clock=project.clock)
    response = client.get("/pvd/feed.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}title").text == project.settings.publication("pvd").name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", root.find(f"{ATOM}updated").text)
    [entry] = root.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}id").text == "https://lettre.example.org/pvd/42"
    assert entry.find(f"{ATOM}link").get("href") == "https://lettre.example.org/pvd/42"
    assert "#42" in entry.find(f"{ATOM}title").text
    assert entry.find(f"{ATOM}summary").text.startswith("Rencontres régionales PACA")
    assert entry.find(f"{ATOM}content").get("src") == "https://lettre.example.org/pvd/42"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None
        assert entry.find(f"{ATOM}{required}") is not None


def test_assets_are_served_with_immutable_cache(client, project):
    issue = _issue(project)
    rendered = render_issue(issue, project.settings)
    name, source = next(iter(rendered.assets.items()))
    # Served even before any issue page was opened (the mail is read before the archive).
    response = client.get(f"/assets/{name}")
    assert response.status_code == 200
    assert response.data == Path(source).read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/assets/unknown-00000000.png").status_code == 404
    assert client.get("/assets/..%2Fletterpress.toml").status_code == 404
    assert client.get("/assets/.letterpress-secret").status_code == 404
