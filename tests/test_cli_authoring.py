"""`letterpress new` and `letterpress check` through click, on a copy of the project."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from letterpress.cli import main
from letterpress.cli.authoring import issue_date
from letterpress.content import SECTION_TYPES, load_issue
from letterpress.settings import load_settings

from .fixtures_content import *  # noqa: F403 - the fixtures of the content tests
from .fixtures_content import HEADER


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def run(runner, project_dir, monkeypatch):
    """Run ``letterpress -C PROJECT …`` from inside the project, with no environment settings."""
    monkeypatch.chdir(project_dir)
    for name in ("LETTERPRESS_DATABASE_URL", "LETTERPRESS_BASE_URL", "LETTERPRESS_PROJECT"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str):
        return runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False)

    return invoke


def _render_available() -> bool:
    try:
        from letterpress.render import lint, render_issue  # noqa: F401
    except ImportError:
        return False
    return True


needs_render = pytest.mark.skipif(not _render_available(),
                                  reason="letterpress.render.render_issue/lint not available")


# ------------------------------------------------------------------ check


def test_check_reports_every_problem_and_exits_1(run, write_issue):
    write_issue(HEADER.replace("publication: pvd", "publication: pdv") + """\
sections:
  - type: texte
    txt: a
""", "bad.yaml")
    result = run("check", "issues/bad.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "issues/bad.yaml:1:14: publication: unknown publication 'pdv' (known: pvd, acv, stt)",
        "issues/bad.yaml:6:5: sections[0].text: missing required field 'text'",
        "issues/bad.yaml:7:5: sections[0].txt: unknown field 'txt' (did you mean 'text'?)",
        "3 problems found.",
    ]
    assert result.stdout == ""


def test_check_malformed_yaml_is_a_message_not_a_traceback(run, write_issue):
    write_issue(HEADER + "sections:\n\t- type: texte\n", "tabs.yaml")
    result = run("check", "issues/tabs.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "issues/tabs.yaml:6:1: tab character: YAML is indented with spaces, never tabs",
        "1 problem found.",
    ]


def test_check_missing_file(run):
    result = run("check", "issues/absent.yaml")
    assert result.exit_code == 1
    assert "issues/absent.yaml:1:1: cannot read the file" in result.stderr


def test_check_without_render_is_ok_on_the_sample(run):
    result = run("check", "--no-render", "issues/2024-12-pvd-42.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("OK issues/2024-12-pvd-42.yaml: pvd#42, 10 sections, 13 images, "
                             "status ready.\n")


def test_check_finds_files_relative_to_the_project(runner, project_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["-C", str(project_dir), "check", "--no-render",
                                  "issues/2024-12-pvd-42.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK issues/2024-12-pvd-42.yaml: pvd#42")


@needs_render
def test_check_renders_and_lints_the_sample(run, project_dir):
    shutil.copytree(Path(__file__).resolve().parent.parent / "images", project_dir / "images",
                    dirs_exist_ok=True)
    result = run("check", "issues/2024-12-pvd-42.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK issues/2024-12-pvd-42.yaml: pvd#42, 10 sections")
    assert "[error]" not in result.stderr


@needs_render
def test_check_reports_lint_errors_of_the_built_email(run, write_issue):
    # Valid content, but the link is the placeholder-like https://example.org/: the built
    # email's lint calls it an error, so check fails after the content passed.
    write_issue(HEADER + """\
