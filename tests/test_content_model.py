"""The issue model: every section type parses, defaults apply, hostile content is contained."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from letterpress.content import SECTION_TYPES, default_title, load_issue
from letterpress.content.model import (
    Actu,
    Agenda,
    Chiffre,
    Club,
    ClubDepartemental,
    ImageDuMois,
    Interview,
    Issue,
    OffreDeServices,
    OnParleDeVous,
    Projetotheque,
    Recommandations,
    Texte,
    Tribune,
    VoirAussi,
    Webinaires,
)
from letterpress.errors import ContentError

from .fixtures_content import *  # noqa: F403 - the fixtures of the content tests
from .fixtures_content import HEADER

EVERY_SECTION = HEADER + """\
preheader: Tout le programme en une lettre
status: ready
edito:
  text: Le mot de la directrice.
  name: Dominique Consille
  role: Directrice du programme
intro: |
  **Bonne année !**
sections:
  - type: actu
    items:
      - title: Une actu
        kicker: En bref
        text: Texte avec un [lien](https://www.example.org/).
        image: {src: images/mobiliscope.png, alt: Des flux, credit: © ANCT}
        links: [{label: Lire, url: "https://www.example.org/a"}]
        signature: {name: Dominique Consille, role: Directrice}
  - type: chiffre
    figure: 84
    unit: "%"
    caption: des Français
    source: Baromètre
  - type: image
    title: Photo du mois
    photo: {src: "https://cdn.example.org/p.jpg", alt: Une place, width: 600, height: 300}
    kicker: Retour sur...
    headline: La rencontre
    text: Texte.
  - type: club
    items:
      - title: Webinaire AFL
        text: Présentation.
        event: {date: 2025-01-14, start: "14:00", end: "15:00", online: true}
        links: [{label: Inscrivez-vous !, url: "https://www.example.org/i"}]
  - type: club_departemental
    items:
      - label: Focus
        title: Journée 54
        text: Compte rendu.
        event: {date: 2024-11-26, place: Toul}
  - type: projetotheque
    intro: La [projetothèque](https://www.example.org/p).
    link: {label: Tous les projets, url: "https://www.example.org/p"}
    cards:
      - title: Exposition
        departement: 03
        image: {src: images/projet-exposition-commentry.png, alt: Des panneaux}
        summary: Résumé.
        url: https://www.example.org/p/1
      - title: Corse
        departement: 2A
        image: {src: images/projet-commerces-cretes.png, alt: Des commerces}
        summary: Résumé.
        url: https://www.example.org/p/2
      - title: Guadeloupe
        departement: 971
        image: {src: images/projet-pole-culture-lassay.png, alt: Un bâtiment}
        summary: Résumé.
        url: https://www.example.org/p/3
  - type: webinaires
    items:
      - title: Résilience
        organiser: Cerema
        date: 2025-01-16
        start: 14:00
        end: 15:30
        text: En ligne.
        registration_url: https://www.example.org/w
  - type: offre_de_services
    items:
      - kicker: MOBILISCOPE
        title: Mobiliscope
        text: Une plateforme.
        url: https://mobiliscope.cnrs.fr/
  - type: on_parle_de_vous
    image: {src: images/veille-presse-tramayes.png, alt: Un journal, credit: © Commune de Tramayes}
    headline: La veille presse
    text: Chaque jour.
  - type: voir_aussi
    items:
      - {label: Découvrir, text: "Les [lauréats](https://www.example.org/l)."}
  - type: interview
    person: Camille Galtier
    role: Maire de Manosque
    photo: {src: images/rencontre-paca-manosque.png, alt: Portrait}
    qa:
      - {question: "Pourquoi ?", answer: Parce que.}
      - {question: "Comment ?", answer: Ensemble.}
  - type: tribune
    headline: Un point de vue
    author: Un élu
    text: Mon avis.
  - type: agenda
    groups:
      - title: Janvier
        items:
          - {title: Salon, date: 2025-01-20, end_date: 2025-01-22, place: Paris}
  - type: recommandations
    groups:
      - title: À lire
        items: [{title: Un guide, url: "https://www.example.org/g", text: Utile.}]
  - type: texte
    text: Un texte libre.
  - type: texte
    title: Avec un titre
    text: Encore.
    image: {src: images/aides-territoires.png, alt: "", decorative: true}
footer:
  photo_credits: ANCT, Cerema
  colophon: [[Directeur de publication, Stanislas Bourron]]
"""


@pytest.fixture
def every_section(write_issue, content_settings) -> Issue:
    return load_issue(write_issue(EVERY_SECTION), content_settings)


def test_every_section_type_parses(every_section):
    kinds = [s.type for s in every_section.sections]
    assert set(kinds) == set(SECTION_TYPES)
    classes = [Actu, Chiffre, ImageDuMois, Club, ClubDepartemental, Projetotheque, Webinaires,
               OffreDeServices, OnParleDeVous, VoirAussi, Interview, Tribune, Agenda,
               Recommandations, Texte, Texte]
    assert [type(s) for s in every_section.sections] == classes


def test_values_are_typed(every_section):
    actu, chiffre, image, club, dep, projets, webinaires = every_section.sections[:7]
    assert every_section.number == 7 and every_section.date == dt.date(2025, 1, 21)
    assert every_section.status == "ready"
    assert every_section.edito.name == "Dominique Consille"
    assert actu.items[0].signature.role == "Directrice"
    assert actu.items[0].links[0].url == "https://www.example.org/a"
    # A plain 84 stays the text "84"; a plain 03 stays the département code "03".
    assert chiffre.figure == "84"
    assert [c.departement for c in projets.cards] == ["03", "2A", "971"]
    assert image.photo.width == 600 and image.photo.local_path is None
    event = club.items[0].event
    assert (event.date, event.start, event.end, event.online) == (
        dt.date(2025, 1, 14), dt.time(14), dt.time(15), True)
    assert dep.items[0].event.place == "Toul" and dep.items[0].event.start is None
    # Unquoted 14:00 is a time, not YAML 1.1's sexagesimal 840.
    assert webinaires.items[0].start == dt.time(14) and webinaires.items[0].end == dt.time(15, 30)
    assert webinaires.items[0].online is True
    interview = every_section.sections[10]
    assert [qa.question for qa in interview.qa] == ["Pourquoi ?", "Comment ?"]
    agenda = every_section.sections[12]
    assert agenda.groups[0].items[0].end_date == dt.date(2025, 1, 22)


def test_default_titles_per_type_and_override(every_section):
    titles = {s.type: s.title for s in every_section.sections[:-2]}
    assert titles["actu"] == "L'actu"
    assert titles["chiffre"] == "Le chiffre du mois"
    assert titles["image"] == "Photo du mois"  # overridden in the file
    assert titles["club_departemental"] == "Le Club départemental"
    assert titles["projetotheque"] == "La projetothèque"
    assert titles["recommandations"] == "Nos recommandations"
    assert [s.title for s in every_section.sections[-2:]] == ["", "Avec un titre"]


def test_default_titles_follow_the_publication_language():
    assert default_title("actu", "fr") == "L'actu"
    assert default_title("actu", "en") == "News"
    assert default_title("actu", "xx") == "L'actu"
    data = {"publication": "x", "number": 1, "date": "2025-01-01", "subject": "s",
            "sections": [{"type": "agenda", "groups": [{"title": "g", "items": [{"title": "t"}]}]}]}
    assert Issue.model_validate(data, context={"language": "en"}).sections[0].title == "Diary"
    assert Issue.model_validate(data).sections[0].title == "Agenda"


def test_loader_computes_identity_hash_and_local_images(every_section, project_dir):
    path = project_dir / "issues" / "test.yaml"
    assert every_section.identity == "pvd#7" and every_section.slug == "7"
    assert every_section.source_path == path.resolve()
    assert every_section.source_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    images = list(every_section.images())
    local = [i for i in images if i.is_local]
    assert local[0].local_path == (project_dir / "issues" / "images" / "mobiliscope.png").resolve()
    assert len(images) == 8 and len(local) == 7
    assert images[-1].decorative and images[-1].alt == ""


def test_footer_override_applies_to_publication_footer(every_section, content_settings):
    footer = every_section.footer.apply(content_settings.publication("pvd").footer, "fr")
    assert footer.colophon == (("Directeur de publication", "Stanislas Bourron"),
                               ("Crédits photos", "ANCT, Cerema"))
    assert footer.organisation == "Agence nationale de la cohésion des territoires"


def test_model_is_frozen(every_section):
    with pytest.raises(Exception, match="frozen"):
        every_section.number = 8  # type: ignore[misc]


def test_script_is_kept_as_text_for_the_renderer_to_escape(problems_of, write_issue,
                                                             content_settings):
    text = HEADER + """\
sections:
  - type: texte
    title: <script>alert(1)</script>
    text: "Bonjour <script>alert('x')</script> <img src=x onerror=alert(1)>"
"""
    issue = load_issue(write_issue(text), content_settings)
    assert issue.sections[0].title == "<script>alert(1)</script>"
    assert "<script>alert('x')</script>" in issue.sections[0].text


def test_hostile_links_are_refused(problems_of):
    assert problems_of(HEADER + """\
sections:
  - type: texte
    text: "[clic](javascript:alert(1)) [data](data:text/html,x) [ok](https://a.fr) [vide]()"
    links:
      - {label: a, url: "JavaScript:alert(1)"}
      - {label: b, url: "#"}
      - {label: c, url: "mailto:contact@example.org"}
      - {label: d, url: "https://"}
""") == [
        "issues/test.yaml:7:19: sections[0].text: link 'javascript:alert(1)' refused "
        "(javascript:): only http, https and mailto links are allowed",
        "issues/test.yaml:7:47: sections[0].text: link 'data:text/html,x' refused (data:): "
        "only http, https and mailto links are allowed",
        "issues/test.yaml:7:90: sections[0].text: placeholder link '': give the real address "
        "(https://…)",
        "issues/test.yaml:9:26: sections[0].links[0].url: link 'JavaScript:alert(1)' refused "
        "(javascript:): only http, https and mailto links are allowed",
        "issues/test.yaml:10:26: sections[0].links[1].url: placeholder link '#': give the real "
        "address (https://…)",
        "issues/test.yaml:12:26: sections[0].links[3].url: invalid address 'https://'",
    ]


@pytest.mark.parametrize("escaped", ["\\r\\n", "\\n", "\\u2028", "\\x85"])
def test_line_breaks_in_subject_are_refused(problems_of, escaped):
    text = HEADER.replace("subject: Lettre de janvier",
                          f'subject: "Lettre{escaped}Bcc: victim@example.org"')
    assert problems_of(text + "sections: [{type: texte, text: a}]\n") == [
        "issues/test.yaml:4:10: subject: must be a single line (no line breaks)"]


def test_image_paths_must_stay_in_the_issue_folder(problems_of, project_dir):
    (project_dir / "secret.png").write_bytes(b"x")
    assert problems_of(HEADER + """\
sections:
  - type: texte
    text: a
    image: {src: ../secret.png, alt: Un secret}
  - type: texte
    text: b
    image: {src: /etc/passwd, alt: x}
  - type: texte
    text: c
    image: {src: "javascript:alert(1)", alt: x}
""") == [
        "issues/test.yaml:8:18: sections[0].image.src: image '../secret.png' is outside the "
        "issue folder",
        "issues/test.yaml:11:18: sections[1].image.src: image path '/etc/passwd' must be "
        "relative to the issue folder",
        "issues/test.yaml:14:19: sections[2].image.src: image source 'javascript:alert(1)' "
        "refused: use an https URL or a file in the issue folder",
    ]


def test_computed_attributes_cannot_be_written(problems_of):
    assert problems_of(HEADER + """\
source_hash: abc
sections:
  - type: texte
    text: a
    image: {src: images/logo.png, alt: x, local_path: /etc/passwd}
""") == [
        "issues/test.yaml:5:1: source_hash: unknown field 'source_hash' (computed by letterpress)",
        "issues/test.yaml:9:18: sections[0].image.src: image file not found: images/logo.png",
        "issues/test.yaml:9:43: sections[0].image.local_path: unknown field 'local_path' "
        "(computed by letterpress)",
    ]


def test_content_error_lists_problems_sorted(write_issue, content_settings):
    path = write_issue(HEADER.replace("number: 7", "number: -1") + "sections: []\n")
    with pytest.raises(ContentError) as info:
        load_issue(path, content_settings)
    lines = [p.line for p in info.value.problems]
    assert lines == sorted(lines) and len(lines) == 2
