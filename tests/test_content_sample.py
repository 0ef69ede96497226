"""The sample issue reproduces letter #42 of Petites villes de demain, section by section."""

from __future__ import annotations

import datetime as dt
import importlib.util
import struct
from pathlib import Path

import pytest

from letterpress.content import load_issue
from letterpress.content.model import Issue, Link
from letterpress.markup import links as markdown_links
from letterpress.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "issues" / "2024-12-pvd-42.yaml"


@pytest.fixture(scope="module")
def sample() -> Issue:
    return load_issue(SAMPLE, load_settings(ROOT, env={}))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_header(sample):
    assert sample.identity == "pvd#42"
    assert sample.date == dt.date(2024, 12, 16)
    assert sample.status == "ready"
    assert "#42" in sample.subject
    assert sample.intro.startswith("**Chaque mois, retrouvez dans cette lettre")
    assert "mailto:petitesvillesdedemain@anct.gouv.fr" in sample.intro


def test_every_section_of_the_letter_in_order(sample):
    assert [s.type for s in sample.sections] == [
        "actu", "chiffre", "image", "club", "club_departemental", "projetotheque",
        "offre_de_services", "webinaires", "on_parle_de_vous", "voir_aussi"]
    assert [s.title for s in sample.sections] == [
        "L'actu", "Le chiffre du mois", "L'image du mois", "Le Club", "Le Club départemental",
        "La projetothèque", "L'offre de services", "", "On parle de vous", "Voir aussi"]


def test_section_contents(sample):
    (actu, chiffre, image, club, departemental, projets, offre, webinaires, presse,
     voir) = sample.sections
    assert len(actu.items) == 1
    assert actu.items[0].signature.name == "Dominique Consille"
    assert actu.items[0].signature.role == "Directrice du programme PVD"
    assert (chiffre.figure, chiffre.unit) == ("84", "%")
    assert "« Les petites villes offrent la meilleure qualité de vie »" in chiffre.caption
    assert chiffre.source == 'Baromètre "Regard des Français"'
    assert image.kicker == "Retour sur..." and "Manosque" in image.headline
    assert image.photo.credit == "© ANCT"
    assert image.text.count("👉 Table ronde") == 2
    assert len(club.items) == 1
    event = club.items[0].event
    assert (event.date, event.start, event.end, event.online) == (
        dt.date(2025, 1, 14), dt.time(14), dt.time(15), True)
    assert club.items[0].links == [Link(label="Inscrivez-vous !",
                                        url="https://www.agence-france-locale.fr/")]
    assert len(departemental.items) == 1 and "Meurthe-et-Moselle" in departemental.items[0].title
    assert departemental.items[0].text.count("\n\n") == 2  # three paragraphs
    assert len(projets.cards) == 3
    assert [c.departement for c in projets.cards] == ["03", "08", "53"]
    assert [c.image.credit for c in projets.cards] == [
        "© Commentry Montmarault Néris Communauté",
        "© Communauté de Communes des Crêtes Préardennaises",
        "© Commune de Lassay-les-Châteaux"]
    assert [i.title for i in offre.items] == [
        "Plateforme Aide Territoires : 4430 aides recensées par 1133 porteurs d'aides dont 63 "
        "programmes d'aides nationaux",
        "Mobiliscope",
        "Petites Villes de Demain, la Banque des Territoires accompagne votre dynamique de "
        "transformation"]
    assert offre.items[1].kicker == "MOBILISCOPE"
    assert len(webinaires.items) == 2
    first, second = webinaires.items
    assert (first.organiser, first.date, first.start, first.end, first.place) == (
        "Banque des Territoires", dt.date(2024, 12, 17), dt.time(11), dt.time(12, 30), "Paris")
    assert (second.organiser, second.date, second.start, second.end) == (
        "Cerema", dt.date(2025, 1, 16), dt.time(14), dt.time(15, 30))
    assert presse.headline == "Découvrez la veille presse du programme"
    assert presse.image.credit == "© Commune de Tramayes"
    assert [i.label for i in voir.items] == ["Découvrir"]
    assert "Saint-Gildas-les-Bois (44)" in voir.items[0].text


VERBATIM = [
    "L'année 2024 a été charnière pour le programme, dont le déploiement a été confirmé par la "
    "signature de 119 nouvelles conventions cadres, portant le total à 90% des PVD.",
    "Cette journée a réuni 150 élus et chefs de projet des programmes nationaux Action Cœur de "
    "Ville et Petites Villes de Demain",
    "Enfin, la journée s'est terminée avec les arpentages de l'après-midi à Manosque (ACV), "
    "Oraison et Forcalquier (PVD).",
    "Un temps d'échange est également prévu afin que toutes vos questions ne restent pas sans "
    "réponse !",
    "L'ANCT a par ailleurs présenté les outils de suivi des projets Grist",
    "Cliquez sur les illustrations pour afficher les projets !",
    "Attigny et Signy l'Abbaye.",
    "N'hésitez pas à aller voir si votre commune y figure et à tester l'outil !",
    "Retrouvez-y les témoignages de deux PVD : Régny (42) et Aniche (59).",
    "pour connaître les actualités des Petites villes de demain !",
    "Les victoires du Paysage 2024 organisées par VALHOR",
]


def _all_text(value) -> str:
    if isinstance(value, str):
        return value
    if hasattr(type(value), "model_fields"):
        return "\n".join(_all_text(getattr(value, n)) for n in type(value).model_fields)
    if isinstance(value, list | tuple):
        return "\n".join(_all_text(v) for v in value)
    return ""


@pytest.mark.parametrize("sentence", VERBATIM)
def test_text_is_verbatim(sample, sentence):
    assert sentence in _all_text(sample)


def test_no_placeholder_links(sample):
    text = _all_text(sample)
    assert "](#)" not in text
    for block in text.split("\n"):
        for url in markdown_links(block):
            assert url.startswith(("https://", "mailto:")), url


def test_footer_adds_the_photo_credits_of_the_issue(sample):
    settings = load_settings(ROOT, env={})
    footer = sample.footer.apply(settings.publication("pvd").footer, "fr")
    assert footer.colophon[0] == ("Directeur de publication", "Stanislas Bourron")
    assert footer.colophon[-1] == (
        "Crédits photos", "ANCT, Banque des Territoires, DDT 54, AFL, Commune de "
        "Lassay-les-Châteaux, Communauté de Communes des Crêtes Préardennaises, Commentry "
        "Montmarault Néris Communauté.")
    assert "Informatique et libertés" in footer.legal_mention


def test_images_are_small_real_pngs_with_alt_text_and_credit(sample):
    images = list(sample.images())
    assert len(images) == 13
    assert len({i.local_path for i in images}) == 13  # all distinct
    for image in images:
        assert image.is_local and image.local_path.is_file()
        assert image.alt and len(image.alt) > 20, image.src
        assert image.credit.startswith("© ")
        assert image.local_path.stat().st_size < 8 * 1024
        assert _png_size(image.local_path) == (image.width, image.height)
    assert _png_size(ROOT / "images" / "logo-pvd.png") == (360, 120)


def test_images_are_regenerated_byte_for_byte():
    spec = importlib.util.spec_from_file_location(
        "make_images", ROOT / "issues" / "images" / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, draw in module.IMAGES.items():
        assert draw().png() == path.read_bytes(), path.name
