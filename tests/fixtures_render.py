"""Fixtures for the rendering tests: settings without a database, the test issues."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from letterpress.content import load_issue
from letterpress.render import render_issue
from letterpress.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "render"
ALL_SECTIONS = DATA / "all-sections.yaml"
SAMPLE = ROOT / "issues" / "2024-12-pvd-42.yaml"
BASE_URL = "https://lettre.example.org"

__all__ = ["all_sections", "own_templates", "render_settings", "rendered_all", "sample_issue"]


@pytest.fixture
def render_settings(project_dir):
    """Settings of a copy of the project, with a fixed public URL and no database use."""
    if (ROOT / "images").is_dir() and not (project_dir / "images").exists():
        shutil.copytree(ROOT / "images", project_dir / "images")  # the publication's logo
    return load_settings(project_dir, {"LETTERPRESS_BASE_URL": BASE_URL})


@pytest.fixture
def all_sections(render_settings):
    """The test issue that holds one section of every type."""
    return load_issue(ALL_SECTIONS, render_settings)


@pytest.fixture
def rendered_all(all_sections, render_settings):
    return render_issue(all_sections, render_settings)


@pytest.fixture
def sample_issue(render_settings, project_dir):
    """The reference issue #42, loaded from the project copy."""
    return load_issue(project_dir / "issues" / SAMPLE.name, render_settings)


@pytest.fixture
def own_templates(render_settings, tmp_path):
    """A private copy of the templates, and settings pointing at it, to edit in a test."""
    folder = tmp_path / "templates-copy"
    shutil.copytree(render_settings.templates_dir, folder)
    return folder, render_settings.with_overrides(templates_dir=folder)
