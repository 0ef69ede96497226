"""CLI commands that build and preview an issue: ``letterpress build`` and ``letterpress preview``."""

from __future__ import annotations

from pathlib import Path

import click

from ..project import Project
from .common import IssueFile, pass_project

__all__ = ["build", "commands", "preview"]


@click.command(short_help="Build HTML, text part, assets and a sample .eml.")
@click.argument("issue_file", metavar="ISSUE.yaml", type=IssueFile())
@click.option("-o", "--output", "output", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: build_dir of letterpress.toml, i.e. ./build).")
@click.option("--mjml", "with_mjml", is_flag=True,
              help="Also write index.mjml, the templates' output before compilation "
                   "(to debug a template).")
@pass_project
def build(project: Project, issue_file: Path, output: str | None, with_mjml: bool) -> None:
    """Build an issue: OUTPUT/<publication>/<number>/index.html, index.txt, assets/ and a sample .eml.

    Prints the sizes and the lint findings; exits 1 when the built email has an error
    (e.g. over Gmail's 100 KB clipping limit).
    """
    from ..content import load_issue
    from ..message import sample_message
    from ..render import render_issue, render_mjml
    from ..render.build import write_build

    settings = project.settings
    issue = load_issue(issue_file, settings)  # ContentError → every problem listed, exit 1
    rendered = render_issue(issue, settings)
    extra = {f"{issue.publication}-{issue.number}.eml": sample_message(rendered, settings)}
    if with_mjml:
        extra["index.mjml"] = render_mjml(issue, settings).encode("utf-8")
    result = write_build(rendered, Path(output) if output else settings.build_dir, extra)
    click.echo(f"Built {issue.identity} «{rendered.subject}» in {result.folder}")
    click.echo(f"  HTML part (as mailed)  {result.html_bytes / 1024:7.1f} KB")
    for name, size in result.files.items():
        if not name.startswith("assets/"):
            click.echo(f"  {name:<22} {size / 1024:7.1f} KB")
    assets = [size for name, size in result.files.items() if name.startswith("assets/")]
    if assets:
        click.echo(f"  assets/ ({len(assets)} files)    {sum(assets) / 1024:7.1f} KB")
    for problem in result.problems:
        click.echo(f"{problem} [{problem.severity}]", err=True)
    errors = [p for p in result.problems if p.severity == "error"]
    if errors:
        raise click.ClickException(f"{len(errors)} error(s) in the built email")


@click.command(short_help="Preview at 600 and 375 px, rebuilt on save.")
@click.argument("issue_file", metavar="ISSUE.yaml", type=IssueFile())
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int,
              help="Port to listen on (0: any free port).")
@pass_project
def preview(project: Project, issue_file: Path, host: str, port: int) -> None:
    """Serve the issue at 600 px and 375 px with its text part, rebuilt on every save.

    Content and template errors appear in the page; stop with Ctrl-C.
    """
    from ..render.preview import PreviewServer

    try:
        server = PreviewServer(issue_file, project.settings, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"Previewing {issue_file} on {server.url}/  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.httpd.server_close()


commands: list[click.Command] = [build, preview]
