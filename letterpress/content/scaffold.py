"""Scaffold the next issue of a publication: a YAML file with every section as an example."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

from ..errors import LetterpressError
from ..settings import Publication, Settings
from .yaml_loader import parse_yaml

__all__ = ["IssueExists", "declared_example", "issue_filename", "latest_number", "scaffold_issue",
           "scaffold_text"]

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


def scaffold_text(publication: Publication, number: int, date: dt.date, filename: str,
                  schema: str = "") -> str:
    """The scaffold for one issue, in the publication's language (French when unavailable).

    The publication's ``default_sections`` come first, ready to fill (uncommented), the other
    types follow as commented examples, then its declared section types; ``schema`` (a path
    relative to the file) is referenced for editors that validate as one types.
    """
    template = TEMPLATES / f"{publication.language.split('-')[0]}.yaml"
    if not template.exists():
        template = TEMPLATES / "fr.yaml"
    text = template.read_text(encoding="utf-8")
    if not schema:
        text = text.replace("# yaml-language-server: $schema=__SCHEMA__\n", "")
    text = _with_sections(text, publication)
    for key, value in (("__NAME__", publication.name), ("__PUBLICATION__", publication.slug),
                       ("__NUMBER__", str(number)), ("__DATE__", date.isoformat()),
                       ("__FILE__", filename), ("__SCHEMA__", schema)):
        text = text.replace(key, value)
    return text


_EXAMPLE_START = re.compile(r"^  # - type: (\w+)$")


def _examples(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Section type → (first, last + 1) line indexes of its commented example."""
    found: dict[str, tuple[int, int]] = {}
    for index, line in enumerate(lines):
        match = _EXAMPLE_START.match(line)
        if not match:
            continue
        end = index + 1
        while end < len(lines) and lines[end].startswith("  #   "):
            end += 1
        if end < len(lines) and lines[end] == "  #":  # a blank line inside a text block
            end += 1
            while end < len(lines) and lines[end].startswith("  #   "):
                end += 1
        found[match.group(1)] = (index, end)
    return found


def _example_value(spec: Any, indent: str) -> list[str]:
    if isinstance(spec, dict):
        lines = []
        for i, (name, inner) in enumerate(spec.items()):
            lead = indent + ("- " if i == 0 else "  ")
            lines += _field_lines(name, inner, lead, indent + "    ")
        return lines
    return []


_SAMPLES = {"text": "…", "line": "…", "markdown": "…", "date": "2025-01-14", "time": '"14:00"',
            "url": "https://…", "number": "1", "yes/no": "false"}


def _field_lines(name: str, spec: Any, lead: str, deeper: str) -> list[str]:
    if isinstance(spec, dict):
        return [f"{lead}{name}:"] + _example_value(spec, deeper)
    kind = str(spec).rstrip("?").strip()
    if kind.startswith("list of "):
        inner = kind[len("list of "):]
        if inner == "link":
            return [f"{lead}{name}:", f"{deeper}- {{label: …, url: https://…}}"]
        return [f"{lead}{name}:", f"{deeper}- {_SAMPLES.get(inner, '…')}"]
    if kind == "image":
        return [f"{lead}{name}: {{src: https://…, alt: …, width: 600, height: 300}}"]
    if kind == "link":
        return [f"{lead}{name}: {{label: …, url: https://…}}"]
    return [f"{lead}{name}: {_SAMPLES.get(kind, '…')}"]


def declared_example(type_name: str, declaration: Any) -> list[str]:
    """A commented-out example of a declared section type, fields in declaration order."""
    lines = [f"  ## {type_name}: {declaration.get('description') or 'declared in letterpress.toml'}",
             f"  # - type: {type_name}"]
    for name, spec in (declaration.get("fields") or {}).items():
        lines += ["  # " + line for line in _field_lines(name, spec, "  ", "    ")]
    return lines


def _with_sections(text: str, publication: Publication) -> str:
    lines = text.split("\n")
    declared = dict(getattr(publication, "section_types", {}) or {})
    if declared:  # declared types as commented examples, after the built-in ones
        at = next((i for i, line in enumerate(lines) if line.startswith("## ")
                   and i > 0 and lines[i - 1] == "" and "footer" in line.lower()), len(lines))
        extra: list[str] = []
        for name, declaration in declared.items():
            extra += declared_example(name, declaration) + [""]
        lines[at:at] = extra
    defaults = [t for t in getattr(publication, "default_sections", ()) or ()]
    if not defaults:
        return "\n".join(lines)
    examples = _examples(lines)
    ready: list[str] = []
    taken: list[tuple[int, int]] = []
    for type_name in defaults:
        if type_name in examples:
            first, end = examples[type_name]
            taken.append((first, end))
            ready += [line.replace("  # ", "  ", 1) if line != "  #" else "" for line in
                      lines[first:end]]
    for first, end in sorted(taken, reverse=True):
        del lines[first:end]
    at = lines.index("sections:") + 1
    lines[at:at] = ready + [""]
    return "\n".join(lines)


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
    from .schema import write_schema

    schema = os.path.relpath(write_schema(settings, publication), path.parent)
    with path.open("x", encoding="utf-8") as fh:  # never overwrite a file written meanwhile
        fh.write(scaffold_text(publication, number, date, shown, schema))
    return path
