"""Several publications in one project: theme values checked at load, builds kept apart."""

from __future__ import annotations

import re
import shutil

import pytest

from letterpress.content import load_issue
from letterpress.errors import ConfigError
from letterpress.render import render_issue
from letterpress.render.build import write_build
from letterpress.settings import load_settings

from .fixtures_render import *  # noqa: F403 - fixtures
from .fixtures_render import ALL_SECTIONS, BASE_URL


def _with_theme(project_dir, key: str, value: str):
    toml = project_dir / "letterpress.toml"
    text = toml.read_text()
    text = re.sub(rf"(\[publications\.acv\.theme\]\n(?:.*\n)*?){key} = .*\n",
                  lambda m: m.group(1) + f"{key} = {value}\n", text, count=1)
    toml.write_text(text)
    return load_settings(project_dir, {"LETTERPRESS_BASE_URL": BASE_URL})


def _as_publication(tmp_path, slug: str):
    folder = tmp_path / slug
    shutil.copytree(ALL_SECTIONS.parent, folder)
    path = folder / ALL_SECTIONS.name
    path.write_text(path.read_text().replace("publication: pvd", f"publication: {slug}"))
    return path


def test_quoted_font_family_keeps_every_heading_style(render_settings, tmp_path):
    """acv's "Georgia, 'Times New Roman', serif" once cut every heading's inline style."""
    rendered = render_issue(load_issue(_as_publication(tmp_path, "acv"), render_settings),
                            render_settings)
    h2 = re.findall(r'<h2 class="lp-h2"[^>]*style="([^"]*)"', rendered.html)
    assert h2, "no styled heading"
    for style in h2:
        assert "font-family: Georgia, 'Times New Roman', serif;" in style
        assert "font-size: 24px" in style and "color: #6a1b3d" in style
        assert "border-left: 5px solid #b34a1c" in style
    assert "&#39;" not in rendered.html.split("<body", 1)[1]
    figure = re.search(r'class="lp-figure" style="([^"]*)"', rendered.html).group(1)
    assert "font-size: 64px" in figure


@pytest.mark.parametrize(("key", "value", "message"), [
    ("font_family", "\"Georgia; color: red\"", "font_family: font name"),
    ("font_family", "\"Georgia, 'Times New Roman\"", "font_family: font name"),
    ("primary_color", "\"blue;}\"", "primary_color: 'blue;}' is not a colour"),
    ("accent_color", "\"#12345\"", "accent_color: '#12345' is not a colour"),
    ("background_color", "\"#fff\\\" onload=\\\"x\"", "background_color:"),
])
def test_theme_values_are_checked_when_settings_load(project_dir, key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        _with_theme(project_dir, key, value)
    assert "[publications.acv.theme]" in str(caught.value)


def test_theme_logo_url_and_width_are_checked(project_dir):
    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace(
        'logo_url = "images/logo-pvd.png"', 'logo_url = "javascript:alert(1)"'))
    with pytest.raises(ConfigError, match="logo_url"):
        load_settings(project_dir, {})
    toml.write_text(toml.read_text().replace(
        'logo_url = "javascript:alert(1)"', 'logo_url = "images/logo-pvd.png"').replace(
        "logo_width = 180", "logo_width = \"180px\""))
    with pytest.raises(ConfigError, match="logo_width"):
        load_settings(project_dir, {})


def test_theme_values_are_written_in_one_canonical_form(project_dir):
    settings = _with_theme(project_dir, "font_family", "\"Georgia ,  \\\"Times New Roman\\\",SERIF\"")
    assert settings.publication("acv").theme.font_family == "Georgia, 'Times New Roman', serif"
    settings = _with_theme(project_dir, "primary_color", "\"#ABC\"")
    assert settings.publication("acv").theme.primary_color == "#aabbcc"


def test_settings_that_did_nothing_are_refused(project_dir):
    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace("logo_width = 180", "logo_width = 180\nbanner_url = \"x.png\""))
    with pytest.raises(ConfigError, match="unknown key.*banner_url"):
        load_settings(project_dir, {})


def test_builds_of_two_publications_do_not_overwrite_each_other(render_settings, tmp_path):
    pvd = load_issue(ALL_SECTIONS, render_settings)
    acv = load_issue(_as_publication(tmp_path, "acv"), render_settings)
    assert pvd.number == acv.number
    out = tmp_path / "build"
    first = write_build(render_issue(pvd, render_settings), out)
    second = write_build(render_issue(acv, render_settings), out)
    assert first.folder == out / "pvd" / str(pvd.number)
    assert second.folder == out / "acv" / str(acv.number)
    assert "Petites villes de demain" in (first.folder / "index.html").read_text()
    assert "Lettre Action cœur de ville" in (second.folder / "index.html").read_text()
    assert "Lettre Action cœur de ville" not in (first.folder / "index.html").read_text()
