"""Scaffold the next issue of a publication: a YAML file with every section as an example."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ..errors import LetterpressError
from ..settings import Publication, Settings
from .yaml_loader import parse_yaml

__all__ = ["IssueExists", "issue_filename", "latest_number", "scaffold_issue", "scaffold_text"]

TEMPLATES = Path(__file__).resolve().parent / "scaffold"
_FIELD = re.compile(r"^(publication|number):\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


class IssueExists(LetterpressError):
    """The scaffold would overwrite an existing file."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(f"{path} already exists; edit it or remove it first")


def _header(path: Path) -> tuple[str | None, int | None]:
    """(publication, number) of an issue file, even when the rest of the file is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None
    doc, _ = parse_yaml(text, str(path))
    if doc is not None and isinstance(doc.data, dict):
        fields = doc.data
    else:  # broken YAML: the two header lines are still worth reading
        fields = dict(_FIELD.findall(text))
    publication, number = fields.get("publication"), fields.get("number")
    try:
        return (publication if isinstance(publication, str) else None), int(str(number))
    except ValueError:
        return (publication if isinstance(publication, str) else None), None


def latest_number(issues_dir: Path, publication: str) -> int:
    """The highest issue number of ``publication`` among the files of ``issues_dir`` (0 if none)."""
    highest = 0
    if not issues_dir.is_dir():
        return highest
    for path in sorted(issues_dir.glob("*.y*ml")):
        slug, number = _header(path)
        if slug == publication and number is not None:
            highest = max(highest, number)
    return highest


def issue_filename(publication: Publication, number: int, date: dt.date) -> str:
    """``2024-12-pvd-42.yaml``: sorted by month, then publication."""
    return f"{date:%Y-%m}-{publication.slug}-{number}.yaml"


def scaffold_text(publication: Publication, number: int, date: dt.date, filename: str) -> str:
    """The scaffold for one issue, in the publication's language (French when unavailable)."""
    template = TEMPLATES / f"{publication.language}.yaml"
    if not template.exists():
        template = TEMPLATES / "fr.yaml"
    text = template.read_text(encoding="utf-8")
    for key, value in (("__NAME__", publication.name), ("__PUBLICATION__", publication.slug),
                       ("__NUMBER__", str(number)), ("__DATE__", date.isoformat()),
                       ("__FILE__", filename)):
        text = text.replace(key, value)
    return text


def scaffold_issue(settings: Settings, publication: Publication, date: dt.date,
                   number: int | None = None) -> Path:
    """Write the next issue of ``publication`` (dated ``date``) into the issues folder."""
    if number is None:
        number = latest_number(settings.issues_dir, publication.slug) + 1
    path = settings.issues_dir / issue_filename(publication, number, date)
    if path.exists():
        raise IssueExists(path)
    settings.issues_dir.mkdir(parents=True, exist_ok=True)
    try:
        shown = str(path.relative_to(settings.project_dir))
    except ValueError:
        shown = str(path)
    with path.open("x", encoding="utf-8") as fh:  # never overwrite a file written meanwhile
        fh.write(scaffold_text(publication, number, date, shown))
    return path
