"""Each publication of the repository in headless Chromium at 375 and 600 px: its headings
have the theme's computed style (font, colour, size, accent bar), the key figure its size.
Screenshots go to test-output/<test>/<publication>-<width>.png."""

from __future__ import annotations

import shutil

import pytest

from letterpress.content import load_issue
from letterpress.render import render_issue
from letterpress.render.build import write_build

from .fixtures_render import *  # noqa: F403 - fixtures
from .fixtures_render import ALL_SECTIONS

pytestmark = pytest.mark.browser

SAMPLES = {"pvd": "issues/2024-12-pvd-42.yaml", "acv": None, "stt": "issues/2021-01-stt-1.yaml"}


def _rgb(colour: str) -> str:
    value = colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def _families(css: str) -> list[str]:
    return [name.strip().strip("'\"").lower() for name in css.split(",")]


def _sample(project_dir, slug: str):
    if SAMPLES[slug]:
        return project_dir / SAMPLES[slug]
    folder = project_dir / f"{slug}-sample"
    shutil.copytree(ALL_SECTIONS.parent, folder)
    path = folder / ALL_SECTIONS.name
    path.write_text(path.read_text().replace("publication: pvd", f"publication: {slug}"))
    return path


def test_every_publication_has_a_sample():
    from pathlib import Path

    from letterpress.settings import load_settings

    root = Path(__file__).resolve().parent.parent
    assert set(load_settings(root, {"LETTERPRESS_SECRET_KEY": "k"}).publications) == set(SAMPLES)


@pytest.mark.parametrize("slug", list(SAMPLES))
def test_headings_have_the_theme_computed_style(browser, render_settings, project_dir, tmp_path,
                                                output_dir, slug):
    theme = render_settings.publication(slug).theme
    rendered = render_issue(load_issue(_sample(project_dir, slug), render_settings),
                            render_settings)
    folder = write_build(rendered, tmp_path / "build").folder
    for width, h2_size, figure_size in ((600, "24px", "64px"), (375, "21px", "44px")):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                "file://") else route.abort())
            page.goto((folder / "index.html").as_uri(), wait_until="load")
            styles = page.evaluate("""() => Array.from(document.querySelectorAll('h2.lp-h2'))
                .map(h => { const s = getComputedStyle(h); return {font: s.fontFamily,
                  colour: s.color, size: s.fontSize, weight: s.fontWeight,
                  bar: s.borderLeftColor, barWidth: s.borderLeftWidth}; })""")
            assert styles, "no section heading"
            for style in styles:
                assert _families(style["font"]) == _families(theme.heading_font_family), style
                assert style["colour"] == _rgb(theme.primary_color), style
                assert style["size"] == h2_size and style["weight"] == "700", style
                assert style["bar"] == _rgb(theme.accent_color), style
                assert style["barWidth"] == "5px", style
            figures = page.evaluate("""() => Array.from(document.querySelectorAll('.lp-figure'))
                .map(f => getComputedStyle(f).fontSize)""")
            assert figures and set(figures) == {figure_size}, figures
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"horizontal overflow at {width} px: {scroll}"
            page.screenshot(path=str(output_dir / f"{slug}-{width}.png"), full_page=True)
        finally:
            page.close()
