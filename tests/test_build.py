"""`letterpress build` and `letterpress preview`: what an editor runs and sees."""

from __future__ import annotations

import email
import json
import os
import shutil
import urllib.request
from email import policy

import pytest
from click.testing import CliRunner

from letterpress.cli import main
from letterpress.render.preview import PreviewServer

from .fixtures_render import *  # noqa: F403 - fixtures
from .fixtures_render import ALL_SECTIONS, BASE_URL


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, project_dir, *args):
    # Issue paths are relative to the current directory, as on a command line: make them absolute.
    args = tuple(str(project_dir / a) if a.startswith("issues/") else a for a in args)
    env = {"LETTERPRESS_BASE_URL": BASE_URL, "LETTERPRESS_DATABASE_URL": "sqlite://"}
    return runner.invoke(main, ["-C", str(project_dir), *args], env=env,
                         catch_exceptions=False)


def test_build_writes_html_text_assets_and_sample_eml(runner, project_dir, render_settings, tmp_path):
    out = tmp_path / "out"
    result = invoke(runner, project_dir, "build", "issues/2024-12-pvd-42.yaml", "-o", str(out))
    assert result.exit_code == 0, result.output
    folder = out / "pvd" / "42"
    html = (folder / "index.html").read_text()
    text = (folder / "index.txt").read_text()
    assert '<html lang="fr"' in html and "%%LP_" not in html  # the web version
    assert "L'ACTU" in text and "%%LP_" not in text
    assets = sorted(p.name for p in (folder / "assets").iterdir())
    assert len(assets) == 14 and all("-" in name for name in assets)
    for name in assets:  # the built page shows its pictures from disk, before publication
        assert f'src="assets/{name}"' in html and f"{BASE_URL}/assets/{name}" not in html
    [eml] = list(folder.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Lettre d'information #42 – Petites villes de demain"
    assert message.get_content_type() == "multipart/alternative"
    assert "List-Unsubscribe" in message
    assert "KB" in result.output and "index.html" in result.output
    assert "Built pvd#42" in result.output


def test_build_can_keep_the_mjml_source(runner, project_dir, tmp_path):
    result = invoke(runner, project_dir, "build", "issues/2024-12-pvd-42.yaml", "--mjml",
                    "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    source = (tmp_path / "pvd" / "42" / "index.mjml").read_text()
    assert source.startswith("<mjml lang=\"fr\"") and "<mj-section" in source


def test_build_defaults_to_the_build_dir(runner, project_dir):
    result = invoke(runner, project_dir, "build", "issues/2024-12-pvd-42.yaml")
    assert result.exit_code == 0, result.output
    assert (project_dir / "build" / "pvd" / "42" / "index.html").exists()


def test_build_reports_content_errors_and_writes_nothing(runner, project_dir, tmp_path):
    bad = project_dir / "issues" / "broken.yaml"
    bad.write_text("publication: pvd\nnumber: 0\nsections: []\n")
    out = tmp_path / "out"
    result = invoke(runner, project_dir, "build", "issues/broken.yaml", "-o", str(out))
    assert result.exit_code == 1
    assert "broken.yaml:2:" in result.output
    assert not out.exists()


def test_build_exits_1_when_the_mail_is_too_big(runner, project_dir, tmp_path):
    path = project_dir / "issues" / "huge.yaml"
    source = (project_dir / "issues" / "2024-12-pvd-42.yaml").read_text()
    long_text = "Un paragraphe assez long pour grossir la lettre. " * 60
    filler = "".join(f"  - type: texte\n    title: Rubrique {i}\n    text: \"{long_text}\"\n"
                     for i in range(12))
    path.write_text(source.replace("sections:\n", "sections:\n" + filler, 1))
    result = invoke(runner, project_dir, "build", "issues/huge.yaml", "-o", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "Gmail clips" in result.output


def test_every_command_has_help(runner, project_dir):
    for command in ("build", "preview"):
        result = invoke(runner, project_dir, command, "--help")
        assert result.exit_code == 0 and len(result.output) > 100


# --------------------------------------------------------------------------- preview

def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.read().decode("utf-8")


@pytest.fixture
def preview(render_settings, tmp_path):
    folder = tmp_path / "issue"
    shutil.copytree(ALL_SECTIONS.parent, folder)
    issue = folder / ALL_SECTIONS.name
    server = PreviewServer(issue, render_settings, port=0).start()
    yield server, issue
    server.stop()


def _touch_later(path):
    """Make sure the mtime moves even on filesystems with coarse timestamps."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_preview_serves_both_widths_text_and_images(preview):
    server, _ = preview
    page = fetch(server.url + "/")
    assert "width='620'" in page and "width='375'" in page
    assert "LE CHIFFRE DU MOIS" in page  # the text part, side by side
    mail = fetch(server.url + "/mail.html")
    assert "Lettre #7&nbsp;: toutes les rubriques" in mail
    assert f"{server.url}/assets/photo-" in mail  # images come from the preview itself
    name = mail.split(f"{server.url}/assets/", 1)[1].split('"', 1)[0]
    with urllib.request.urlopen(f"{server.url}/assets/{name}", timeout=10) as response:
        assert response.headers["Content-Type"] == "image/png"
        assert response.read().startswith(b"\x89PNG")


def test_preview_rebuilds_when_the_issue_changes(preview):
    server, issue = preview
    before = json.loads(fetch(server.url + "/version"))["version"]
    assert "Lettre #7&nbsp;: toutes les rubriques" in fetch(server.url + "/mail.html")
    issue.write_text(issue.read_text().replace("toutes les rubriques", "nouveau sujet"))
    _touch_later(issue)
    assert "Lettre #7&nbsp;: nouveau sujet" in fetch(server.url + "/mail.html")
    assert json.loads(fetch(server.url + "/version"))["version"] != before


def test_preview_rebuilds_when_a_template_changes(preview, render_settings, tmp_path):
    server, _ = preview
    template = render_settings.templates_dir / "sections" / "chiffre.mjml.j2"
    template.write_text(template.read_text().replace("{{ section.figure }}", "№{{ section.figure }}"))
    _touch_later(template)
    assert "№1\u202f645" in fetch(server.url + "/mail.html")


def test_preview_shows_errors_instead_of_crashing(preview):
    server, issue = preview
    good = issue.read_text()
    issue.write_text(good.replace("number: 7", "number: 7\n\tbad: tab"))
    _touch_later(issue)
    page = fetch(server.url + "/")
    assert "The issue cannot be built" in page
    assert issue.name + ":" in page  # file:line:column of the problem
    assert "class='errors'" in fetch(server.url + "/mail.html")
    issue.write_text(good)
    _touch_later(issue)
    assert "The issue cannot be built" not in fetch(server.url + "/")


def test_preview_shows_template_errors(preview, render_settings):
    server, _ = preview
    template = render_settings.templates_dir / "sections" / "tribune.mjml.j2"
    template.write_text(template.read_text() + "{% endif %}\n")
    _touch_later(template)
    page = fetch(server.url + "/")
    assert "The issue cannot be built" in page and "sections/tribune.mjml.j2" in page
