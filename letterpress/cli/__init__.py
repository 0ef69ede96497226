"""The ``letterpress`` command line: a thin layer over the library.

Each command opens the project, makes one library call and turns library errors into
messages: exit code 1 for errors, 2 for usage mistakes, messages on stderr.
"""

from __future__ import annotations

import click

from .common import LetterpressGroup, ProjectContext

__all__ = ["main"]


@click.group(cls=LetterpressGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "--project", "project_dir", default=".", show_default=True,
              envvar="LETTERPRESS_PROJECT", type=click.Path(file_okay=False),
              help="Project directory (holds letterpress.toml, issues/, templates/mjml/).")
@click.version_option(package_name="letterpress")
@click.pass_context
def main(ctx: click.Context, project_dir: str) -> None:
    """letterpress — write a newsletter issue in YAML, build it into responsive email,
    send it to a managed subscriber list, and let every reader unsubscribe in one click.

    \b
    Typical month:
      letterpress new                       scaffold the next issue in issues/
      letterpress check issues/X.yaml       report every problem at once
      letterpress preview issues/X.yaml     see it at desktop and mobile widths
      letterpress send issues/X.yaml --to me@example.org    a test send
      letterpress schedule issues/X.yaml --at "2025-01-14 10:00"
    """
    ctx.obj = ctx.with_resource(ProjectContext(project_dir))


def _register() -> None:
    from . import (
        admin,
        audience,
        authoring,
        bounces,
        building,
        delivery,
        doctor,
        health,
        project,
        report,
        schedule,
        segments,
        web,
    )

    # health adds `subscribers sweep-pending` and `subscribers retention` to the group.
    for module in (project, authoring, building, audience, health, segments, delivery, bounces,
                   report, schedule, web, admin, doctor):
        for command in getattr(module, "commands", []):
            main.add_command(command)


_register()
