"""Loading issue files: every problem at once, each at the exact position of its node."""

from __future__ import annotations

import pytest

from letterpress.content import load_issue
from letterpress.errors import ContentError

from .fixtures_content import *  # noqa: F403 - the fixtures of the content tests
from .fixtures_content import HEADER

VALID_TYPES = ("actu, chiffre, image, club, club_departemental, projetotheque, webinaires, "
               "offre_de_services, on_parle_de_vous, voir_aussi, interview, tribune, agenda, "
               "recommandations, texte")


def test_a_valid_file_has_no_problems(problems_of):
    assert problems_of(HEADER + "sections: [{type: texte, text: Bonjour}]\n") == []


def test_unknown_key_with_did_you_mean(problems_of):
    assert problems_of(HEADER + """\
preheadr: Tout
sections:
  - type: actu
    items:
      - title: Une actu
        txet: Bonjour
        text: Bonjour
        imag: {src: images/mobiliscope.png, alt: x}
        zzzz: 1
""") == [
        "issues/test.yaml:5:1: preheadr: unknown field 'preheadr' (did you mean 'preheader'?)",
        "issues/test.yaml:10:9: sections[0].items[0].txet: unknown field 'txet' "
        "(did you mean 'text'?)",
        "issues/test.yaml:12:9: sections[0].items[0].imag: unknown field 'imag' "
        "(did you mean 'image'?)",
        "issues/test.yaml:13:9: sections[0].items[0].zzzz: unknown field 'zzzz'; allowed: "
        "title, kicker, text, image, links, signature",
    ]


def test_missing_required_fields_point_at_the_parent_mapping(problems_of):
    assert problems_of("""\
publication: pvd
number: 3
date: 2025-01-21
sections:
  - type: webinaires
    items:
      - title: Résilience
        organiser: Cerema
        date: 2025-01-16
        start: "14:00"
        text: En ligne.
""") == [
        "issues/test.yaml:1:1: subject: missing required field 'subject'",
        "issues/test.yaml:7:9: sections[0].items[0].end: missing required field 'end'",
        "issues/test.yaml:7:9: sections[0].items[0].registration_url: missing required field "
        "'registration_url'",
    ]


def test_bad_dates_times_numbers_and_booleans(problems_of):
    assert problems_of("""\
publication: pvd
number: quarante-deux
date: 16/12/2024
subject: Lettre
sections:
  - type: club
    items:
      - title: Webinaire
        text: a
        event: {date: 2025-02-30, start: 14h00, end: "25:00", online: peut-être}
  - type: webinaires
    items:
      - {title: t, organiser: o, date: 2025-01-16, start: "15:00", end: "14:00", text: x,
         registration_url: "https://www.example.org/"}
""") == [
        "issues/test.yaml:2:9: number: 'quarante-deux' is not a whole number",
        "issues/test.yaml:3:7: date: invalid date '16/12/2024': write it as YYYY-MM-DD, "
        "e.g. 2024-12-16",
        "issues/test.yaml:10:23: sections[0].items[0].event.date: invalid date '2025-02-30': "
        "write it as YYYY-MM-DD, e.g. 2024-12-16",
        "issues/test.yaml:10:42: sections[0].items[0].event.start: invalid time '14h00': write "
        "it as HH:MM (24 h), e.g. 14:00",
        "issues/test.yaml:10:54: sections[0].items[0].event.end: invalid time '25:00': write it "
        "as HH:MM (24 h), e.g. 14:00",
        "issues/test.yaml:10:71: sections[0].items[0].event.online: 'peut-être' is not true "
        "or false",
        "issues/test.yaml:13:73: sections[1].items[0].end: end time must be after start time",
    ]


def test_missing_alt_text_unless_decorative(problems_of):
    assert problems_of(HEADER + """\
sections:
  - type: image
    photo:
      src: images/mobiliscope.png
    headline: Sans alt
  - type: texte
    text: a
    image: {src: images/mobiliscope.png, alt: "  "}
  - type: texte
    text: b
    image: {src: images/mobiliscope.png, alt: "", decorative: true}
""") == [
        "issues/test.yaml:8:7: sections[0].photo.alt: alt text is required: describe the "
        "image, or set 'decorative: true' for a purely decorative one",
        "issues/test.yaml:12:47: sections[1].image.alt: alt text is required: describe the "
        "image, or set 'decorative: true' for a purely decorative one",
    ]


