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


# --------------------------------------------------------------------------- declared sections

STT = "issues/2021-01-stt-1.yaml"


def _stt_problems(project_dir, settings, replace_from: str, replace_to: str) -> list[str]:
    from letterpress.errors import ContentError

    path = project_dir / STT
    path.write_text(path.read_text().replace(replace_from, replace_to, 1))
    try:
        load_issue(path, settings)
    except ContentError as exc:
        return [str(p).replace(str(project_dir) + "/", "") for p in exc.problems]
    return []


def test_declared_section_type_loads_and_renders(render_settings, project_dir):
    issue = load_issue(project_dir / STT, render_settings)
    types = [s.type for s in issue.sections]
    assert types == ["actu", "chiffre", "testimony", "milestones"]
    assert issue.sections[2].title == "In their words"  # the declared default heading
    rendered = render_issue(issue, render_settings)
    assert "Jacqueline Gourault" in rendered.html and "Jacqueline Gourault" in rendered.text
    assert "1 October 2020" in rendered.html and "1 October 2020" in rendered.text
    assert '<html lang="en"' in rendered.html


def test_declared_section_fields_are_validated_like_built_in_ones(render_settings, project_dir):
    found = _stt_problems(project_dir, render_settings, "    quote: |", "    quotes: |")
    assert "issues/2021-01-stt-1.yaml:40:5: sections[2].quotes: unknown field 'quotes' " \
           "(did you mean 'quote'?)" in found
    assert "issues/2021-01-stt-1.yaml:31:5: sections[2].quote: missing required field 'quote'" \
        in found


def test_declared_list_items_and_dates_are_checked(render_settings, project_dir):
    found = _stt_problems(project_dir, render_settings, "day: 2020-10-01", "day: 1er octobre")
    assert found == ["issues/2021-01-stt-1.yaml:46:14: sections[3].steps[0].day: invalid date "
                     "'1er octobre': write it as YYYY-MM-DD, e.g. 2024-12-16"]
    found = _stt_problems(project_dir, render_settings, "what: The programme is launched.",
                          "what: \"\"")
    assert found[-1] == ("issues/2021-01-stt-1.yaml:47:15: sections[3].steps[0].what: must not "
                         "be empty")


def test_unknown_type_suggests_the_declared_ones(render_settings, project_dir):
    found = _stt_problems(project_dir, render_settings, "type: testimony", "type: testimoni")
    assert found[0].startswith("issues/2021-01-stt-1.yaml:31:11: sections[2].type: unknown "
                               "section type 'testimoni' (did you mean 'testimony'?)")
    # Another publication does not know stt's types.
    found = _stt_problems(project_dir, render_settings, "publication: stt", "publication: acv")
    assert any("unknown section type 'testimoni'" in p for p in found)


@pytest.mark.parametrize(("declaration", "message"), [
    ('person = "texte"', "person: unknown field type 'texte' (did you mean 'text'?)"),
    ('title = "text"', "'title' is a field of every section"),
    ('steps = "list of dates"', "steps: unknown field type 'dates' (did you mean 'date'?)"),
])
def test_section_declarations_are_checked_when_settings_load(project_dir, declaration, message):
    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace('person = "line"', declaration))
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_settings(project_dir, {})
    assert "[publications.stt.section_types.testimony]" in str(caught.value)


def test_built_in_type_cannot_be_redeclared(project_dir):
    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace("section_types.testimony", "section_types.actu"))
    with pytest.raises(ConfigError, match="'actu' is a built-in section type"):
        load_settings(project_dir, {})


# --------------------------------------------------------------------------- template overrides

