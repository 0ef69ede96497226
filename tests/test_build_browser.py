"""The built sample in headless Chromium: readable at 375 px and 600 px, images described."""

from __future__ import annotations

import pytest

from letterpress.content import load_issue
from letterpress.render import render_issue
from letterpress.render.build import write_build

from .fixtures_render import *  # noqa: F403 - fixtures
from .fixtures_render import ALL_SECTIONS

pytestmark = pytest.mark.browser


def _open(browser, folder, width: int, base_url: str):
    """A page showing the built index.html; /assets/ requests answered from the build folder,
    everything else refused (the mail must not need anything from elsewhere)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    refused: list[str] = []

    def route(route, request):
        url = request.url
        if url.startswith(base_url + "/assets/"):
            path = folder / "assets" / url.rsplit("/", 1)[1]
            if path.is_file():
                return route.fulfill(path=str(path))
        if url.startswith("file://"):
            return route.continue_()
        refused.append(url)
        return route.abort()

    page.route("**/*", route)
    page.goto((folder / "index.html").as_uri(), wait_until="load")
    return page, refused


@pytest.mark.parametrize("which", ["sample", "all-sections"])
def test_built_issue_in_chromium(browser, render_settings, project_dir, tmp_path, output_dir, which):
    path = project_dir / "issues" / "2024-12-pvd-42.yaml" if which == "sample" else ALL_SECTIONS
    rendered = render_issue(load_issue(path, render_settings), render_settings)
    folder = write_build(rendered, tmp_path / "build").folder
    for width in (375, 600):
        page, refused = _open(browser, folder, width, render_settings.base_url)
        try:
            assert refused == [], f"requests outside the issue's assets: {refused}"
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if width == 375:
                assert scroll_width <= 375, f"horizontal overflow at 375 px: {scroll_width}"
            images = page.evaluate("""() => Array.from(document.images).map(i => ({
                src: i.src, alt: i.getAttribute('alt'), loaded: i.complete && i.naturalWidth > 0,
                right: i.getBoundingClientRect().right}))""")
            assert images, "no image rendered"
            for image in images:
                assert image["alt"] is not None and image["alt"].strip(), image
                assert image["loaded"], f"image did not load: {image['src']}"
                assert image["right"] <= width + 0.5, f"image wider than the screen: {image}"
            assert page.evaluate("document.documentElement.lang") == "fr"
            headings = page.evaluate("Array.from(document.querySelectorAll('h2')).length")
            # one <h2> per section that has a heading (an explicit title: "" has none)
            assert headings == sum(1 for s in rendered.issue.sections if s.title)
            page.screenshot(path=str(output_dir / f"{which}-{width}.png"), full_page=True)
        finally:
            page.close()
