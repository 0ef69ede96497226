"""Authoring commands: ``letterpress new`` (scaffold the next issue) and ``letterpress check``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from ..content import load_issue
from ..content.scaffold import scaffold_issue
from ..errors import ContentError, Problem, RenderError
from ..project import Project
from ..schedule.rules import parse_rule
from ..settings import Publication
from .common import IssueFile, pass_project, publication_option, report_content_error

__all__ = ["check", "commands", "new"]


def _month(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise click.BadParameter("expected YYYY-MM, e.g. 2025-01", param_hint="--date") from None
    return parsed.year, parsed.month


def issue_date(publication: Publication, month: tuple[int, int] | None,
               now: dt.datetime) -> dt.date:
    """The publication's scheduled day in ``month`` (the 1st without a schedule); without a
    month, the next scheduled day after ``now`` (or the 1st of next month)."""
    rule = parse_rule(publication.schedule) if publication.schedule else None
    if month is None:
        if rule is not None:
            return rule.next_after(now, publication.tz).astimezone(publication.tz).date()
        local = now.astimezone(publication.tz)
        month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    year, number = month
    return rule.local_date(year, number) if rule is not None else dt.date(year, number, 1)


@click.command()
@publication_option
@click.option("--date", "month", metavar="YYYY-MM", default=None,
              help="Month of the issue (default: the month of the next scheduled send). The day "
                   "is the publication's scheduled day, or the 1st without a schedule.")
@click.option("--number", type=click.IntRange(min=1), default=None,
              help="Number of the issue (default: the publication's highest number + 1).")
@pass_project
def new(project: Project, publication: str | None, month: str | None,
        number: int | None) -> None:
    """Scaffold the next issue in the issues folder, every section type as a commented example.

    The number is the publication's highest existing issue number + 1, unless --number is
    given.
    """
    pub = project.settings.publication(publication)
    when = issue_date(pub, _month(month), project.clock.now())
    path = scaffold_issue(project.settings, pub, when, number)
    try:
        shown = path.relative_to(project.settings.project_dir)
    except ValueError:
        shown = path
    click.echo(f"Created {shown} ({pub.slug}#{_number_of(path)}, {when.isoformat()}).")
    click.echo(f"Fill in the subject and sections, then: letterpress check {shown}")


def _number_of(path: Path) -> str:
    return path.stem.rsplit("-", 1)[-1]


def _issue_findings(project: Project, issue_file: str, path: Path, issue: Any, *,
                    links: bool) -> list[Problem]:
    """Placeholder links at their YAML position (with ``links``), and the same number
    claimed by two files."""
    from ..content.links import placeholder_links, same_number_elsewhere
    from ..content.yaml_loader import parse_yaml

    doc, _ = parse_yaml(path.read_text(encoding="utf-8"), issue_file)
    found = placeholder_links(doc, issue_file) if doc is not None and links else []
    others = same_number_elsewhere(path, issue.publication, issue.number,
                                   project.settings.issues_dir)
    if others:
        where = doc.value_at(("number",)) if doc is not None else None
        names = ", ".join(_shown(project, other) for other in others)
        found.append(Problem(issue_file, where.line if where else 1, where.column if where else 1,
                             "number", f"{issue.identity} is also claimed by {names}: give "
                             "each issue its own number"))
    return found


def _shown(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.settings.project_dir))
    except ValueError:
        return str(path)


def _check_one(project: Project, path: Path, render: bool) -> bool:
    """Check one file (found by :class:`IssueFile`), print what was found; True when it has
    no error."""
    issue_file = _shown(project, path)  # as in the project, wherever it was found from
    try:
        issue = load_issue(path, project.settings)
    except ContentError as exc:
        report_content_error(exc)
        return False
    findings: list[Problem] = []
    own = _issue_findings(project, issue_file, path, issue, links=render)
    if render:
        from ..render import lint, render_issue

        try:
            findings = [p for p in lint(render_issue(issue, project.settings))
                        if not p.message.startswith("link with a placeholder target")]
        except RenderError as exc:
            click.echo(f"{issue_file}: the email could not be built: {exc}", err=True)
            return False
    for problem in own:
        click.echo(f"{problem} [{problem.severity}]", err=True)
    for problem in sorted(findings):
        click.echo(f"built email {problem} [{problem.severity}]", err=True)
    findings = own + findings
    errors = [p for p in findings if p.severity == "error"]
    sections = len(issue.sections)
    images = sum(1 for _ in issue.images())
    summary = (f"{issue_file}: {issue.identity}, {sections} section{'s' * (sections != 1)}, "
               f"{images} image{'s' * (images != 1)}, status {issue.status}")
    warnings = len(findings) - len(errors)
    if errors:
        click.echo(f"{summary}: {len(errors)} error(s) in the built email, {warnings} "
                   "warning(s).", err=True)
        return False
    suffix = f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
    click.echo(f"OK {summary}{suffix}.")
    return True


@click.command()
@click.argument("issue_files", metavar="ISSUE.yaml...", nargs=-1, required=True,
                type=IssueFile(must_exist=False))
@click.option("--no-render", is_flag=True,
              help="Only validate the content; skip building and linting the email.")
@pass_project
def check(project: Project, issue_files: tuple[Path, ...], no_render: bool) -> None:
    """Report every problem of issue files at once, then lint each built email.

    Problems print as FILE:LINE:COLUMN: FIELD.PATH: MESSAGE; exit code 1 when any file has an
    error. Lint findings (size, links, image dimensions) are warnings unless marked as errors.
    """
    results = [_check_one(project, issue_file, not no_render) for issue_file in issue_files]
    if not all(results):
        sys.exit(1)


@click.command()
@publication_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the schema to this file instead of printing it.")
@click.option("--write", "write_all", is_flag=True,
              help="Write schemas/<slug>.schema.json for every publication (what `new` "
                   "references), refreshing those that changed.")
@pass_project
def schema(project: Project, publication: str | None, output: str | None,
           write_all: bool) -> None:
    """Print the JSON Schema of the issue format of a publication.

    Generated from the content model, the publication's declared section types included.
    Editors that read `# yaml-language-server: $schema=…` (VS Code, JetBrains, Neovim…)
    then complete and validate fields as you type; every scaffold written by `new` has it.
    """
    import json

    from ..content.schema import issue_schema, write_schema

    settings = project.settings
    if write_all:
        for pub in settings.publications.values():
            click.echo(f"Wrote {_shown(project, write_schema(settings, pub))}")
        return
    pub = settings.publication(publication)
    if output:
        click.echo(f"Wrote {write_schema(settings, pub, Path(output))}")
        return
    click.echo(json.dumps(issue_schema(pub), ensure_ascii=False, indent=2, sort_keys=True))


commands: list[click.Command] = [new, check, schema]
