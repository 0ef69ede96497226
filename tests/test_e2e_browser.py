"""End to end in a real Chromium against `letterpress serve` running as a subprocess.

subscribe → confirmation mail (loopback SMTP) → confirm → `letterpress send` → the reader
clicks the unsubscribe link of the issue they received → unsubscribed in the database; and
the RFC 8058 one-click POST exactly as a mail provider sends it.  Screenshots of every page
at 375 px and 1280 px go to test-output/<test name>/.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.project import Project

from .serving import LETTERPRESS, serving
from .smtpd import free_port

WIDTHS = (375, 1280)

pytestmark = pytest.mark.browser


@pytest.fixture
def site(project_dir, smtp_server, tmp_path):
    """`letterpress serve` on a free port, mailing through the loopback SMTP server."""
    port = free_port()
    env = {**os.environ,
           "LETTERPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'subscribers.db'}",
           "LETTERPRESS_BASE_URL": f"http://127.0.0.1:{port}",
           "LETTERPRESS_SMTP_URL": smtp_server.url,
           "LETTERPRESS_PROJECT": str(project_dir)}
    env.pop("LETTERPRESS_SECRET_KEY", None)
    base = f"http://127.0.0.1:{port}"
    with serving(env, port, tmp_path / "serve.log") as proc:
        yield {"base": base, "env": env, "proc": proc, "log": tmp_path / "serve.log"}


def _status(env, email: str, list_name: str = "pvd") -> str:
    engine = create_engine(env["LETTERPRESS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT s.status FROM subscriptions s JOIN subscribers p ON p.id = s.subscriber_id "
                "JOIN mailing_lists l ON l.id = s.list_id WHERE p.email = :e AND l.name = :l"),
                {"e": email, "l": list_name}).scalar_one()
    finally:
        engine.dispose()


def _wait_for_mail(smtp_server, address: str, count: int = 1, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = smtp_server.messages_to(address)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    pytest.fail(f"no mail for {address} after {timeout}s")


def _shoot(page, output_dir: Path, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(output_dir / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_subscribe_confirm_receive_unsubscribe(site, smtp_server, browser, output_dir):
    base, env = site["base"], site["env"]
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/subscribe")  # redirects to the first publication's form
    assert page.url == f"{base}/pvd/subscribe"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert not page.get_by_label(re.compile("J'accepte de recevoir")).is_checked()
    _shoot(page, output_dir, "01-subscribe")

    # Submitting without ticking the box shows an error, nothing is recorded.
    page.get_by_label("Adresse électronique").fill("sacha.lemoine@example.org")
    page.get_by_role("button", name="Je m'abonne").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _shoot(page, output_dir, "02-subscribe-error")

    page.get_by_label("Nom").fill("Sacha Lemoine")
    page.get_by_label("Commune").fill("Tramayes")
    page.get_by_label(re.compile("J'accepte de recevoir")).check()
    page.get_by_role("button", name="Je m'abonne").click()
    expect(page.get_by_role("heading", name="Vérifiez votre boîte de réception")).to_be_visible()
    _shoot(page, output_dir, "03-subscribe-sent")
    assert _status(env, "sacha.lemoine@example.org") == "pending"

    [mail] = _wait_for_mail(smtp_server, "sacha.lemoine@example.org")
    body = mail.message.get_body(("plain",)).get_content()
    confirm_url = re.search(r"http://127\.0\.0\.1:\d+/confirm/\S+", body).group(0)
    page.goto(confirm_url)
    _shoot(page, output_dir, "04-confirm")
    assert _status(env, "sacha.lemoine@example.org") == "pending"  # opening changes nothing
    page.get_by_role("button", name="Confirmer mon inscription").click()
    expect(page.get_by_role("heading", name="Inscription confirmée")).to_be_visible()
    _shoot(page, output_dir, "05-confirmed")
    assert _status(env, "sacha.lemoine@example.org") == "active"

    # A second reader, added by the editors, to unsubscribe the way mail providers do.
    project = Project.load(env["LETTERPRESS_PROJECT"], env=env)
    with project.session() as session:
        ensure_lists(session, project.settings)
        subscribe(session, "gmail.user@example.org", list_name="pvd",
                  consent=Consent("admin", text="e2e"), clock=project.clock)
    project.close()

    sent = subprocess.run([*LETTERPRESS, "send", "issues/2024-12-pvd-42.yaml", "--yes"],
                          env=env, cwd=env["LETTERPRESS_PROJECT"], capture_output=True,
                          text=True, timeout=120)
    assert sent.returncode == 0, sent.stdout + sent.stderr

    [issue] = _wait_for_mail(smtp_server, "sacha.lemoine@example.org", count=2)[1:]
    message = issue.message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    unsubscribe_url = re.search(r'href="(http://127\.0\.0\.1:\d+/u/[^"]+)"', html).group(1)
    preferences = re.search(r'href="(http://127\.0\.0\.1:\d+/p/[^"]+)"', html)

    # The archive now shows the issue, without any personal data.
    page.goto(f"{base}/pvd/")
    expect(page.get_by_role("link", name=re.compile("Lettre d'information #42"))).to_be_visible()
    _shoot(page, output_dir, "06-archive")
    page.goto(f"{base}/pvd/42")
    assert "sacha" not in page.content().lower()
    page.wait_for_load_state("load")
    broken = page.evaluate("Array.from(document.images)"
                           ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert broken == [], "images of the online issue did not load"
    _shoot(page, output_dir, "07-issue-online")
    page.screenshot(path=str(output_dir / "07-issue-online-top-1280.png"))

    if preferences:
        page.goto(preferences.group(1))
        expect(page.get_by_role("heading", name="Vos préférences")).to_be_visible()
        _shoot(page, output_dir, "08-preferences")

    # The reader clicks "se désinscrire" in the mail they received.
    page.goto(unsubscribe_url)
    expect(page.get_by_text("s•••••@example.org")).to_be_visible()
    _shoot(page, output_dir, "09-unsubscribe")
    assert _status(env, "sacha.lemoine@example.org") == "active"
    page.get_by_role("button", name="Confirmer la désinscription").click()
    expect(page.get_by_role("heading", name="Désinscription confirmée")).to_be_visible()
    _shoot(page, output_dir, "10-unsubscribed")
    assert _status(env, "sacha.lemoine@example.org") == "unsubscribed"

    page.goto(f"{base}/u/forged-token")
    _shoot(page, output_dir, "11-not-found")
    context.close()

    # RFC 8058 one-click, as Gmail sends it: a plain POST, no cookies, no redirect followed.
    [gmail] = _wait_for_mail(smtp_server, "gmail.user@example.org")
    header = str(gmail.message["List-Unsubscribe"])
    one_click = re.search(r"<(http[^>]+)>", header).group(1)
    request = urllib.request.Request(
        one_click, data=b"List-Unsubscribe=One-Click", method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert _status(env, "gmail.user@example.org") == "unsubscribed"

    # Tokens never reach the server's output.
    log = site["log"].read_text(errors="replace")
    token = one_click.rsplit("/", 1)[1]
    assert token not in log and unsubscribe_url.rsplit("/", 1)[1] not in log
