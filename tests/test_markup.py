"""The safe Markdown subset: what editors may write, and what can never get through."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from letterpress.markup import inline_html, is_allowed_link, links, to_html, to_text


def test_basic_formatting_becomes_html():
    html = to_html("Un **mot** en *italique* et [un lien](https://anct.gouv.fr/pvd).")
    assert isinstance(html, Markup)
    assert html == ('<p>Un <strong>mot</strong> en <em>italique</em> et '
                    '<a href="https://anct.gouv.fr/pvd">un lien</a>.</p>')


def test_lists_and_line_breaks():
    html = to_html("- un\n- deux\n\n1. premier\n2. second\n\nligne  \nsuivante")
    assert "<ul>\n<li>un</li>\n<li>deux</li>\n</ul>" in html
    assert "<ol>\n<li>premier</li>" in html
    assert "ligne<br>" in html


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<a href='javascript:alert(1)'>x</a>",
])
def test_raw_html_is_escaped(hostile):
    html = to_html(hostile)
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "&lt;" in html


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
    "vbscript:x", "file:///etc/passwd", "relative/page.html", "//evil.example.org/x",
])
def test_only_safe_link_schemes_survive(target):
    html = to_html(f"[cliquez]({target})")
    assert "<a " not in html
    assert "cliquez" in html
    assert target in links(f"[cliquez]({target})")  # validation still sees it


@pytest.mark.parametrize("target", ["https://x.org", "http://x.org/a?b=c", "mailto:a@b.fr",
                                    "tel:+33123456789", "#agenda"])
def test_allowed_links(target):
    assert is_allowed_link(target)
    assert "<a href=" in to_html(f"[ok]({target})")


def test_images_headings_tables_and_code_are_text():
    html = to_html("# Titre\n\n![photo](https://x.org/a.png)\n\n| a | b |\n|---|---|\n\n`code`")
    assert "<h1" not in html and "<img" not in html and "<table" not in html
    assert "<code" not in html
    assert "# Titre" in html


def test_inline_html_has_no_paragraph():
    assert inline_html("Le **Club**") == "Le <strong>Club</strong>"
    assert inline_html("") == ""


def test_links_lists_every_target_in_order():
    md = "[a](https://a.org) puis [b](mailto:b@c.fr) et <https://auto.org>"
    assert links(md) == ["https://a.org", "mailto:b@c.fr", "https://auto.org"]


def test_to_text_inline_urls_and_wrapping():
    md = ("Chaque jour, une [sélection d'articles de presse](https://pvd.example.org/presse) "
          "pour connaître les actualités des Petites villes de demain !")
    text = to_text(md, width=60)
    assert "sélection d'articles de presse (https://pvd.example.org/presse)" in text.replace("\n", " ")
    assert all(len(line) <= 60 for line in text.splitlines())
    assert "<" not in text


def test_to_text_footnotes_are_shared_and_numbered():
    notes: list[str] = []
    first = to_text("[un](https://a.org) et [deux](https://b.org)", notes=notes)
    second = to_text("encore [un](https://a.org)", notes=notes)
    assert first == "un [1] et deux [2]"
    assert second == "encore un [1]"
    assert notes == ["https://a.org", "https://b.org"]


def test_to_text_lists_and_breaks():
    text = to_text("Intro\n\n- un\n- deux\n\n1. a\n2. b\n\nfin  \nde ligne")
    assert text == "Intro\n\n- un\n- deux\n\n1. a\n2. b\n\nfin\nde ligne"


def test_to_text_mailto_shows_address():
    assert to_text("[écrivez-nous](mailto:a@b.fr)") == "écrivez-nous (a@b.fr)"
    assert to_text("[a@b.fr](mailto:a@b.fr)") == "a@b.fr"
