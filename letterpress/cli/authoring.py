"""Authoring commands: ``letterpress new`` (scaffold the next issue) and ``letterpress check``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..content import load_issue
from ..content.scaffold import scaffold_issue
from ..errors import ContentError, Problem, RenderError
from ..project import Project
from ..schedule.rules import parse_rule
from ..settings import Publication
from .common import pass_project, publication_option, report_content_error

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
@pass_project
def new(project: Project, publication: str | None, month: str | None) -> None:
    """Scaffold the next issue in the issues folder, every section type as a commented example.

    The number is the publication's highest existing issue number + 1.
    """
    pub = project.settings.publication(publication)
    when = issue_date(pub, _month(month), project.clock.now())
    path = scaffold_issue(project.settings, pub, when)
    try:
        shown = path.relative_to(project.settings.project_dir)
    except ValueError:
        shown = path
    click.echo(f"Created {shown} ({pub.slug}#{_number_of(path)}, {when.isoformat()}).")
    click.echo(f"Fill in the subject and sections, then: letterpress check {shown}")


def _number_of(path: Path) -> str:
    return path.stem.rsplit("-", 1)[-1]


def _issue_path(project: Project, issue_file: str) -> Path:
    path = Path(issue_file)
    if not path.exists() and not path.is_absolute():
        # `letterpress -C PROJECT check issues/x.yaml` from elsewhere: relative to the project.
        in_project = project.settings.project_dir / path
        path = in_project if in_project.exists() else path
    return path


def _check_one(project: Project, issue_file: str, render: bool) -> bool:
    """Check one file, print what was found; True when it has no error."""
    try:
        issue = load_issue(_issue_path(project, issue_file), project.settings)
    except ContentError as exc:
        report_content_error(exc)
        return False
    findings: list[Problem] = []
    if render:
        from ..render import lint, render_issue

        try:
            findings = list(lint(render_issue(issue, project.settings)))
        except RenderError as exc:
            click.echo(f"{issue_file}: the email could not be built: {exc}", err=True)
            return False
    errors = [p for p in findings if p.severity == "error"]
    for problem in sorted(findings):
        click.echo(f"built email {problem} [{problem.severity}]", err=True)
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
                type=click.Path(dir_okay=False))
@click.option("--no-render", is_flag=True,
              help="Only validate the content; skip building and linting the email.")
@pass_project
def check(project: Project, issue_files: tuple[str, ...], no_render: bool) -> None:
    """Report every problem of issue files at once, then lint each built email.

    Problems print as FILE:LINE:COLUMN: FIELD.PATH: MESSAGE; exit code 1 when any file has an
    error. Lint findings (size, links, image dimensions) are warnings unless marked as errors.
    """
    results = [_check_one(project, issue_file, not no_render) for issue_file in issue_files]
    if not all(results):
        sys.exit(1)


commands: list[click.Command] = [new, check]
