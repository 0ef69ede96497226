"""Golden output of every publication of the repository: the reference issue #42 (pvd), the
every-section fixture in acv's theme, and stt's sample (its own masthead and declared section
types).  Any change to templates or rendering shows up here as a reviewable diff of
tests/golden/<publication>-<issue>.txt and .html.

Regenerate after an intended change, then review ``git diff tests/golden``:

    LETTERPRESS_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_render_golden.py
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

import pytest

from letterpress.render import render_issue

from .fixtures_render import *  # noqa: F403 - fixtures

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("LETTERPRESS_REGENERATE_GOLDEN") == "1"


@pytest.fixture
def sample_rendered(sample_issue, render_settings):
    return render_issue(sample_issue, render_settings)


def _check(name: str, actual: str, *, full_diff: bool) -> None:
    path = GOLDEN / name
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(f"{path} missing: run LETTERPRESS_REGENERATE_GOLDEN=1 pytest {__file__}")
    expected = path.read_text(encoding="utf-8")
    if expected == actual:
        return
    if full_diff:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"golden/{name}", "rendered"))
        pytest.fail(f"{name} differs from the golden file:\n{diff}")
    # The HTML is compared by hash and size; the first differing line points at the change.
    digest = hashlib.sha256
    first = next((i for i, (a, b) in enumerate(zip(expected.splitlines(), actual.splitlines(),
                                                    strict=False)) if a != b), None)
    pytest.fail(f"{name}: sha256 {digest(actual.encode()).hexdigest()[:12]} ({len(actual)} chars) "
                f"!= golden {digest(expected.encode()).hexdigest()[:12]} ({len(expected)} chars); "
                f"first difference on line {None if first is None else first + 1}. "
                "If intended, regenerate (see this module's docstring) and review git diff.")


def test_sample_text_part_matches_golden(sample_rendered):
    _check("pvd-42.txt", sample_rendered.text, full_diff=True)


def test_sample_html_matches_golden(sample_rendered):
    # One tag per line in the golden file, so that a template change is a readable git diff.
    _check("pvd-42.html", sample_rendered.html.replace("><", ">\n<"), full_diff=False)


def _other_samples(render_settings, project_dir):
    import shutil

    from letterpress.content import load_issue

    from .fixtures_render import ALL_SECTIONS

    folder = project_dir / "acv-sample"
    shutil.copytree(ALL_SECTIONS.parent, folder)
    acv = folder / ALL_SECTIONS.name
    acv.write_text(acv.read_text().replace("publication: pvd", "publication: acv"))
    return {
        "acv-all-sections": load_issue(acv, render_settings),
        "stt-1": load_issue(project_dir / "issues" / "2021-01-stt-1.yaml", render_settings),
    }


@pytest.mark.parametrize("name", ["acv-all-sections", "stt-1"])
def test_every_publication_matches_its_golden_build(render_settings, project_dir, name):
    rendered = render_issue(_other_samples(render_settings, project_dir)[name], render_settings)
    _check(f"{name}.txt", rendered.text, full_diff=True)
    _check(f"{name}.html", rendered.html.replace("><", ">\n<"), full_diff=False)


def test_every_publication_of_the_repository_has_a_golden_build():
    from letterpress.settings import load_settings

    root = Path(__file__).resolve().parent.parent
    slugs = set(load_settings(root, {"LETTERPRESS_SECRET_KEY": "k"}).publications)
    golden = {path.name.split("-", 1)[0] for path in GOLDEN.glob("*.html")}
    assert slugs <= golden, f"no golden build for {sorted(slugs - golden)}"


def test_sample_reproduces_issue_42(sample_rendered):
    """Every section, item, the colophon and the legal mention of the reference letter."""
    text = sample_rendered.text
    for expected in (
        "16 DÉCEMBRE 2024 - LETTRE D'INFORMATION #42",
        "L'ACTU", "LE CHIFFRE DU MOIS", "L'IMAGE DU MOIS", "LE CLUB", "LE CLUB DÉPARTEMENTAL",
        "LA PROJETOTHÈQUE", "L'OFFRE DE SERVICES", "ON PARLE DE VOUS", "VOIR AUSSI",
        "Dominique Consille", "84 %", "Manosque", "baromètre de l'AFL",
        "Meurthe-et-Moselle", "(03)", "(08)", "(53)", "Mobiliscope",
        "la Banque des Territoires accompagne", "Renforcer la résilience",
        "Découvrez la veille presse du programme", "Saint-Gildas-les-Bois (44)",
        "Transférez, partagez\u202f!", "Directeur de publication\u00a0: Stanislas Bourron",
        "Design graphique\u00a0: Silvia Colato", "Informatique et libertés",
        "© 2024 Agence nationale de la cohésion des territoires",
    ):
        assert expected in text, expected
    # As in #42, the webinars follow the resources under "L'offre de services", no heading of their own.
    assert "WEBINAIRES" not in text
    offre, resilience = text.index("L'OFFRE DE SERVICES"), text.index("Renforcer la résilience")
    assert offre < resilience < text.index("ON PARLE DE VOUS")
    assert len(sample_rendered.html.encode()) < 100 * 1024
