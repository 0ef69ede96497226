"""``letterpress report RUN``: what a send run did and what came back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import pass_project

__all__ = ["commands"]


@click.command("report", short_help="Figures of a send run: terminal, JSON or HTML.")
@click.argument("run_id", type=int, metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (for machines).")
@click.option("--html", "as_html", is_flag=True,
              help="Write one self-contained HTML page with SVG charts (needs -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many of the most-clicked links to show.")
@pass_project
def report(project, run_id, as_json, as_html, output, top):
    """Report on send run RUN: sent, deferred, failed, bounces, complaints, unsubscribes
    attributable to the issue, new subscriptions, rates against the bulk-sender limits,
    outcomes per receiving provider and the most-clicked links.

    \b
      letterpress report 12
      letterpress report 12 --json
      letterpress report 12 --html -o report-12.html
    """
    from ..report import render_text, report_for

    if as_json and as_html:
        raise click.UsageError("choose --json or --html, not both")
    if as_html and not output:
        raise click.UsageError("--html writes a file: give it with -o report.html")
    figures = report_for(project, run_id)
    if as_html:
        from ..report.html import report_page

        text = report_page(project, figures)
    elif as_json:
        text = json.dumps(figures.as_dict(), ensure_ascii=False, indent=2) + "\n"
    else:
        text = render_text(figures, top_links=top)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"written to {output}", err=True)
    else:
        click.echo(text, nl=False)


commands = [report]
