"""The JSON Schema of the issue format: generated from the model, referenced by scaffolds,
accepting the sample issues and rejecting broken ones (checked with jsonschema)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from letterpress.cli import main
from letterpress.content.schema import issue_schema
from letterpress.settings import load_settings

from .fixtures_render import ALL_SECTIONS

ROOT = Path(__file__).resolve().parent.parent


class _Yaml12(yaml.SafeLoader):
    """YAML as a YAML 1.2 editor reads it (core schema): 14:00 and 2025-01-14 stay text."""


_Yaml12.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int",
                           "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"),
                              list("-+0123456789"))
_Yaml12.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"),
                              list("tf"))


def as_editor_reads(text: str):
    return yaml.load(text, Loader=_Yaml12)  # noqa: S506 - a SafeLoader subclass


@pytest.fixture
def settings(project_dir):
    return load_settings(project_dir, {})


def _validator(settings, slug):
    return jsonschema.Draft202012Validator(issue_schema(settings.publication(slug)))


@pytest.mark.parametrize(("path", "slug"), [
    (ROOT / "issues" / "2024-12-pvd-42.yaml", "pvd"),
    (ROOT / "issues" / "2021-01-stt-1.yaml", "stt"),
    (ROOT / "issues" / "2020-10-pvd-1.yaml", "pvd"),
    (ALL_SECTIONS, "pvd"),
])
def test_sample_issues_are_valid_against_the_schema(settings, path, slug):
    data = as_editor_reads(path.read_text(encoding="utf-8"))
    errors = sorted(_validator(settings, slug).iter_errors(data), key=str)
    assert errors == [], [e.message for e in errors]


BROKEN = {
    "unknown field": ("sections[0]", {"type": "texte", "text": "a", "texte": "b"}),
    "unknown section type": ("sections[0]", {"type": "actus", "items": []}),
    "empty headline": ("sections[0]", {"type": "on_parle_de_vous", "headline": "", "text": "a"}),
    "empty qa": ("sections[0]", {"type": "interview", "person": "A",
                                 "photo": {"src": "https://a.fr/p.png", "alt": "P"},
                                 "qa": [{"question": "", "answer": ""}]}),
    "missing text": ("sections[0]", {"type": "texte"}),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_schema_rejects_broken_sections(settings, case):
    _, section = BROKEN[case]
    data = {"publication": "pvd", "number": 7, "date": "2025-01-21", "subject": "S",
            "sections": [section]}
    assert list(_validator(settings, "pvd").iter_errors(data)), case


@pytest.mark.parametrize("change", [
    {"number": 0}, {"subject": ""}, {"status": "prête"}, {"sections": []},
    {"publication": "acv"}, {"footer": {"hide": ["unsubscribe"]}}, {"colour": "red"},
])
def test_schema_rejects_broken_issue_fields(settings, change):
    data = {"publication": "pvd", "number": 7, "date": "2025-01-21", "subject": "S",
            "sections": [{"type": "texte", "text": "a"}], **change}
    assert list(_validator(settings, "pvd").iter_errors(data)), change


def test_declared_section_types_are_in_their_publication_schema_only(settings):
    section = {"type": "testimony", "person": "A", "quotes": "misspelt"}
    data = {"publication": "stt", "number": 1, "date": "2021-01-18", "subject": "S",
            "sections": [section]}
    messages = [e.message for e in _validator(settings, "stt").iter_errors(data)]
    assert messages  # 'quote' missing, 'quotes' unknown
    section["quote"] = section.pop("quotes")
    assert not list(_validator(settings, "stt").iter_errors(data))
    assert list(_validator(settings, "pvd").iter_errors({**data, "publication": "pvd"}))


def test_new_writes_the_schema_and_references_it(project_dir):
    runner = CliRunner()
    result = runner.invoke(main, ["-C", str(project_dir), "new", "-p", "stt", "--date",
                                  "2025-01"], env={"LETTERPRESS_DATABASE_URL": "sqlite://"})
    assert result.exit_code == 0, result.output
    text = (project_dir / "issues" / "2025-01-stt-2.yaml").read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/stt.schema.json"
    schema = json.loads((project_dir / "schemas" / "stt.schema.json").read_text())
    assert "testimony" in json.dumps(schema)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_new_scaffolds_the_default_sections_in_the_publication_language(project_dir, settings):
    runner = CliRunner()
    result = runner.invoke(main, ["-C", str(project_dir), "new", "-p", "stt", "--date",
                                  "2025-01"], env={"LETTERPRESS_DATABASE_URL": "sqlite://"})
    assert result.exit_code == 0, result.output
    text = (project_dir / "issues" / "2025-01-stt-2.yaml").read_text(encoding="utf-8")
    sections = text.split("\nsections:\n", 1)[1]
    ready = [line for line in sections.splitlines() if line.startswith("  - type: ")]
    assert ready == ["  - type: actu", "  - type: testimony", "  - type: milestones"]
    assert "Title of the news item" in text and "Titre de l'actualité" not in text
    assert "  # - type: chiffre" in text  # the others stay commented examples
    data = as_editor_reads(text.replace('subject: ""', "subject: January"))
    assert [s["type"] for s in data["sections"]] == ["actu", "testimony", "milestones"]


def test_schema_command_prints_and_writes(project_dir):
    runner = CliRunner()
    env = {"LETTERPRESS_DATABASE_URL": "sqlite://"}
    printed = runner.invoke(main, ["-C", str(project_dir), "schema", "-p", "acv"], env=env)
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["properties"]["publication"]["const"] == "acv"
    written = runner.invoke(main, ["-C", str(project_dir), "schema", "--write"], env=env)
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in (project_dir / "schemas").iterdir()) == [
        "acv.schema.json", "pvd.schema.json", "stt.schema.json"]
    assert runner.invoke(main, ["schema", "--help"]).exit_code == 0
