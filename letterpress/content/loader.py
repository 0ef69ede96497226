"""Load an issue file: YAML with positions → validated :class:`Issue`, or every problem at once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ContentError, Problem
from ..settings import Settings
from .custom import issue_model
from .model import Issue
from .problems import format_path, problems_from_errors
from .yaml_loader import Document, parse_yaml

__all__ = ["issue_file_path", "load_issue", "validate_issue_text"]

# Attributes the loader computes; an editor writing them is told they are unknown.
_COMPUTED = {("source_path",), ("source_hash",)}
_COMPUTED_ANYWHERE = {"local_path"}


def _drop_computed(doc: Document, file: str) -> list[Problem]:
    problems = []
    for key_path, where in list(doc.keys.items()):
        if key_path in _COMPUTED or key_path[-1] in _COMPUTED_ANYWHERE:
            parent: Any = doc.data
            for part in key_path[:-1]:
                parent = parent[part]
            if isinstance(parent, dict):
                parent.pop(key_path[-1], None)
            problems.append(Problem(file, where.line, where.column, format_path(key_path),
                                    f"unknown field '{key_path[-1]}' (computed by letterpress)"))
    return problems


def validate_issue_text(text: str, settings: Settings, *, file: str = "<issue>",
                        base_dir: Path | None = None) -> tuple[Issue | None, list[Problem]]:
    """Validate YAML text; returns the issue (None when invalid) and every problem found."""
    doc, problems = parse_yaml(text, file)
    if doc is None or doc.data is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, problems + [Problem(file, 1, 1, "", "an issue file is a mapping of fields "
                                         "(publication, number, date, subject, sections…)")]
    problems += _drop_computed(doc, file)
    slug = doc.data.get("publication")
    publication = settings.publications.get(slug) if isinstance(slug, str) else None
    context = {
        "language": publication.language if publication else "fr",
        "publications": list(settings.publications),
        "base_dir": base_dir,
    }
    model = issue_model(publication)
    try:
        issue = model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        problems += problems_from_errors(exc.errors(), doc, file, model)
        return None, problems
    return (None if problems else issue), problems


def issue_file_path(path: str | Path, project_dir: Path) -> Path:
    """Where an issue file named on the command line is: the one rule every command follows.

    An absolute path as it is; a relative path as it is when it exists under the current
    directory, else under ``project_dir`` (``letterpress -C DIR``) when it exists there; else
    as given, so that "cannot read the file" names what was typed.  Never raises.
    """
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    in_project = Path(project_dir) / path
    return in_project if in_project.exists() else path


def load_issue(path: str | Path, settings: Settings) -> Issue:
    """Read and validate an issue file; raises :class:`ContentError` listing every problem."""
    path = Path(path)
    file = str(path)  # as the editor typed it
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContentError([Problem(file, 1, 1, "", f"cannot read the file: {exc.strerror}")]) \
            from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ContentError([Problem(file, line, 1, "", "the file is not UTF-8 text")]) from None
    issue, problems = validate_issue_text(text, settings, file=file,
                                          base_dir=path.resolve().parent)
    if problems or issue is None:
        raise ContentError(problems)
    return issue.model_copy(update={"source_path": path.resolve(),
                                    "source_hash": hashlib.sha256(raw).hexdigest()})
