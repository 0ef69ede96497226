"""Rendering an issue into HTML email + text: every section type, safety, determinism."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

import pytest

from letterpress.content.model import SECTION_TYPES, default_title
from letterpress.errors import RenderError
from letterpress.render import (
    PREFERENCES_URL,
    RECIPIENT_NAME,
    UNSUBSCRIBE_URL,
    render_issue,
)
from letterpress.render.text import WIDTH

from .fixtures_render import *  # noqa: F403 - fixtures
from .fixtures_render import ALL_SECTIONS, BASE_URL


class _Tags(HTMLParser):
    """Collects (tag, attrs) of every start tag and the text of every <h2>."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data


def tags_of(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


# --------------------------------------------------------------------------- structure

def test_fixture_covers_every_section_type(all_sections):
    assert {s.type for s in all_sections.sections} == set(SECTION_TYPES)


def test_every_section_type_renders_its_heading_and_content(rendered_all):
    headings = tags_of(rendered_all.html).h2
    for section_type in SECTION_TYPES:
        expected = "Un mot de la fin" if section_type == "texte" else default_title(section_type)
        assert expected in headings, f"{section_type}: heading {expected!r} missing"
    for text in ("Une actualité", "1\u202f645", "La place du marché rénovée", "Financer la rénovation",
                 "Journée du réseau du Cher", "Une halle gourmande (18)",
                 "Revitaliser les commerces", "Aides-territoires", "La veille presse",
                 "Découvrir", "Alice Bernard", "Pourquoi ce projet\u202f?",
                 "Pour des centres-bourgs vivants", "Salon des maires",
                 "Guide de la revitalisation", "Merci de votre lecture"):
        assert text in rendered_all.html, text
        assert text in rendered_all.text, text


def test_markdown_becomes_markup(rendered_all):
    html = rendered_all.html
    assert re.search(r'<a href="https://example.fr/actu"[^>]*>un lien</a>', html)
    assert re.search(r"<strong[^>]*>bientôt</strong>", html)
    assert re.search(r"<li[^>]*>la médiathèque\u202f;</li>", html)


def test_html_lang_and_title_come_from_the_publication(rendered_all):
    assert re.search(r'<html lang="fr"', rendered_all.html)
    assert "<title>Lettre #7&nbsp;: toutes les rubriques</title>" in rendered_all.html


def test_masthead_and_dates_in_french(rendered_all):
    assert "21 JANVIER 2025 - LETTRE D&#39;INFORMATION #7" in rendered_all.html or \
        "21 JANVIER 2025 - LETTRE D'INFORMATION #7" in rendered_all.html
    for text in (rendered_all.html, rendered_all.text):
        assert "mardi 4 février, 14h00–15h00" in text
        assert "mardi 18 février, 11h00–12h30" in text
        assert "mardi 11 mars, 09h30–16h30 · Bourges" in text
    assert "du 18 au 20 novembre 2025" in rendered_all.html


def test_every_image_has_alt_and_dimensions(rendered_all):
    images = [attrs for tag, attrs in tags_of(rendered_all.html).tags if tag == "img"]
    assert len(images) == 5  # logo, actu, image of the month, project card, interview
    for attrs in images:
        assert "alt" in attrs and attrs["alt"].strip(), attrs
        assert attrs.get("width", "").isdigit(), attrs
        assert attrs.get("height"), attrs


def test_local_images_get_content_hashed_public_names(rendered_all):
    photo = [name for name in rendered_all.assets if name.startswith("photo-")]
    assert len(photo) == 1, "the same file used three times is published once"
    data = rendered_all.assets[photo[0]].read_bytes()
    assert photo[0] == f"photo-{hashlib.sha256(data).hexdigest()[:8]}.png"
    assert f'src="{BASE_URL}/assets/{photo[0]}"' in rendered_all.html
    assert list(rendered_all.assets) == sorted(rendered_all.assets)


def test_credits_are_shown_once_with_their_sign(rendered_all):
    assert "© Studio Bleu" in rendered_all.html
    assert "© Ville d&#39;Exemple" in rendered_all.html or "© Ville d'Exemple" in rendered_all.html
    assert "© ©" not in rendered_all.html and "© ©" not in rendered_all.text
    assert "Crédits photos\u00a0: Studio Bleu, Ville d'Exemple" in rendered_all.text


def test_no_third_party_resources_but_images(rendered_all):
    html = rendered_all.html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower(), "no stylesheet or font links"
    assert "@import" not in html and "fonts.googleapis" not in html
    assert not re.search(r"url\(", html), "no CSS-loaded resources"
    for tag, attrs in tags_of(html).tags:
        if "src" in attrs:
            assert tag == "img" and attrs["src"].startswith(BASE_URL + "/assets/"), attrs


def test_preheader_is_visible_not_hidden(rendered_all):
    html = rendered_all.html
    assert "Un numéro d&#39;essai" in html or "Un numéro d'essai" in html
    assert "display:none" not in html.replace(" ", "")
    assert "mso-hide" not in html


def test_web_version_and_subscribe_links(rendered_all):
    assert f'href="{BASE_URL}/pvd/7"' in rendered_all.html
    assert f'href="{BASE_URL}/pvd/subscribe"' in rendered_all.html
    assert rendered_all.web_url == f"{BASE_URL}/pvd/7"
    assert "Voir la version en ligne" in rendered_all.html
    assert "Pour vous inscrire à cette lettre d&#39;information, " in rendered_all.html or \
        "Pour vous inscrire à cette lettre d'information, " in rendered_all.html
    assert "Transférez, partagez\u202f!" in rendered_all.html


# --------------------------------------------------------------------------- placeholders

def test_placeholders_appear_once_where_expected(rendered_all):
    for part in (rendered_all.html, rendered_all.text):
        assert part.count(UNSUBSCRIBE_URL) == 1
        assert part.count(PREFERENCES_URL) == 1
        # The reference letter greets nobody by name: the name placeholder is only for
        # templates that ask for {{ recipient_name }}.
        assert part.count(RECIPIENT_NAME) == 0
    assert f'href="{UNSUBSCRIBE_URL}"' in rendered_all.html
    assert f'href="{PREFERENCES_URL}"' in rendered_all.html


def test_personalise_substitutes_and_escapes(rendered_all):
    html, text = rendered_all.personalise(f"{BASE_URL}/u/tok?x=1&y=2", f"{BASE_URL}/p/tok")
    assert f'href="{BASE_URL}/u/tok?x=1&amp;y=2"' in html
    assert f"{BASE_URL}/u/tok?x=1&y=2" in text
    assert f"{BASE_URL}/p/tok" in html and f"{BASE_URL}/p/tok" in text
    assert "%%LP_" not in html and "%%LP_" not in text


def test_recipient_name_is_escaped_in_html(own_templates, all_sections):
    folder, settings = own_templates
    header = folder / "header.mjml.j2"
    header.write_text(header.read_text().replace(
        "{{ t.web_version }}</a>", "{{ t.web_version }}</a> · Bonjour {{ recipient_name }}"))
    rendered = render_issue(all_sections, settings)
    assert rendered.html.count(RECIPIENT_NAME) == 1
    html, _ = rendered.personalise("https://x.org/u/a", "https://x.org/p/a", '<b>Zoé & "Cie"</b>')
    assert "Bonjour &lt;b&gt;Zoé &amp; &#34;Cie&#34;&lt;/b&gt;" in html
    assert "<b>Zoé" not in html


def test_archive_html_has_no_personal_links(rendered_all):
    archive = rendered_all.archive_html()
    assert "%%LP_" not in archive
    assert archive.count(f'href="{BASE_URL}/pvd/subscribe"') >= 3
    assert "%%LP_" not in rendered_all.archive_text()


# --------------------------------------------------------------------------- safety

def test_hostile_content_is_escaped(all_sections, render_settings):
    actu = all_sections.sections[0]
    item = actu.items[0].model_copy(update={
        "title": '<img src=x onerror="alert(1)">Titre',
        "text": "<script>alert('x')</script> et [clic](javascript:alert(1)) "
                "et [data](data:text/html,<b>x</b>)",
    })
    hostile = all_sections.model_copy(update={
        "sections": [actu.model_copy(update={"items": [item]})] + all_sections.sections[1:],
        "subject": "Sujet\r\nBcc: victime@example.org",
        "preheader": "ligne\nsuivante",
    })
    rendered = render_issue(hostile, render_settings)
    html = rendered.html
    assert "<script" not in html.lower()
    assert not any("onerror" in attrs for _, attrs in tags_of(html).tags)
    assert '&lt;img src=x onerror="alert(1)"&gt;Titre' in html  # shown, as text
    assert 'href="javascript:' not in html.lower() and 'href="data:' not in html.lower()
    assert "[clic](javascript:alert(1))" in html  # shown as the text the editor typed
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.subject == "Sujet Bcc: victime@example.org"
    assert rendered.preheader == "ligne suivante"
    assert "<script>alert('x')</script>" in rendered.text  # plain text shows what was typed


# --------------------------------------------------------------------------- determinism

def test_rendering_is_deterministic(all_sections, render_settings):
    first = render_issue(all_sections, render_settings)
    second = render_issue(all_sections, render_settings)
    assert first.html == second.html
    assert first.text == second.text
    assert first.content_hash == second.content_hash
    assert first.assets == second.assets


def test_content_hash_covers_subject_html_and_text(all_sections, render_settings, rendered_all):
    digest = hashlib.sha256()
    for part in (rendered_all.subject, rendered_all.html, rendered_all.text):
        digest.update(part.encode() + b"\0")
    assert rendered_all.content_hash == digest.hexdigest()
    other = render_issue(all_sections.model_copy(update={"subject": "Autre sujet"}),
                         render_settings)
    assert other.content_hash != rendered_all.content_hash


# --------------------------------------------------------------------------- text part

def test_text_part_is_structured_plain_text(rendered_all):
    text = rendered_all.text
    assert "<" not in text.replace("<b>", "")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line == "L'ACTU":
            assert lines[i - 1] == lines[i + 1] == "=" * len("L'ACTU")
            break
    else:
        pytest.fail("section heading not underlined")
    assert "Une actualité\n-------------" in text
    assert "Texte de l'actualité avec un lien [1]." in text
    assert re.search(r"^\s*\[1\] https://example.fr/actu$", text, re.M)
    assert "Lire l'article\nhttps://example.fr/article" in text
    assert "- la halle\u202f;\n   - la médiathèque\u202f;" in text or "- la médiathèque\u202f;" in text
    assert "Se désinscrire\u00a0: " + UNSUBSCRIBE_URL in text
    for line in lines:
        assert len(line) <= WIDTH or "://" in line or "%%LP_" in line, line


def test_text_part_footer_has_colophon_and_legal_mention(rendered_all):
    text = rendered_all.text
    assert "Directeur de publication\u00a0: Stanislas Bourron" in text
    assert "Informatique et libertés" in text
    assert "© 2025 Agence nationale de la cohésion des territoires" in text
    assert f"S'inscrire à cette lettre\u00a0: {BASE_URL}/pvd/subscribe" in text


# --------------------------------------------------------------------------- template errors

def test_template_syntax_error_names_template_and_line(own_templates, all_sections):
    folder, settings = own_templates
    path = folder / "sections" / "chiffre.mjml.j2"
    lines = path.read_text().splitlines()
    lines.insert(3, "{% if section.figure %}unclosed")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RenderError) as info:
        render_issue(all_sections, settings)
    assert info.value.template == "sections/chiffre.mjml.j2"
    assert info.value.line is not None
    assert "sections/chiffre.mjml.j2:" in str(info.value)


