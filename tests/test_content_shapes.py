"""Section shapes that fit real letters: a tribune introduced by its author, labelled links
with an organiser, the photo before its title, a set of key figures in one section."""

from __future__ import annotations

import re
import textwrap

import pytest

from letterpress.content import load_issue
from letterpress.errors import ContentError
from letterpress.render import render_issue

from .fixtures_render import *  # noqa: F403 - fixtures

HEADER = """\
publication: pvd
number: 1
date: 2020-11-23
subject: "La lettre d'information du Club des Petites villes de demain #1"
sections:
"""


def _render(project_dir, settings, sections: str):
    path = project_dir / "issues" / "shapes.yaml"
    path.write_text(HEADER + textwrap.indent(textwrap.dedent(sections), "  "), encoding="utf-8")
    return render_issue(load_issue(path, settings), settings)


def test_tribune_without_headline_introduced_by_name_beside_the_portrait(render_settings,
                                                                       project_dir):
    rendered = _render(project_dir, render_settings, """\
        - type: tribune
          title: Le point de vue du maire
          author: Camille Galtier
          role: Maire de Manosque
          image: {src: images/rencontre-paca-manosque.png, alt: Portrait de Camille Galtier}
          text: Ces échanges ont permis d'aborder divers projets et thématiques.
        """)
    html, text = rendered.html, rendered.text
    body = html[html.index("Le point de vue du maire"):]
    portrait, name, words = (body.index("<img"), body.index("Camille Galtier"),
                             body.index("Ces échanges"))
    assert portrait < name < words  # the portrait beside the name, both before the text
    assert "lp-h3" not in body.split("Ces échanges")[0].split("Camille Galtier")[1]
    assert text.index("Camille Galtier\nMaire de Manosque") < text.index("Ces échanges")


def test_agenda_items_have_an_organiser_and_labelled_links(render_settings, project_dir):
    rendered = _render(project_dir, render_settings, """\
        - type: recommandations
          groups:
            - title: Webinaires
              items:
                - title: Petites villes, soignez votre image numérique
                  date: 2020-12-03
                  end_date: 2020-12-04
                  organiser: Banque des Territoires
                  links:
                    - {label: Inscription ici, url: "https://www.banquedesterritoires.fr/webinaire"}
                    - {label: Plus d'informations ici, url: "https://www.banquedesterritoires.fr/"}
        """)
    html, text = rendered.html, rendered.text
    assert re.search(r"<strong[^>]*>Petites villes, soignez votre image numérique</strong>", html)
    assert re.search(r'<a href="https://www.banquedesterritoires.fr/webinaire"[^>]*>Inscription '
                     r"ici</a>", html)
    assert re.search(r">Plus d(&#39;|')informations ici</a>", html)
    assert "Organisé par Banque des Territoires" in html and "3 et 4 décembre 2020" in html
    assert "Inscription ici\u00a0: https://www.banquedesterritoires.fr/webinaire" in text
    assert "Organisé par Banque des Territoires" in text


def test_image_with_the_photo_before_its_title(render_settings, project_dir):
    section = """\
        - type: image
          photo_first: {first}
          photo: {{src: images/rencontre-paca-manosque.png, alt: La rencontre de Manosque}}
          kicker: Retour sur...
          headline: La rencontre régionale à Manosque
        """
    first = _render(project_dir, render_settings, section.format(first="true")).html
    after = _render(project_dir, render_settings, section.format(first="false")).html
    assert first.index("<img", first.index('<h2 class="lp-h2"')) < first.index(
        "La rencontre régionale à Manosque")
    assert after.index("La rencontre régionale à Manosque") < after.index(
        "<img", after.index('<h2 class="lp-h2"'))


def test_a_set_of_key_figures_in_one_chiffre_section(render_settings, project_dir):
    rendered = _render(project_dir, render_settings, """\
        - type: chiffre
          title: Les chiffres clés
          caption: Le Club au 23 novembre 2020
          figures:
            - {figure: "239", caption: communes inscrites}
            - {figure: "220", caption: chefs de projet}
            - {figure: "19", caption: départements représentés}
          source: ANCT
        """)
    html, text = rendered.html, rendered.text
    assert re.findall(r'class="lp-figure"[^>]*>(\d+)<', html) == ["239", "220", "19"]
    for words in ("communes inscrites", "chefs de projet", "départements représentés"):
        assert words in html and words in text
    assert text.index("239") < text.index("220") < text.index("19\n")


@pytest.mark.parametrize(("yaml_text", "message"), [
    ('figure: "84"\n    figures: [{figure: "1", caption: a}]\n    caption: b',
     "give either 'figure' or 'figures', not both"),
    ('figure: "84"', "missing required field 'caption'"),
    ("caption: a", "missing required field 'figure' (or a list of 'figures')"),
])
def test_chiffre_needs_one_figure_or_a_set(render_settings, project_dir, yaml_text, message):
    path = project_dir / "issues" / "shapes.yaml"
    path.write_text(HEADER + "  - type: chiffre\n    " + yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_issue(path, render_settings)
    assert any(message in p.message for p in caught.value.problems), caught.value.problems


def test_programme_page_reproduced_as_an_issue(render_settings, project_dir):
    """The programme's presentation page, its real sentences: a set of key figures, the
    minister's point of view introduced by name, labelled links, French typography."""
    rendered = render_issue(load_issue(project_dir / "issues" / "2020-10-pvd-1.yaml",
                                       render_settings), render_settings)
    html, text = rendered.html.replace("&nbsp;", "\u00a0"), rendered.text
    flat = text.replace("\n", " ")
    for part in (html, flat):
        assert "1ER OCTOBRE 2020 - LETTRE D'INFORMATION #1" in part
        assert "+1\u202f600" in part and "3 Md€" in part
        assert "la «\u00a0nouvelle donne territoriale\u00a0» et ses deux piliers\u00a0: la " \
               "transition" in part
        assert "le 1er octobre 2020" in part
        assert "20\u202f000 habitants" in part
    assert re.findall(r'class="lp-figure"[^>]*>([^<]+)<', html) == ["+1\u202f600", "3 Md€"]
    assert re.search(r">Voir en plein écran</a>", html)
    # Without a portrait, the quote comes first and is signed, as on the page.
    assert text.index("Si les petites centralités") < text.index("Jacqueline Gourault\nministre")
    assert "Voir en plein écran\u00a0: https://" in text
