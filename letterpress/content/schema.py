"""The JSON Schema of the issue format, generated from the content model (JSON Schema 2020-12).

Editors that speak the YAML language server protocol (VS Code with the YAML extension,
JetBrains IDEs, Neovim…) read ``# yaml-language-server: $schema=…`` at the top of an issue
file and then complete field names, show each field's description and flag unknown or
missing fields as the editor types.  One schema per publication, since a publication may
declare section types of its own.  ``letterpress check`` stays the reference: the schema
cannot see image files, link placeholders or the built email.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .custom import issue_model

__all__ = ["SCHEMA_DIR", "issue_schema", "schema_path", "write_schema"]

SCHEMA_DIR = "schemas"
_COMPUTED = {"source_path", "source_hash", "local_path"}


def _prune(value: Any) -> Any:
    """The schema without the fields the loader computes (never written by editors)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "properties" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if k not in _COMPUTED}
            if key == "required" and isinstance(item, list):
                item = [k for k in item if k not in _COMPUTED]
            out[key] = _prune(item)
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def issue_schema(publication: Any) -> dict[str, Any]:
    """The JSON Schema of an issue of ``publication`` (its declared section types included)."""
    model = issue_model(publication)
    schema = _prune(model.model_json_schema(mode="validation"))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Issue of {publication.name}" if publication else "Issue"
    if publication is not None:
        schema["properties"]["publication"] = {
            **schema["properties"].get("publication", {}), "const": publication.slug}
    return schema


def schema_path(settings: Any, publication: Any) -> Path:
    """Where the project keeps a publication's schema: ``schemas/<slug>.schema.json``."""
    return settings.project_dir / SCHEMA_DIR / f"{publication.slug}.schema.json"


def write_schema(settings: Any, publication: Any, path: Path | None = None) -> Path:
    """Write (or refresh) a publication's schema file; returns its path."""
    path = path or schema_path(settings, publication)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(issue_schema(publication), ensure_ascii=False, indent=2,
                      sort_keys=True) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path
