"""Fixtures for the content tests: project settings without any database."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from letterpress.content import load_issue
from letterpress.errors import ContentError
from letterpress.settings import Settings, load_settings

__all__ = ["HEADER", "content_settings", "problems_of", "write_issue"]

HEADER = """\
publication: pvd
number: 7
date: 2025-01-21
subject: Lettre de janvier
"""


@pytest.fixture
def content_settings(project_dir: Path) -> Settings:
    """Settings of the copied project, with no environment (no database is touched)."""
    return load_settings(project_dir, env={})


@pytest.fixture
def write_issue(project_dir: Path):
    """Write YAML (dedented) into the project's issues folder; returns the path."""

    def write(text: str, name: str = "test.yaml") -> Path:
        path = project_dir / "issues" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def problems_of(write_issue, content_settings, project_dir, monkeypatch):
    """Load YAML text and return its problems as 'file:line:col: path: message' strings."""
    monkeypatch.chdir(project_dir)

    def problems(text: str) -> list[str]:
        write_issue(text)
        try:
            load_issue("issues/test.yaml", content_settings)
        except ContentError as exc:
            return [str(p) for p in exc.problems]
        return []

    return problems
