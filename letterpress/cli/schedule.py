"""CLI commands of the schedule module: ``letterpress schedule …`` and ``letterpress scheduler``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from ..errors import ScheduleError
from ..project import Project
from ..schedule import recurring, service
from ..schedule.lifecycle import OccurrenceOutcome, ScheduleState
from ..settings import Publication
from .common import IssueFile, configure_logging, pass_project
from .segments import segment_options

__all__ = ["commands", "schedule", "scheduler"]


# What `schedule list` shows of the rules' occurrences without --all.
_OCCURRENCES_TO_SHOW = (OccurrenceOutcome.MISSED, OccurrenceOutcome.FAILED,
                        OccurrenceOutcome.RUNNING)
# Ends of `schedule run-now` that exit with status 1 (both vocabularies' values).
_NOT_SENT = (ScheduleState.FAILED, ScheduleState.REFUSED, ScheduleState.MISSED,
             OccurrenceOutcome.FAILED, OccurrenceOutcome.MISSED)


def _local(when: datetime, publication: Publication) -> str:
    """A UTC instant in the publication's zone, with the zone named."""
    local = when.astimezone(publication.tz)
    return f"{local:%Y-%m-%d %H:%M %Z} ({publication.timezone})"


def _pub(project: Project, slug: str) -> Publication:
    return project.settings.publication(slug)


def _parse_id(value: str) -> tuple[str, int]:
    """``12`` is a scheduled send, ``R12`` an occurrence of a recurring rule."""
    text = value.strip()
    kind = "send"
    if text[:1] in ("R", "r"):
        kind, text = "occurrence", text[1:]
    if not text.isdigit():
        raise click.BadParameter(f"{value!r} is not a schedule id (e.g. 3, or R7 for an "
                                 "occurrence of a recurring rule)")
    return kind, int(text)


class ScheduleGroup(click.Group):
    """``schedule ISSUE.yaml --at …`` is ``schedule add ISSUE.yaml --at …``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0].endswith((".yaml", ".yml")):
            args = ["add", *args]
        return super().parse_args(ctx, args)


@click.group(cls=ScheduleGroup)
def schedule() -> None:
    """Plan sends: `schedule ISSUE.yaml --at "YYYY-MM-DD HH:MM"`, list, show, cancel, run-now.

    Times are read and shown in the publication's time zone (e.g. Europe/Paris) and stored
    in UTC.  The issue is validated and rendered when it is scheduled; if the file changes
    afterwards the send is refused until it is scheduled again with --replace.
    """


@schedule.command("add")
@click.argument("issue", type=IssueFile(must_exist=False))
@click.option("--at", "at", required=True, metavar='"YYYY-MM-DD HH:MM"',
              help="When to send, in the publication's time zone.")
@click.option("--list", "list_name", default=None, metavar="LIST",
              help="List to send to (default: the publication's first list).")
@click.option("--replace", is_flag=True,
              help="Approve the current file and time, cancelling an earlier schedule of it.")
@segment_options
@pass_project
def add(project: Project, issue: Path, at: str, list_name: str | None, replace: bool,
        segment: str | None, where: str | None) -> None:
    """Validate and build ISSUE now, then schedule its send."""
    from ..schedule import daemon

    earlier = {row.id for row in service.list_scheduled(project)}
    row = service.schedule_issue(project, issue, at, list_name=list_name, replace=replace,
                                 segment=segment, where=where)
    daemon.register_scheduled_send(project, row)
    for old in service.list_scheduled(project, include_past=True):
        if old.id in earlier and old.state == ScheduleState.CANCELLED:
            daemon.unregister_scheduled_send(project, old.id)
            click.echo(f"Schedule {old.id} replaced.")
    pub = _pub(project, row.publication)
    click.echo(f"Scheduled {row.id}: {row.publication}#{row.issue_number} \"{row.subject}\" "
               f"to list {row.list_name}"
               + (f" (segment {row.segment_name or row.segment})" if row.segment else "")
               + f" at {_local(row.planned_at, pub)} "
               f"= {row.planned_at:%Y-%m-%d %H:%M} UTC.")
    click.echo(f"Approved content {row.approved_content_hash[:12]}. "
               "The scheduler (`letterpress scheduler`) must be running.")


@schedule.command("list")
@click.option("--all", "show_all", is_flag=True,
              help="Also show finished, cancelled and past sends and rule occurrences.")
@pass_project
def list_(project: Project, show_all: bool) -> None:
    """Next runs (scheduled sends and recurring rules), in each publication's local time."""
    items = service.upcoming(project)
    if not items:
        click.echo("Nothing scheduled.")
    else:
        click.echo(f"{'ID':>5}  {'When (publication time)':<36}  What")
    for item in items:
        ident = f"{item.schedule_id:>5}" if item.schedule_id is not None else "    -"
        click.echo(f"{ident}  {_local(item.when, _pub(project, item.publication))}  "
                   f"{item.what}")
    attention = [row for row in service.list_scheduled(project)
                 if row.state in (*service.ATTENTION_STATES, ScheduleState.RUNNING)]
    if show_all:
        attention = service.list_scheduled(project, include_past=True)
        attention = [row for row in attention if row.state != ScheduleState.SCHEDULED]
    if attention:
        click.echo("")
        for row in attention:
            click.echo(f"{row.id:>5}  {_local(row.planned_at, _pub(project, row.publication))}  "
                       f"{row.publication}#{row.issue_number} {row.state.upper()}: "
                       f"{row.message.splitlines()[0] if row.message else ''}")
    occurrences = recurring.list_occurrences(project, limit=50 if show_all else 5)
    if not show_all:
        occurrences = [o for o in occurrences if o.outcome in _OCCURRENCES_TO_SHOW]
    for occ in occurrences:
        pub = _pub(project, occ.publication)
        click.echo(f"{'R' + str(occ.id):>5}  {_local(occ.planned_at, pub)}  "
                   f"{occ.occurrence_key} {occ.outcome.upper()}: "
                   f"{occ.detail.splitlines()[0] if occ.detail else ''}")


