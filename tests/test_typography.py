"""French typography done by the product, tested on the sample letters' real sentences;
English publications keep English rules."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

import pytest

from letterpress.content import load_issue
from letterpress.render import render_issue
from letterpress.render.dates import format_date_range, format_day, format_long
from letterpress.render.typography import NARROW_NBSP as NN
from letterpress.render.typography import NBSP, typeset

from .fixtures_render import *  # noqa: F403 - fixtures

D = dt.date

# Sentences of the reference letters (issue #42 and the programme's page).
REAL = {
    "Cette lettre d'information est pour vous : nous sommes à votre écoute":
        f"Cette lettre d'information est pour vous{NBSP}: nous sommes à votre écoute",
    "toutes vos questions ne restent pas sans réponse !":
        f"toutes vos questions ne restent pas sans réponse{NN}!",
    "portant sur le thème « L'Habitat sous l'aspect opérationnel pour les villes ACV/PVD »":
        f"portant sur le thème «{NBSP}L'Habitat sous l'aspect opérationnel pour les villes "
        f"ACV/PVD{NBSP}»",
    "en concrétisant la « nouvelle donne territoriale » et ses deux piliers : la transition":
        f"en concrétisant la «{NBSP}nouvelle donne territoriale{NBSP}» et ses deux "
        f"piliers{NBSP}: la transition",
    "Petites villes de demain, c'est : +1 600 communes accompagnées par le programme":
        f"Petites villes de demain, c'est{NBSP}: +1{NN}600 communes accompagnées par le programme",
    "Plateforme Aide Territoires : 4 430 aides recensées par 1 133 porteurs d'aides":
        f"Plateforme Aide Territoires{NBSP}: 4{NN}430 aides recensées par 1{NN}133 porteurs d'aides",
    "84 % des françaises et français": f"84{NN}% des françaises et français",
    "Un chef de projet : pour quoi faire ?": f"Un chef de projet{NBSP}: pour quoi faire{NN}?",
    "NB : seule la carte interactive est mise à jour en temps réel ; elle comporte la liste":
        f"NB{NBSP}: seule la carte interactive est mise à jour en temps réel{NN}; elle comporte "
        "la liste",
}


@pytest.mark.parametrize("sentence", list(REAL))
def test_french_sentences_get_their_non_breaking_spaces(sentence):
    assert typeset(sentence, "fr") == REAL[sentence]


def test_typeset_leaves_links_times_and_glued_marks_alone():
    for text in ("https://www.anct.gouv.fr/?page=2#haut", "mardi 14 janvier de 14h00 à 15h00",
                 "[lauréats ici](https://www.valhor.fr/victoires)", "2020-2026", "Q:R"):
        assert typeset(text, "fr") == text
    assert typeset(REAL["84 % des françaises et français"] + " ?", "fr") == typeset(
        typeset("84 % des françaises et français ?", "fr"), "fr")  # idempotent


def test_english_keeps_english_rules():
    assert typeset("Publisher: Stanislas Bourron", "en") == "Publisher: Stanislas Bourron"
    assert typeset("Why ? Because !", "en") == "Why ? Because !"


@pytest.mark.parametrize(("start", "end", "fr", "en"), [
    (D(2020, 12, 1), None, "1er décembre 2020", "1 December 2020"),
    (D(2020, 12, 3), D(2020, 12, 4), "3 et 4 décembre 2020", "3–4 December 2020"),
    (D(2020, 11, 30), D(2020, 12, 2), "du 30 novembre au 2 décembre 2020",
     "30 November – 2 December 2020"),
    (D(2020, 12, 1), D(2020, 12, 7), "du 1er au 7 décembre 2020", "1–7 December 2020"),
    (D(2020, 12, 30), D(2021, 1, 2), "du 30 décembre 2020 au 2 janvier 2021",
     "30 December 2020 – 2 January 2021"),
])
def test_dates_and_ranges_as_the_language_writes_them(start, end, fr, en):
    assert format_date_range(start, end, "fr") == fr
    assert format_date_range(start, end, "en") == en


def test_first_of_the_month_everywhere():
    assert format_long(D(2020, 10, 1), "fr") == "1er octobre 2020"  # "lancé le 1er octobre 2020"
    assert format_day(D(2020, 12, 1), "fr") == "mardi 1er décembre"
    assert format_long(D(2020, 12, 16), "fr") == "16 décembre 2020"


def _issue(project_dir, publication: str):
    path = project_dir / "issues" / "typo.yaml"
    path.write_text(textwrap.dedent(f"""\
        publication: {publication}
        number: 90
        date: 2020-12-01
        subject: "Un chef de projet : pour quoi faire ?"
        intro: "Le programme a été lancé le 1er octobre 2020 : « nouvelle donne territoriale »."
        sections:
          - type: club
            items:
              - title: "Un chef de projet : pour quoi faire ?"
                text: Les 3 et 4 décembre.
                event: {{date: 2020-12-01, place: Manosque}}
          - type: agenda
            groups:
              - title: Décembre
                items:
                  - {{title: Salon des maires, date: 2020-11-30, end_date: 2020-12-02}}
                  - {{title: Rencontres, date: 2020-12-03, end_date: 2020-12-04}}
        """), encoding="utf-8")
    return path


def test_rendered_french_issue_is_typeset_in_html_and_text(render_settings, project_dir):
    rendered = render_issue(load_issue(_issue(project_dir, "pvd"), render_settings),
                            render_settings)
    html, text = rendered.html, rendered.text
    for part in (html.replace("&nbsp;", NBSP), text.replace("\n", " ")):
        assert f"«{NBSP}nouvelle donne territoriale{NBSP}»" in part
        assert "du 30 novembre au 2 décembre 2020" in part
        assert "3 et 4 décembre 2020" in part
        assert "mardi 1er décembre" in part
        assert f"Directeur de publication{NBSP}: Stanislas Bourron" in part
        assert f"pour quoi faire{NN}?" in part
        assert "1ER DÉCEMBRE 2020" in part
    # No line of the text part starts with a closing mark.
    assert not re.search(r"^\s*[»?!;:]", text, re.M)


def test_rendered_english_issue_keeps_english_colons(render_settings, project_dir):
    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace(
        'name = "Lettre Action cœur de ville"\nlanguage = "fr"',
        'name = "Lettre Action cœur de ville"\nlanguage = "en"'))
    from letterpress.settings import load_settings

    settings = load_settings(project_dir, {"LETTERPRESS_BASE_URL": "https://x.org"})
    rendered = render_issue(load_issue(_issue(project_dir, "acv"), settings), settings)
    assert "Directeur de publication: Stanislas Bourron" in rendered.text
    assert "Directeur de publication : " not in rendered.text
    assert "Un chef de projet : pour quoi faire ?" in rendered.text  # as written
    assert "30 November – 2 December 2020" in rendered.text
