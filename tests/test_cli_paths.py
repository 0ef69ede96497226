"""Every command that takes an issue file finds it by the same rule under ``-C DIR``:
absolute as is, relative under the current directory, else under the project."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from letterpress.cli import main
from letterpress.content import issue_file_path

ISSUE = "issues/2024-12-pvd-42.yaml"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """A current directory outside the project."""
    where = tmp_path / "elsewhere"
    where.mkdir()
    monkeypatch.chdir(where)
    monkeypatch.delenv("LETTERPRESS_PROJECT", raising=False)
    return where


@pytest.fixture
def lp(project_dir, project_env, elsewhere):
    runner = CliRunner(env={**project_env, "LETTERPRESS_SMTP_URL": ""})

    def run(*args):
        return runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False)

    return run


def test_the_rule(project_dir, elsewhere):
    assert issue_file_path(ISSUE, project_dir) == project_dir / ISSUE
    absolute = project_dir / ISSUE
    assert issue_file_path(absolute, project_dir) == absolute
    assert issue_file_path("issues/absent.yaml", project_dir) == Path("issues/absent.yaml")
    (elsewhere / "issues").mkdir()
    (elsewhere / ISSUE).write_text("here")
    assert issue_file_path(ISSUE, project_dir) == Path(ISSUE)  # the current directory first


def test_check(lp):
    result = lp("check", "--no-render", ISSUE)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK {ISSUE}: pvd#42")


def test_build(lp, tmp_path):
    result = lp("build", ISSUE, "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "pvd" / "42" / "index.html").exists()


def test_preview(lp, monkeypatch, project_dir):
    from letterpress.render.preview import PreviewServer

    def stop(server):  # Ctrl-C as soon as it is listening
        served.append(server)
        raise KeyboardInterrupt

    served: list = []
    monkeypatch.setattr(PreviewServer, "serve_forever", stop)
    result = lp("preview", ISSUE, "--port", "0")
    assert result.exit_code == 0, result.output
    assert "Stopped." in result.output
    assert len(served) == 1


def test_publish(lp):
    result = lp("publish", ISSUE)
    assert result.exit_code == 0, result.output
    assert "pvd#42 published" in result.output


def test_send(lp):
    result = lp("send", ISSUE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: pvd#42" in result.output and "Nothing sent" in result.output


def test_schedule(lp):
    result = lp("schedule", ISSUE, "--at", "2030-01-15 10:00")
    assert result.exit_code == 0, result.output
    assert "Scheduled 1: pvd#42" in result.output


@pytest.mark.parametrize("command", ["build", "preview", "publish"])
def test_a_file_found_nowhere_names_both_places(lp, command, project_dir):
    result = lp(command, "issues/absent.yaml")
    assert result.exit_code == 2
    assert "'issues/absent.yaml' does not exist (looked in the current directory and in " \
           f"{project_dir.resolve()})" in result.stderr


@pytest.mark.parametrize("args", [["check", "--no-render", "issues/absent.yaml"],
                                  ["send", "issues/absent.yaml", "--dry-run"],
                                  ["schedule", "issues/absent.yaml", "--at", "2030-01-15 10:00"]])
def test_a_file_found_nowhere_is_a_content_problem(lp, args):
    result = lp(*args)
    assert result.exit_code == 1
    assert "issues/absent.yaml:1:1: cannot read the file" in result.stderr