def test_unknown_variable_names_template_and_line(own_templates, all_sections):
    folder, settings = own_templates
    path = folder / "sections" / "tribune.mjml.j2"
    lines = path.read_text().splitlines()
    lines.insert(2, "{{ section.no_such_field }}")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RenderError) as info:
        render_issue(all_sections, settings)
    assert info.value.template == "sections/tribune.mjml.j2"
    assert info.value.line == 3
    assert "no_such_field" in str(info.value)


def test_missing_template_is_a_render_error(own_templates, all_sections):
    folder, settings = own_templates
    (folder / "sections" / "agenda.mjml.j2").unlink()
    with pytest.raises(RenderError, match="agenda.mjml.j2"):
        render_issue(all_sections, settings)


def test_theme_comes_from_the_publication(all_sections, render_settings):
    from dataclasses import replace

    pub = render_settings.publication("pvd")
    themed = replace(pub, theme=replace(pub.theme, primary_color="#123456"))
    settings = render_settings.with_overrides(
        publications={**render_settings.publications, "pvd": themed})
    html = render_issue(all_sections, settings).html
    assert "#123456" in html


def test_identical_bytes_across_processes(render_settings):
    """No hash-seed or clock dependence: two interpreters render the same bytes."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from letterpress.settings import load_settings\n"
        "from letterpress.content import load_issue\n"
        "from letterpress.render import render_issue\n"
        "s = load_settings(sys.argv[1], {'LETTERPRESS_BASE_URL': 'https://x.org'})\n"
        "print(render_issue(load_issue(sys.argv[2], s), s).content_hash)\n")
    hashes = set()
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script, str(render_settings.project_dir),
                              str(ALL_SECTIONS)], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"})
        hashes.add(out.stdout.strip())
    assert len(hashes) == 1


def test_second_publication_has_its_own_theme_and_masthead(render_settings, tmp_path):
    import shutil

    from letterpress.content import load_issue

    folder = tmp_path / "acv"
    shutil.copytree(ALL_SECTIONS.parent, folder)
    path = folder / ALL_SECTIONS.name
    path.write_text(path.read_text().replace("publication: pvd", "publication: acv"))
    rendered = render_issue(load_issue(path, render_settings), render_settings)
    html = rendered.html
    assert "#6a1b3d" in html and "#000091" not in html  # its primary colour, not PVD's
    assert "Georgia" in html
    assert "Lettre Action cœur de ville" in html  # no logo: the name heads the mail
    assert f"{BASE_URL}/acv/7" in html and rendered.web_url == f"{BASE_URL}/acv/7"
    assert "Contacter l&#39;équipe Action cœur de ville" in html or \
        "Contacter l'équipe Action cœur de ville" in html


def test_placeholders_typed_in_content_stay_inert(all_sections, render_settings):
    actu = all_sections.sections[0]
    item = actu.items[0].model_copy(update={
        "title": "Titre %%LP_UNSUBSCRIBE_URL%%",
        "text": "Texte %%LP_PREFERENCES_URL%% et %%LP_RECIPIENT_NAME%% et \x0bWord\x00.",
    })
    issue = all_sections.model_copy(update={
        "sections": [actu.model_copy(update={"items": [item]})] + all_sections.sections[1:]})
    rendered = render_issue(issue, render_settings)
    for part in (rendered.html, rendered.text):
        assert part.count(UNSUBSCRIBE_URL) == 1 and part.count(PREFERENCES_URL) == 1
        assert part.count(RECIPIENT_NAME) == 0
        assert "%%\u200bLP_UNSUBSCRIBE_URL%%" in part  # still readable, never substituted
        assert "\x00" not in part and "\x0b" not in part  # XML cannot hold them
    html, text = rendered.personalise("https://x.org/u/secret", "https://x.org/p/secret", "Zoé")
    assert html.count("https://x.org/u/secret") == 1 and text.count("https://x.org/u/secret") == 1


def test_mjml_that_does_not_compile_is_a_render_error(own_templates, all_sections):
    folder, settings = own_templates
    path = folder / "sections" / "texte.mjml.j2"
    path.write_text(path.read_text().replace("</mj-column>", "", 1))
    with pytest.raises(RenderError, match="MJML could not be compiled"):
        render_issue(all_sections, settings)


@pytest.mark.parametrize("module_name", [
    "letterpress.markup", "letterpress.render", "letterpress.render.assets",
    "letterpress.render.build", "letterpress.render.dates", "letterpress.render.environment",
    "letterpress.render.inline", "letterpress.render.issue", "letterpress.render.lint",
    "letterpress.render.mjml", "letterpress.render.placeholders", "letterpress.render.preview",
    "letterpress.render.rendered", "letterpress.render.strings", "letterpress.render.text",
])
def test_public_api_is_declared_and_documented(module_name):
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    assert module.__doc__, module_name
    for name in module.__all__:
        value = getattr(module, name)  # every declared name exists
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"


def test_render_imports_no_web_cli_or_database_layer():
    import subprocess
    import sys

    script = ("import sys, letterpress.render, letterpress.render.preview, letterpress.markup\n"
              "bad = [m for m in sys.modules if m.split('.')[0] in ('click', 'flask', 'sqlalchemy',"
              " 'smtplib', 'apscheduler') or m.startswith(('letterpress.cli', 'letterpress.web',"
              " 'letterpress.delivery', 'letterpress.audience'))]\n"
              "print(','.join(sorted(bad)))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
