"""Writing a rendered issue to a folder: the web HTML, the text part and the hashed assets."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem
from .lint import lint
from .rendered import RenderedIssue

__all__ = ["BuildResult", "write_build"]


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote, with sizes in bytes and the lint findings."""

    folder: Path
    files: dict[str, int] = field(default_factory=dict)  # relative name → size in bytes
    problems: list[Problem] = field(default_factory=list)
    html_bytes: int = 0  # size of the HTML part as mailed (before personalisation)


def write_build(rendered: RenderedIssue, out_dir: Path,
                extra: dict[str, bytes] | None = None) -> BuildResult:
    """Write ``out_dir/<publication>/<number>/index.html`` (web version), ``index.txt``,
    ``assets/`` and extras.  Keyed by publication: issue 1 of two publications never share a
    folder.

    The HTML is the archive version (no recipient links); lint positions refer to it.  Its
    images point at the ``assets/`` folder written beside it, so the built page opens from
    disk (or any static host) with its pictures, before the web server publishes them.
    """
    folder = Path(out_dir) / rendered.issue.publication / rendered.issue.slug
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = {}

    def put(name: str, data: bytes) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # readers (a preview, a web server) never see half a file
        files[name] = len(data)

    html = rendered.archive_html()
    for name in rendered.assets:
        html = html.replace(f"{rendered.base_url}/assets/{name}", f"assets/{name}")
    put("index.html", html.encode("utf-8"))
    put("index.txt", rendered.archive_text().encode("utf-8"))
    for name, source in rendered.assets.items():
        target = folder / "assets" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)  # hashed names: same name means same content
        files[f"assets/{name}"] = target.stat().st_size
    for name, data in (extra or {}).items():
        put(name, data)
    return BuildResult(folder=folder, files=files, problems=lint(rendered),
                       html_bytes=len(rendered.html.encode("utf-8")))
