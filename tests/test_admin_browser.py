"""The dashboard end to end in headless Chromium against `letterpress serve`: log in, the run
list, a report with its charts, a search, an erasure — screenshots at 1280 and 375 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from letterpress.admin import add_account

from .fixtures_report import *  # noqa: F403 - fixtures
from .serving import serving
from .smtpd import free_port

WIDTHS = (1280, 375)

pytestmark = pytest.mark.browser


@pytest.fixture
def site(project, project_dir, project_env, report_run, tmp_path):
    with project.session() as s:
        add_account(s, "claire", "correct horse battery", role="admin", clock=project.clock)
    project.close()
    port = free_port()
    env = {**os.environ, **project_env, "LETTERPRESS_BASE_URL": f"http://127.0.0.1:{port}",
           "LETTERPRESS_PROJECT": str(project_dir)}
    base = f"http://127.0.0.1:{port}"
    with serving(env, port, tmp_path / "serve.log"):
        yield base


def _shoot(page, output_dir: Path, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(output_dir / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_end_to_end(site, browser, output_dir):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    external, violations = [], []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(
        (site, "data:")) else None)
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)

    page.goto(site + "/admin/runs/1")
    assert page.url.startswith(site + "/admin/login")
    _shoot(page, output_dir, "1-login")
    page.fill("#username", "claire")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    assert page.url == site + "/admin/runs/1"

    page.goto(site + "/admin/")
    assert page.locator("#runs tbody tr").count() == 2
    assert "Lettre de mars" in page.inner_text("#runs")
    _shoot(page, output_dir, "2-runs")

    page.click("#runs a >> text='1'")
    assert page.url == site + "/admin/runs/1"
    images = page.locator("figure img")
    assert images.count() == 6
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert "Taux de plaintes au-dessus de la limite" in page.inner_text("main")
    _shoot(page, output_dir, "3-report")

    page.goto(site + "/admin/subscribers")
    page.fill("#q", "orange")
    page.click("form[role=search] button")
    assert page.locator("#results li").count() == 3  # a@, m@ and p@orange.fr
    page.click("#results a >> text='a@orange.fr'")
    assert "Liste pvd : active" in page.inner_text("main")
    _shoot(page, output_dir, "4-subscriber")

    page.click("#forget")
    page.fill("#confirm", "a@orange.fr")
    _shoot(page, output_dir, "5-confirm-erase")
    page.click("button.danger")
    assert "Personne effacée" in page.inner_text("main")
    page.goto(site + "/admin/audit")
    text = page.inner_text("main")
    assert "forget" in text and "erased:" in text and "a@orange.fr" not in text
    _shoot(page, output_dir, "6-audit")

    page.goto(site + "/admin/lists")
    assert page.locator("figure img").count() >= 2
    _shoot(page, output_dir, "7-lists")
    ctx.close()
    assert external == [] and violations == []
