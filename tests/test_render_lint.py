"""Lint of the built email: size, placeholder links, image dimensions, leftover markers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from letterpress.render import lint, render_issue
from letterpress.render.lint import GMAIL_CLIP_BYTES, lint_html, lint_text

from .fixtures_render import *  # noqa: F403 - fixtures

PAGE = "<!doctype html>\n<html lang='fr'>\n<body>\n{}\n</body>\n</html>\n"


def messages(problems):
    return [(p.line, p.column, p.severity, p.message) for p in problems]


def test_the_test_issue_and_the_sample_are_clean(rendered_all, sample_issue, render_settings):
    assert [p for p in lint(rendered_all) if p.severity == "error"] == []
    sample = render_issue(sample_issue, render_settings)
    assert lint(sample) == []


def test_html_over_gmail_limit_is_an_error():
    html = PAGE.format("<p>" + "x" * (GMAIL_CLIP_BYTES + 10) + "</p>")
    [problem] = lint_html(html)
    assert problem.severity == "error"
    assert "Gmail clips" in problem.message and problem.file == "index.html"


def test_html_close_to_the_limit_is_a_warning():
    html = PAGE.format("<p>" + "x" * (GMAIL_CLIP_BYTES - 2000) + "</p>")
    [problem] = lint_html(html)
    assert problem.severity == "warning"


def test_placeholder_and_empty_links_with_positions():
    html = PAGE.format('<p><a href="#">a</a></p>\n<p>  <a href="">b</a> '
                       '<a href="https://example.com">c</a> <a href="%%LP_UNSUBSCRIBE_URL%%">ok</a>'
                       ' <a href="#agenda">ok</a> <a id="agenda"></a></p>')
    found = messages(lint_html(html, "index.html"))
    assert found == [
        (4, 4, "error", "link with a placeholder target '#'"),
        (5, 6, "error", "link with an empty target"),
        (5, 23, "error", "link with a placeholder target 'https://example.com'"),
    ]


def test_images_without_dimensions_or_alt():
    html = PAGE.format('<img src="https://x.org/a.png" alt="A" width="100" height="auto">\n'
                       '<img src="https://x.org/b.png" alt="B">\n<img src="https://x.org/c.png" '
                       'width="1" height="1">')
    found = messages(lint_html(html))
    assert (5, 1, "warning", "image without width and height: https://x.org/b.png") in found
    assert (6, 1, "error", "image without alt text: https://x.org/c.png") in found
    assert len(found) == 2


def test_leftover_template_markers():
    html = PAGE.format("<p>{{ issue.subject }} and {% if x %} and %%LP_UNKNOWN%% "
                       "and %%LP_UNSUBSCRIBE_URL%%</p>")
    found = messages(lint_html(html))
    assert [m[3] for m in found] == [
        "leftover template marker '{{ issue.subject }} and {% if '",
        "leftover template marker '{% if x %} and %%LP_UNKNOWN%% '",
        "leftover template marker '%%LP_UNKNOWN%% and %%LP_UNSUBS'",
    ]
    assert lint_text("Bonjour\n  {{ name }}\n", "index.txt")[0].line == 2


def test_lint_reports_a_template_that_leaves_markers(own_templates, all_sections):
    folder, settings = own_templates
    footer = folder / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace(
        "{{ t.unsubscribe }}</a>", "{{ t.unsubscribe }}</a> {{ '{{' }} name }}"))
    problems = lint(render_issue(all_sections, settings))
    assert any("leftover template marker" in p.message for p in problems)


def test_lint_flags_a_theme_logo_without_alt_as_publication_name(all_sections, render_settings):
    pub = render_settings.publication("pvd")
    settings = render_settings.with_overrides(publications={
        **render_settings.publications,
        "pvd": replace(pub, theme=replace(pub.theme, logo_alt=""))})
    rendered = render_issue(all_sections, settings)
    assert 'alt="Lettre d' in rendered.html  # falls back to the publication's name
    assert not [p for p in lint(rendered) if p.path == "img[alt]"]


def test_misspelt_mjml_tag_is_reported(own_templates, all_sections):
    folder, settings = own_templates
    path = folder / "sections" / "texte.mjml.j2"
    path.write_text(path.read_text().replace("<mj-text>", "<mj-txet>", 1).replace(
        "</mj-text>\n    {{ m.buttons", "</mj-txet>\n    {{ m.buttons", 1))
    problems = lint(render_issue(all_sections, settings))
    assert any("unknown MJML tag <mj-txet>" in p.message for p in problems), problems


def test_theme_contrast_below_wcag_aa_is_a_warning(render_settings):
    from letterpress.render.lint import contrast_ratio, lint_theme

    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#000091", "#ffffff") > 4.5
    assert lint_theme(render_settings.publication("pvd").theme, "pvd") == []
    theme = replace(render_settings.publication("pvd").theme, accent_color="#ffcc00",
                    primary_color="#7fb2ff")
    found = {(p.path, p.severity) for p in lint_theme(theme, "pvd")}
    assert found == {("publications.pvd.theme.accent_color", "warning"),
                     ("publications.pvd.theme.primary_color", "warning")}