def test_unknown_section_type_lists_the_valid_ones(problems_of):
    assert problems_of(HEADER + """\
sections:
  - type: chifre
    figure: "84"
  - type: podcast
  - title: Sans type
""") == [
        "issues/test.yaml:6:11: sections[0].type: unknown section type 'chifre' "
        f"(did you mean 'chiffre'?); valid types: {VALID_TYPES}",
        "issues/test.yaml:8:11: sections[1].type: unknown section type 'podcast'; "
        f"valid types: {VALID_TYPES}",
        f"issues/test.yaml:9:5: sections[2]: a section needs a 'type': one of {VALID_TYPES}",
    ]


def test_unknown_publication_and_image_not_found(problems_of):
    assert problems_of(HEADER.replace("publication: pvd", "publication: pdv") + """\
sections:
  - type: texte
    text: a
    image: {src: images/absente.png, alt: Une image}
""") == [
        "issues/test.yaml:1:14: publication: unknown publication 'pdv' (known: pvd, acv, stt)",
        "issues/test.yaml:8:18: sections[0].image.src: image file not found: images/absente.png",
    ]


def test_departement_codes_and_empty_lists(problems_of):
    assert problems_of(HEADER + """\
sections:
  - type: projetotheque
    cards:
      - title: t
        departement: 96
        image: {src: images/mobiliscope.png, alt: x}
        summary: s
        url: https://www.example.org/
  - type: actu
    items: []
""") == [
        "issues/test.yaml:9:22: sections[0].cards[0].departement: '96' is not a département "
        "code (01–95, 2A, 2B, 971–978; quote it: \"03\")",
        "issues/test.yaml:14:12: sections[1].items: needs at least 1 item(s)",
    ]


def test_every_problem_is_reported_at_once(problems_of):
    found = problems_of("""\
publication: nope
number: 0
date: demain
subject: ""
status: sent
sections:
  - type: actu
    items:
      - title: a
        text: "[x](javascript:void(0))"
        image: {src: https://cdn.example.org/a.png}
  - type: agenda
    groups: [{title: g, items: [{title: e, date: hier}]}]
  - type: inconnu
""")
    assert [line.split(": ")[1] for line in found] == [
        "publication", "number", "date", "subject", "status", "sections[0].items[0].text",
        "sections[0].items[0].image.alt", "sections[1].groups[0].items[0].date",
        "sections[2].type"]


# ------------------------------------------------------------------ malformed YAML


def test_duplicate_keys_are_reported(problems_of):
    assert problems_of(HEADER + """\
subject: Un autre sujet
sections:
  - type: texte
    text: a
    text: b
""") == [
        "issues/test.yaml:5:1: subject: duplicate key 'subject' (first defined at line 4)",
        "issues/test.yaml:9:5: sections[0].text: duplicate key 'text' (first defined at line 8)",
    ]


def test_tabs_are_reported_with_their_position(problems_of):
    assert problems_of(HEADER + "sections:\n  - type: texte\n\ttext: a\n") == [
        "issues/test.yaml:7:1: tab character: YAML is indented with spaces, never tabs"]


def test_bad_indentation_is_reported_not_raised(problems_of):
    found = problems_of(HEADER + """\
sections:
  - type: texte
    text: a
   title: mal indenté
""")
    assert len(found) == 1
    assert found[0].startswith("issues/test.yaml:8:4: malformed YAML: ")


def test_unclosed_quote_and_other_syntax_errors(problems_of):
    found = problems_of('publication: "pvd\nnumber: 1\n')
    assert len(found) == 1 and found[0].startswith("issues/test.yaml:3:1: malformed YAML:")


@pytest.mark.parametrize(("text", "message"), [
    ("", "issues/test.yaml:1:1: the file is empty"),
    ("# only a comment\n", "issues/test.yaml:1:1: the file is empty"),
    ("- a\n- b\n", "issues/test.yaml:1:1: an issue file is a mapping of fields (publication, "
                   "number, date, subject, sections…)"),
    (HEADER + "sections: [{type: texte, text: a}]\n---\nnumber: 2\n",
     "issues/test.yaml:7:1: one issue per file: remove the second '---' document"),
])
def test_files_that_are_not_an_issue(problems_of, text, message):
    assert problems_of(text) == [message]


