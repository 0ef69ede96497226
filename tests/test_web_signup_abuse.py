"""The signup form resists abuse without a third party: proof of work, no-JavaScript fallback,
throw-away domains.  Flask test client on SQLite and PostgreSQL; then headless Chromium with
JavaScript on and off against `letterpress serve`."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from html import unescape
from pathlib import Path

import pytest
from altcha import solve_challenge_v1
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from letterpress.audience import find_subscriber

from .fixtures_web import app, client, csrf_from, mailbox  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent
PROTECTION = """proof_of_work = true
proof_of_work_max = 20000
nojs_wait_seconds = {wait}
refuse_disposable = true
"""


def protect(project_dir: Path, wait: int) -> None:
    path = project_dir / "letterpress.toml"
    content = path.read_text(encoding="utf-8")
    path.write_text(content.replace("[publications.pvd.subscribe]\n",
                                    "[publications.pvd.subscribe]\n" + PROTECTION.format(wait=wait)),
                    encoding="utf-8")


@pytest.fixture(autouse=True)
def _protected(project_dir):
    protect(project_dir, wait=15)


def form_fields(html: str) -> dict[str, str]:
    fields = {name: unescape(re.search(rf'data-pow-{name}="([^"]*)"', html).group(1))
              for name in ("algorithm", "challenge", "salt", "signature", "max")}
    fields["shown"] = unescape(re.search(r'name="shown" value="([^"]*)"', html).group(1))
    return fields


def solved(fields: dict[str, str]) -> str:
    solution = solve_challenge_v1(fields["challenge"], fields["salt"], fields["algorithm"],
                                  int(fields["max"]))
    return base64.b64encode(json.dumps({
        "algorithm": fields["algorithm"], "challenge": fields["challenge"],
        "number": solution.number, "salt": fields["salt"],
        "signature": fields["signature"]}).encode()).decode()


def post(client, html, email, **extra):  # noqa: F811 - client is the fixture passed in
    data = {"csrf_token": csrf_from(html), "email": email, "consent": "yes",
            "shown": form_fields(html)["shown"], **extra}
    return client.post("/pvd/subscribe", data=data)


def test_form_carries_a_challenge_and_our_script_only(client):  # noqa: F811
    response = client.get("/pvd/subscribe")
    html = response.get_data(as_text=True)
    fields = form_fields(html)
    assert fields["algorithm"] == "SHA-256" and fields["max"] == "20000"
    assert '<script src="/static/pow.js" defer></script>' in html
    assert "<script>" not in html and "onload=" not in html  # no inline script
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "Set-Cookie" not in response.headers or "lp_csrf" in response.headers["Set-Cookie"]
    assert "Sans JavaScript, le formulaire peut être envoyé 15 secondes après" in html
    script = client.get("/static/pow.js")
    assert script.status_code == 200 and b"crypto.subtle.digest" in script.data
    # Other pages keep scripts forbidden.
    assert "script-src 'none'" in client.get("/pvd/").headers["Content-Security-Policy"]


def test_a_solved_challenge_subscribes_once(client, project):  # noqa: F811
    html = client.get("/pvd/subscribe").get_data(as_text=True)
    payload = solved(form_fields(html))
    sent = post(client, html, "camille@example.org", altcha=payload).get_data(as_text=True)
    assert "Vérifiez votre boîte de réception" in sent
    with project.session() as session:
        assert find_subscriber(session, "camille@example.org").subscriptions[0].status == "pending"
    # The same solution again is a replay: asked to wait, nothing recorded.
    again = post(client, html, "autre@example.org", altcha=payload).get_data(as_text=True)
    assert "Encore quelques secondes" in again
    with project.session() as session:
        assert find_subscriber(session, "autre@example.org") is None


def test_without_javascript_the_form_works_after_the_wait(client, project, clock):  # noqa: F811
    html = client.get("/pvd/subscribe").get_data(as_text=True)
    early = post(client, html, "sans.js@example.org", name="Sans JS")
    page = early.get_data(as_text=True)
    assert early.status_code == 200 and "Encore quelques secondes" in page
    assert "patientez 15 secondes" in page
    assert 'value="sans.js@example.org"' in page and 'value="Sans JS"' in page  # kept
    assert re.search(r'id="consent" name="consent" value="yes" checked', page)
    with project.session() as session:
        assert find_subscriber(session, "sans.js@example.org") is None
    clock.advance(seconds=16)
    # The page shown again keeps the first display time: sending it now works.
    done = post(client, page, "sans.js@example.org")
    assert "Vérifiez votre boîte de réception" in done.get_data(as_text=True)
    with project.session() as session:
        assert find_subscriber(session, "sans.js@example.org") is not None


def test_forged_or_stale_proofs_are_refused(client, project, clock):  # noqa: F811
    html = client.get("/pvd/subscribe").get_data(as_text=True)
    for forged in ("bm90IGEgc29sdXRpb24=", solved(form_fields(html)).replace("A", "B", 1)):
        page = post(client, html, "robot@example.org", altcha=forged).get_data(as_text=True)
        assert "Encore quelques secondes" in page
    clock.advance(seconds=16)
    page = post(client, html, "robot@example.org", shown="1700000000.forged")
    assert "Encore quelques secondes" in page.get_data(as_text=True)
    clock.advance(minutes=31)  # a form shown more than 30 minutes ago counts as new
    page = post(client, html, "robot@example.org").get_data(as_text=True)
    assert "Encore quelques secondes" in page
    with project.session() as session:
        assert find_subscriber(session, "robot@example.org") is None


@pytest.mark.parametrize("address", ["jetable@mailinator.com", "x@eu.mailinator.com",
                                     "bot@yopmail.com"])
def test_throw_away_domains_are_refused(client, project, address):  # noqa: F811
    html = client.get("/pvd/subscribe").get_data(as_text=True)
    response = post(client, html, address, altcha=solved(form_fields(html)))
    assert response.status_code == 400
    assert "Les adresses jetables ne sont pas acceptées" in response.get_data(as_text=True)
    with project.session() as session:
        assert find_subscriber(session, address) is None


def test_off_by_default_elsewhere(client):  # noqa: F811
    html = client.get("/acv/subscribe").get_data(as_text=True)
    assert "data-pow-challenge" not in html and "<script" not in html


# --------------------------------------------------------------------------- in Chromium

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def protected_site(project_dir, smtp_server, tmp_path):
    path = project_dir / "letterpress.toml"  # already protected (autouse): a shorter wait
    path.write_text(path.read_text(encoding="utf-8").replace(
        "nojs_wait_seconds = 15", "nojs_wait_seconds = 3"), encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "LETTERPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}",
           "LETTERPRESS_BASE_URL": f"http://127.0.0.1:{port}",
           "LETTERPRESS_SMTP_URL": smtp_server.url, "LETTERPRESS_PROJECT": str(project_dir)}
    env.pop("LETTERPRESS_SECRET_KEY", None)
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(Path(sys.executable).parent / "letterpress"), "serve",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "serve.log").read_text())
            time.sleep(0.1)
    yield base, env
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def _status(env, email: str) -> str | None:
    engine = create_engine(env["LETTERPRESS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT s.status FROM subscriptions s JOIN subscribers p ON p.id = s.subscriber_id "
                "WHERE p.email = :e"), {"e": email}).scalar()
    finally:
        engine.dispose()


def _fill(page, email: str) -> None:
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label(re.compile("J'accepte de recevoir")).check()


@pytest.mark.browser
def test_browser_with_javascript_solves_the_challenge(protected_site, browser, output_dir):
    base, env = protected_site
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/pvd/subscribe")
    status = page.locator("#pow-status")
    status.filter(has_text="Vérification anti-robot terminée.").wait_for(timeout=30_000)
    assert page.locator("input[name=altcha]").input_value() != ""
    _fill(page, "avec.js@example.org")
    page.get_by_role("button", name="Je m'abonne").click()  # at once: no wait with JS
    expect(page.get_by_role("heading", name="Vérifiez votre boîte de réception")).to_be_visible()
    page.screenshot(path=str(output_dir / "signup-pow-js.png"), full_page=True)
    assert _status(env, "avec.js@example.org") == "pending"
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


@pytest.mark.browser
def test_browser_without_javascript_waits_then_works(protected_site, browser, output_dir):
    base, env = protected_site
    context = browser.new_context(locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/pvd/subscribe")
    assert "Sans JavaScript, le formulaire peut être envoyé 3 secondes" in page.content()
    _fill(page, "sans.js@example.org")
    page.get_by_role("button", name="Je m'abonne").click()
    expect(page.get_by_role("heading", name="Encore quelques secondes")).to_be_visible()
    page.screenshot(path=str(output_dir / "signup-pow-nojs-wait.png"), full_page=True)
    assert page.get_by_label("Adresse électronique").input_value() == "sans.js@example.org"
    assert _status(env, "sans.js@example.org") is None
    time.sleep(3.5)
    page.get_by_role("button", name="Je m'abonne").click()
    expect(page.get_by_role("heading", name="Vérifiez votre boîte de réception")).to_be_visible()
    assert _status(env, "sans.js@example.org") == "pending"
    # A throw-away address gets a clear, accessible error.
    page.goto(f"{base}/pvd/subscribe")
    time.sleep(3.5)
    _fill(page, "jetable@yopmail.com")
    page.get_by_role("button", name="Je m'abonne").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    assert "adresses jetables" in summary.inner_text()
    assert page.get_by_label("Adresse électronique").get_attribute("aria-invalid") == "true"
    context.close()
