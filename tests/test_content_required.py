"""Required text that is empty is refused like missing text, at its position."""

from __future__ import annotations

from .fixtures_content import *  # noqa: F403 - the fixtures of the content tests
from .fixtures_content import HEADER


def test_empty_headline_is_refused(problems_of):
    found = problems_of(HEADER + """\
sections:
  - type: on_parle_de_vous
    headline: ""
    text: Chaque jour, une sélection d'articles de presse.
""")
    assert found == ["issues/test.yaml:7:15: sections[0].headline: must not be empty"]


def test_empty_figure_is_refused(problems_of):
    found = problems_of(HEADER + """\
sections:
  - type: chiffre
    figure: ""
    caption: des Françaises et des Français pensent que…
""")
    assert found == ["issues/test.yaml:7:13: sections[0].figure: must not be empty"]


def test_empty_question_and_answer_are_refused(problems_of):
    found = problems_of(HEADER + """\
sections:
  - type: interview
    person: Camille Galtier
    photo: {src: https://www.anct.gouv.fr/portrait.jpg, alt: Portrait}
    qa: [{question: "", answer: ""}]
""")
    assert "issues/test.yaml:9:21: sections[0].qa[0].question: must not be empty" in found
    assert "issues/test.yaml:9:33: sections[0].qa[0].answer: must not be empty" in found
    assert len(found) == 2


def test_blank_text_counts_as_empty(problems_of):
    found = problems_of(HEADER + """\
sections:
  - type: texte
    text: "   "
""")
    assert found == ["issues/test.yaml:7:11: sections[0].text: must not be empty"]


def test_optional_text_may_stay_empty(problems_of):
    assert problems_of(HEADER + """\
intro: ""
sections:
  - type: texte
    title: ""
    text: Un texte.
""") == []