def test_non_utf8_and_missing_files(write_issue, content_settings, tmp_path):
    path = write_issue("x")
    path.write_bytes(HEADER.encode() + "subject: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ContentError) as info:
        load_issue(path, content_settings)
    assert [p.message for p in info.value.problems] == ["the file is not UTF-8 text"]
    assert info.value.problems[0].line == 5
    with pytest.raises(ContentError, match="cannot read the file"):
        load_issue(tmp_path / "absent.yaml", content_settings)


def test_yaml_1_1_surprises_do_not_apply(write_issue, content_settings):
    """NO, 03, 14:00 and 1e3 are read as the editor meant them."""
    issue = load_issue(write_issue(HEADER + """\
sections:
  - type: chiffre
    figure: 1e3
    unit: NO
    caption: 0x10
"""), content_settings)
    section = issue.sections[0]
    assert (section.figure, section.unit, section.caption) == ("1e3", "NO", "0x10")


def test_self_referring_aliases_and_alias_bombs_are_refused(problems_of):
    assert problems_of(HEADER + "sections: &s [*s]\n") == [
        "issues/test.yaml:5:11: sections[0]: an alias refers to itself",
        "issues/test.yaml:5:11: sections[0]: must not be empty",
    ]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(6))
    assert problems_of(bomb) == [
        "issues/test.yaml:1:1: too many values (over 200000, counting what aliases repeat): "
        "an issue is much smaller than that"]


def test_deep_nesting_is_a_problem_not_a_crash(problems_of):
    # The mapping is level 1 and the first "[" (column 4) level 2: level 65 crosses the limit.
    assert problems_of("a: " + "[" * 5000 + "]" * 5000 + "\n") == [
        "issues/test.yaml:1:67: values are nested too deeply"]


def test_deep_block_nesting_points_at_the_line_that_crosses_the_limit(problems_of):
    text = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "x\n"
    assert problems_of(text) == ["issues/test.yaml:65:129: values are nested too deeply"]


def test_deep_nesting_reads_the_same_whichever_guard_fires_first(problems_of, monkeypatch):
    """The message is the product's own, not the parser's (whose wording changes)."""
    from letterpress.content import yaml_loader

    monkeypatch.setattr(yaml_loader, "MAX_DEPTH", 10**6)  # the parser's own limit fires first
    (problem,) = problems_of("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem.startswith("issues/test.yaml:1:")
    assert problem.endswith(": values are nested too deeply")


def test_anchors_are_valid_and_unique(problems_of):
    assert problems_of(HEADER + """\
sections:
  - {type: texte, text: a, anchor: agenda}
  - {type: texte, text: c, anchor: "Pas Bon"}
""") == [
        "issues/test.yaml:7:36: sections[1].anchor: 'Pas Bon' is not a valid anchor: use "
        "lowercase letters, digits, '-' and '_'",
    ]
    # Whole-issue checks run once every field is valid.
    assert problems_of(HEADER + """\
sections:
  - {type: texte, text: a, anchor: agenda}
  - {type: texte, text: b, anchor: agenda}
""") == [
        "issues/test.yaml:7:36: sections[1].anchor: anchor 'agenda' is already used by "
        "another section",
    ]


def test_colophon_entries_are_pairs(problems_of):
    assert problems_of(HEADER + """\
sections: [{type: texte, text: a}]
footer:
  colophon:
    - [Directeur de publication, Stanislas Bourron, en trop]
    - [Rédaction]
""") == [
        "issues/test.yaml:8:7: footer.colophon[0]: expected a [label, value] pair",
        "issues/test.yaml:9:7: footer.colophon[1]: expected a [label, value] pair",
    ]


def test_public_names_exist():
    import letterpress.content as content
    import letterpress.content.fields as fields
    import letterpress.content.model as model
    import letterpress.content.parts as parts

    for module in (content, fields, model, parts):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_invisible_control_characters_are_refused_where_they_are(problems_of):
    # A raw one is refused by the YAML parser itself; an escaped one reaches the model.
    assert problems_of(HEADER + """\
sections:
  - type: texte
    title: "Le mot\\vdu mois"
    text: "Bonjour\\u0007 à tous"
""") == [
        "issues/test.yaml:7:12: sections[0].title: contains an invisible control character "
        "(U+000B, often pasted from a word processor): remove it",
        "issues/test.yaml:8:11: sections[0].text: contains an invisible control character "
        "(U+0007, often pasted from a word processor): remove it",
    ]