sections:
  - type: texte
    text: Bonjour, [à compléter](https://example.org/).
""", "lint.yaml")
    result = run("check", "issues/lint.yaml")
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert any("placeholder target 'https://example.org/'" in line and line.endswith("[error]")
               for line in lines), lines
    assert lines[-1].startswith("issues/lint.yaml: pvd#7, 1 section, 0 images, status draft: "
                                "1 error(s) in the built email")
    assert result.stdout == ""


def test_check_needs_an_argument(run):
    result = run("check")
    assert result.exit_code == 2
    assert "Missing argument 'ISSUE.yaml...'" in result.stderr


def test_check_several_files(run, write_issue):
    write_issue(HEADER + "sections: [{type: texte, text: a}]\n", "good.yaml")
    write_issue(HEADER.replace("number: 7", "number: 8") + "sections: [{type: texte}]\n",
                "bad.yaml")  # its own number: two files claiming pvd#7 are flagged
    result = run("check", "--no-render", "issues/good.yaml", "issues/bad.yaml",
                 "issues/2024-12-pvd-42.yaml")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "OK issues/good.yaml: pvd#7, 1 section, 0 images, status draft.",
        "OK issues/2024-12-pvd-42.yaml: pvd#42, 10 sections, 13 images, status ready."]
    assert result.stderr.splitlines() == [
        "issues/bad.yaml:5:12: sections[0].text: missing required field 'text'",
        "1 problem found."]


# ------------------------------------------------------------------ new


def test_new_numbers_after_the_highest_issue_and_dates_on_the_schedule(run, project_dir):
    result = run("new", "--date", "2025-01")
    assert result.exit_code == 0, result.output
    # Third Tuesday of January 2025 (letterpress.toml: schedule = "third tuesday 10:00").
    path = project_dir / "issues" / "2025-01-pvd-43.yaml"
    assert result.stdout.splitlines()[0] == ("Created issues/2025-01-pvd-43.yaml "
                                             "(pvd#43, 2025-01-21).")
    text = path.read_text(encoding="utf-8")
    assert "publication: pvd\nnumber: 43\ndate: 2025-01-21\n" in text
    for section_type in SECTION_TYPES:
        assert f"# - type: {section_type}\n" in text, section_type

    again = run("new", "--date", "2025-02")
    assert again.exit_code == 0
    assert (project_dir / "issues" / "2025-02-pvd-44.yaml").exists()


def test_new_for_a_publication_without_schedule_uses_the_first(run, project_dir):
    result = run("new", "-p", "acv", "--date", "2025-03")
    assert result.exit_code == 0, result.output
    text = (project_dir / "issues" / "2025-03-acv-1.yaml").read_text(encoding="utf-8")
    assert "publication: acv\nnumber: 1\ndate: 2025-03-01\n" in text


def test_new_refuses_to_overwrite_and_bad_dates(run, project_dir):
    (project_dir / "issues" / "2025-01-pvd-43.yaml").write_text("# mine\n")
    result = run("new", "--date", "2025-01")
    assert result.exit_code == 1
    assert "2025-01-pvd-43.yaml already exists" in result.stderr
    assert (project_dir / "issues" / "2025-01-pvd-43.yaml").read_text() == "# mine\n"
    bad = run("new", "--date", "janvier")
    assert bad.exit_code == 2 and "expected YYYY-MM" in bad.stderr
    unknown = run("new", "-p", "nope")
    assert unknown.exit_code == 1 and "unknown publication 'nope'" in unknown.stderr


def test_new_without_date_takes_the_next_scheduled_day(content_settings):
    pub = content_settings.publication("pvd")
    after_send = dt.datetime(2025, 1, 21, 12, 0, tzinfo=dt.UTC)  # after 10:00 Paris that day
    assert issue_date(pub, None, after_send) == dt.date(2025, 2, 18)
    before_send = dt.datetime(2025, 1, 2, 12, 0, tzinfo=dt.UTC)
    assert issue_date(pub, None, before_send) == dt.date(2025, 1, 21)
    acv = content_settings.publication("acv")
    assert issue_date(acv, None, dt.datetime(2025, 12, 5, tzinfo=dt.UTC)) == dt.date(2026, 1, 1)


def _uncomment(text: str) -> str:
    """What an editor does: drop one '# ' in front of every example line (the schema line
    at the top is not an example)."""
    return re.sub(r"^(\s*)(?!# ?yaml-language-server:)# ?", r"\1", text, flags=re.MULTILINE)


def test_scaffold_round_trip(run, project_dir):
    run("new", "--date", "2025-01")
    path = project_dir / "issues" / "2025-01-pvd-43.yaml"

    fresh = run("check", "--no-render", "issues/2025-01-pvd-43.yaml")
    assert fresh.exit_code == 1  # not sendable until the editor writes it
    assert fresh.stderr.splitlines() == [
        "issues/2025-01-pvd-43.yaml:9:10: subject: must not be empty",
        "issues/2025-01-pvd-43.yaml:25:10: sections: must not be empty",
        "2 problems found.",
    ]

    text = path.read_text(encoding="utf-8")
    text = text.replace('subject: ""', "subject: Lettre de janvier")
    path.write_text(_uncomment(text), encoding="utf-8")
    filled = run("check", "--no-render", "issues/2025-01-pvd-43.yaml")
    assert filled.exit_code == 0, filled.output
    issue = load_issue(path, load_settings(project_dir, env={}))
    assert {s.type for s in issue.sections} == set(SECTION_TYPES)
    assert issue.edito is not None and issue.footer.photo_credits
    assert issue.status == "draft"


@needs_render
def test_scaffold_with_its_examples_builds_and_lints_clean(run, project_dir):
    run("new", "--date", "2025-01")
    path = project_dir / "issues" / "2025-01-pvd-43.yaml"
    text = path.read_text(encoding="utf-8").replace('subject: ""', "subject: Lettre de janvier")
    path.write_text(_uncomment(text), encoding="utf-8")
    # The scaffold's own example links are placeholders: check sends the editor to each line.
    flagged = run("check", "issues/2025-01-pvd-43.yaml")
    assert flagged.exit_code == 1
    assert ("issues/2025-01-pvd-43.yaml:82:18: sections[3].items[0].links[0].url: link with a "
            "placeholder target 'https://www.example.org/inscription' [error]"
            in flagged.stderr.splitlines())
    # With real addresses, the examples build and lint clean.
    path.write_text(path.read_text(encoding="utf-8").replace("www.example.org",
                                                             "agence-cohesion-territoires.gouv.fr"))
    result = run("check", "issues/2025-01-pvd-43.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK issues/2025-01-pvd-43.yaml: pvd#43, 15 sections")
    assert "[error]" not in result.stderr


def test_commands_have_help(runner):
    for name in ("new", "check"):
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0
        assert len(result.output.split("\n\n")[1].strip()) > 20