@schedule.command("show")
@click.argument("schedule_id", metavar="ID")
@pass_project
def show(project: Project, schedule_id: str) -> None:
    """Everything about one scheduled send (ID) or rule occurrence (R<ID>)."""
    kind, number = _parse_id(schedule_id)
    if kind == "occurrence":
        occ = recurring.get_occurrence(project, number)
        pub = _pub(project, occ.publication)
        fields = [("occurrence", f"R{occ.id}"), ("key", occ.occurrence_key),
                  ("rule", pub.schedule), ("planned", _local(occ.planned_at, pub)),
                  ("outcome", occ.outcome), ("issue", occ.issue_path or "-"),
                  ("send run", occ.run_id or "-"), ("detail", occ.detail)]
    else:
        row = service.get_scheduled(project, number)
        pub = _pub(project, row.publication)
        fields = [("schedule", row.id), ("issue", f"{row.publication}#{row.issue_number} "
                                                  f"\"{row.subject}\""),
                  ("file", row.issue_path), ("list", row.list_name),
                  ("segment", f"{row.segment_name + ': ' if row.segment_name else ''}"
                              f"{row.segment}" if row.segment else "-"),
                  ("planned", f"{_local(row.planned_at, pub)} = "
                              f"{row.planned_at:%Y-%m-%d %H:%M} UTC"),
                  ("state", row.state), ("approved content", row.approved_content_hash),
                  ("approved file", row.approved_source_hash), ("send run", row.run_id or "-"),
                  ("key", row.occurrence_key), ("message", row.message or "-")]
    for name, value in fields:
        click.echo(f"{name + ':':<18}{value}")


@schedule.command("cancel")
@click.argument("schedule_id", metavar="ID", type=int)
@pass_project
def cancel(project: Project, schedule_id: int) -> None:
    """Cancel a scheduled send that has not started."""
    from ..schedule import daemon

    row = service.cancel_scheduled(project, schedule_id)
    daemon.unregister_scheduled_send(project, row.id)
    click.echo(f"Schedule {row.id} ({row.publication}#{row.issue_number}) cancelled.")


@schedule.command("run-now")
@click.argument("schedule_id", metavar="ID")
@pass_project
def run_now(project: Project, schedule_id: str) -> None:
    """Send a missed, failed or pending scheduled send (ID or R<ID>) now, in the foreground.

    The content must still be what was approved.  Ctrl-C pauses the send; run it again to
    resume.
    """
    kind, number = _parse_id(schedule_id)
    stop = threading.Event()
    try:
        if kind == "occurrence":
            occ = recurring.get_occurrence(project, number)
            outcome = recurring.run_occurrence(project, occ.publication, occ.planned_at,
                                             stop=stop, manual=True)
        else:
            outcome = service.run_scheduled_send(project, number, stop=stop, manual=True)
    except KeyboardInterrupt:
        stop.set()
        raise click.ClickException("interrupted; run the same command again to resume") from None
    if not outcome.acted:
        raise ScheduleError(f"{schedule_id} was not sent: it is {outcome.state}"
                            + (f" ({outcome.detail})" if outcome.detail else ""))
    click.echo(f"{schedule_id}: {outcome.state}"
               + (f" (send run {outcome.run_id})" if outcome.run_id else "")
               + (f"\n{outcome.detail}" if outcome.detail else ""))
    if outcome.state in _NOT_SENT:
        raise SystemExit(1)


@click.command("scheduler")
@click.option("--sweep-seconds", default=15.0, show_default=True, type=float,
              help="How often the daemon re-reads the schedule (late jobs, new schedules).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@pass_project
def scheduler(project: Project, sweep_seconds: float, verbose: bool) -> None:
    """Run the scheduler daemon until SIGTERM/Ctrl-C (a send in progress pauses, then resumes
    on the next start)."""
    from ..schedule.daemon import run_scheduler

    configure_logging(verbose)
    click.echo(f"letterpress scheduler: {project.settings.project_dir} "
               f"(started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)", err=True)
    run_scheduler(project, threading.Event(), sweep_seconds=sweep_seconds)


commands: list = [schedule, scheduler]