def test_publication_templates_are_looked_up_first(render_settings, project_dir):
    stt = render_issue(load_issue(project_dir / STT, render_settings), render_settings)
    pvd = render_issue(load_issue(project_dir / "issues" / "2024-12-pvd-42.yaml",
                                  render_settings), render_settings)
    assert 'font-size:26px' in stt.html.replace(" ", "") and "Small Towns of Tomorrow" in stt.html
    assert "lp-brand" not in stt.html  # its own masthead, not the shared one
    assert "logo-pvd" in pvd.html  # the shared header is untouched for the others
    assert stt.text.startswith("SMALL TOWNS OF TOMORROW\n18 JANUARY 2021 - NEWSLETTER #1\n")


def test_text_part_follows_a_masthead_override(render_settings, project_dir):
    own = project_dir / "templates" / "mjml" / "stt"
    (own / "header.txt.j2").write_text("{{ publication_name | upper }}\nISSUE {{ issue.number }}\n")
    (own / "header.mjml.j2").write_text((own / "header.mjml.j2").read_text().replace(
        "{{ masthead }}", "ISSUE {{ issue.number }}"))
    rendered = render_issue(load_issue(project_dir / STT, render_settings), render_settings)
    assert "ISSUE 1" in rendered.html and "ISSUE 1\n" in rendered.text
    assert "NEWSLETTER #1" not in rendered.text


def test_html_override_without_its_text_twin_is_refused(render_settings, project_dir):
    from letterpress.errors import RenderError

    (project_dir / "templates" / "mjml" / "stt" / "header.txt.j2").unlink()
    with pytest.raises(RenderError, match="add stt/header.txt.j2 beside it"):
        render_issue(load_issue(project_dir / STT, render_settings), render_settings)
    own = project_dir / "templates" / "mjml" / "acv" / "sections"
    own.mkdir(parents=True)
    (own / "chiffre.mjml.j2").write_text("{% include 'sections/texte.mjml.j2' %}")
    with pytest.raises(RenderError, match="acv/sections/chiffre.mjml.j2"):
        render_issue(load_issue(_as_publication(project_dir, "acv"), render_settings),
                     render_settings)


# --------------------------------------------------------------------------- issue identity

def test_issue_sets_its_own_name_masthead_kicker_and_footer_blocks(render_settings, project_dir):
    path = project_dir / "issues" / "club.yaml"
    path.write_text("""\
publication: pvd
number: 1
date: 2020-11-23
subject: "La lettre d'information du Club des Petites villes de demain #1"
name: La lettre d'information du Club des Petites villes de demain
masthead: "23 NOVEMBRE 2020 - #1"
kicker: Communiqué de presse
sections:
  - type: texte
    text: Bonjour.
footer:
  hide: [share, colophon, subscribe]
""")
    rendered = render_issue(load_issue(path, render_settings), render_settings)
    for part in (rendered.html, rendered.text):
        assert "23 NOVEMBRE 2020 - #1" in part
        assert "LETTRE D'INFORMATION #1" not in part
        assert "Directeur de publication" not in part
    assert re.search(r'class="lp-brand"[^>]*>La lettre d(&#39;|\')information du Club des '
                     r"Petites villes de demain<", rendered.html)
    assert "Communiqué de presse" in rendered.html and "COMMUNIQUÉ DE PRESSE" in rendered.text
    assert rendered.text.startswith("LA LETTRE D'INFORMATION DU CLUB DES PETITES VILLES DE DEMAIN")
    assert "Transférez" not in rendered.html and "cliquez ici" not in rendered.html
    assert "S'inscrire à cette lettre" not in rendered.text
    assert "Se désinscrire" in rendered.html  # the reader's own links always stay


def test_unknown_footer_block_is_refused(render_settings, project_dir):
    from letterpress.errors import ContentError

    path = project_dir / "issues" / "club.yaml"
    path.write_text("publication: pvd\nnumber: 1\ndate: 2020-11-23\nsubject: S\n"
                    "sections: [{type: texte, text: a}]\nfooter: {hide: [unsubscribe]}\n")
    with pytest.raises(ContentError, match="footer.hide"):
        load_issue(path, render_settings)
