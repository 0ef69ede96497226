"""Errors an editor understands: YAML slips, placeholder links at their line, numbers twice."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from letterpress.cli import main

from .fixtures_content import *  # noqa: F403 - the fixtures of the content tests
from .fixtures_content import HEADER

SECTION = "sections:\n  - type: texte\n    text: Bonjour.\n"


def test_unquoted_french_colon_asks_for_quotes_at_the_value(problems_of):
    found = problems_of("publication: pvd\nnumber: 7\ndate: 2025-01-21\n"
                        "subject: Un chef de projet : pour quoi faire ?\n" + SECTION)
    assert found == [
        "issues/test.yaml:4:10: the value of 'subject' contains ': ', which YAML reads as a new "
        "field: put the whole value in quotes, e.g. subject: \"Un chef de projet : pour quoi "
        "faire ?\""]


@pytest.mark.parametrize(("value", "what"), [
    ("*Important* : la lettre", "starts an alias"),
    ("@ANCT répond", "is reserved"),
    ("`code` promo", "is reserved"),
    ("% des communes", "starts a directive"),
])
def test_value_starting_with_a_yaml_sign_asks_for_quotes(problems_of, value, what):
    found = problems_of(HEADER + "preheader: " + value + "\n" + SECTION)
    assert found == [f"issues/test.yaml:5:12: a value starting with '{value[0]}' {what} in "
                     f"YAML: put the whole value in quotes, e.g. preheader: \"{value}\""]


def test_value_starting_with_an_ampersand_is_not_lost(problems_of):
    found = problems_of(HEADER + "preheader: &Co, la lettre\n" + SECTION)
    assert found[0].startswith("issues/test.yaml:5:12: a value starting with '&' starts an "
                               "anchor")


def test_hash_cutting_a_url_or_a_sentence_is_reported(problems_of):
    found = problems_of(HEADER + "preheader: Nous sommes #1 en Bourgogne\n" + """\
sections:
  - type: texte
    text: Bonjour.
    links:
      - label: Lire
        url: https://www.anct.gouv.fr/page #haut
""")
    assert "issues/test.yaml:5:24: preheader: '#1 en Bourgogne' starts a comment here, so " \
           "'preheader' stops at 'Nous sommes': put the whole value in quotes to keep the '#'" \
        in found
    assert any(p.startswith("issues/test.yaml:11:44: sections[0].links[0].url: '#haut' starts "
                            "a comment") for p in found), found


def test_oui_non_are_not_booleans(problems_of):
    found = problems_of(HEADER + """\
sections:
  - type: club
    items:
      - title: Rencontre
        text: Bonjour.
        event: {date: 2025-01-14, online: oui}
""")
    assert found == ["issues/test.yaml:10:43: sections[0].items[0].event.online: 'oui' is not "
                     "true or false: write true (for oui) or false (for non)"]


@pytest.fixture
def run(project_dir, monkeypatch):
    monkeypatch.chdir(project_dir)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, ["-C", str(project_dir), *args],
                             env={"LETTERPRESS_DATABASE_URL": "sqlite://"})
    return invoke


@pytest.mark.parametrize("target", [
    "https://www.example.org/inscription", "https://example.com", "http://lettre.example.fr/x",
    "https://www.anct.gouv.fr/TODO"])
def test_placeholder_links_point_at_the_yaml_line(run, write_issue, target):
    write_issue(HEADER + f"""\
sections:
  - type: texte
    text: Voir [le programme](https://www.anct.gouv.fr/) et [ici]({target}).
    links: [{{label: Inscription ici, url: "{target}"}}]
""", "lint.yaml")
    result = run("check", "issues/lint.yaml")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert (f"issues/lint.yaml:7:67: sections[0].text: link with a placeholder target "
            f"'{target}' [error]") in lines, lines
    assert (f"issues/lint.yaml:8:43: sections[0].links[0].url: link with a placeholder target "
            f"'{target}' [error]") in lines, lines
    assert not any("index.html" in line for line in lines), lines


def test_two_files_with_the_same_publication_and_number_are_flagged(run, write_issue):
    write_issue(HEADER + SECTION, "a.yaml")
    write_issue(HEADER + SECTION, "b.yaml")
    result = run("check", "--no-render", "issues/a.yaml")
    assert result.exit_code == 1
    assert ("issues/a.yaml:2:9: number: pvd#7 is also claimed by issues/b.yaml: give each issue "
            "its own number [error]") in result.stderr.splitlines()


def test_new_takes_a_number(run, project_dir):
    result = run("new", "--date", "2020-11", "--number", "1")
    assert result.exit_code == 0, result.output
    path = project_dir / "issues" / "2020-11-pvd-1.yaml"
    assert "number: 1\n" in path.read_text()
    assert run("new", "--number", "0").exit_code == 2


def test_a_field_indented_under_another_is_an_indentation_problem_not_quotes(problems_of):
    found = problems_of("publication: pvd\nnumber: 7\ndate: 2025-01-21\n"
                        "subject: Test\n preheader: oops\n" + SECTION)
    assert found == [
        "issues/test.yaml:5:2: 'preheader' is indented more than 'subject' on line 4, so YAML "
        "reads it as the rest of that value: indent 'preheader' like the field it belongs with"]
