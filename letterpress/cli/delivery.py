"""``letterpress send`` and ``letterpress runs``: sending an issue and following its runs.

Each command opens the project, calls :mod:`letterpress.delivery` and prints what happened.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..audience import ensure_lists
from ..audience.segments import count_segment
from ..content import load_issue
from ..delivery import (
    get_run,
    list_runs,
    prepare_run,
    progress_for,
    retry_run,
    run_counts,
    run_problems,
    send_run,
)
from ..delivery.report import RunReport
from ..message import MessageTemplate, sample_message
from ..render import render_issue
from ..transports import SMTPTransport, transport_for
from .common import pass_project
from .segments import prepare_segment, segment_options

__all__ = ["commands", "runs", "send"]


def _transport(project, publication, rate: float | None):
    transport = transport_for(project.settings, publication)
    if rate is not None and isinstance(transport, SMTPTransport):
        transport.limiter.rate = 0  # the --rate given here is applied by the send loop
    return transport


def _describe(transport) -> str:
    if isinstance(transport, SMTPTransport):
        return f"smtp {transport.url.host}:{transport.url.port} (pool {transport.pool_size})"
    return f"outbox {getattr(transport, 'directory', '')}"


def _print_report(report: RunReport) -> None:
    click.echo(report.summary())
    if report.uncertain_emails:
        click.echo(f"{len(report.uncertain_emails)} message(s) were in flight when a previous "
                   "sender stopped; they may or may not have arrived and were not sent again:")
        for email in report.uncertain_emails[:50]:
            click.echo(f"  {email}")
        if len(report.uncertain_emails) > 50:
            click.echo(f"  … and {len(report.uncertain_emails) - 50} more "
                       f"(letterpress runs show {report.run_id})")
        click.echo(f"Send them again with: letterpress runs retry {report.run_id} --uncertain")


def _run_and_report(project, run_id: int, transport, *, rate, resend_uncertain, rendered
                    ) -> None:
    try:
        report = send_run(project, run_id, transport, rate=rate,
                          progress=progress_for(sys.stderr), resend_uncertain=resend_uncertain,
                          rendered=rendered)
    finally:
        transport.close()
    _print_report(report)
    if report.state == "paused":
        raise click.ClickException(f"run {run_id} paused: {report.paused_reason}")


@click.command()
@click.argument("issue_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-l", "--list", "list_name", default=None, metavar="NAME",
              help="Mailing list (default: the publication's first list).")
@click.option("--dry-run", is_flag=True,
              help="Build everything and report counts and size; send nothing.")
@click.option("--to", "test_to", multiple=True, metavar="ADDR",
              help="Test send to these addresses only (repeatable): subject marked [TEST], "
                   "nothing recorded against subscribers.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="N", help="At most N messages per second (overrides the transport's).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--again", is_flag=True,
              help="Send to the list even though this issue already went to it.")
@click.option("--resume", "resume_id", type=int, default=None, metavar="RUN",
              help="Continue send run RUN where it stopped.")
@click.option("--resend-uncertain", is_flag=True,
              help="When resuming, send again the messages that were in flight when the "
                   "previous sender stopped (they may arrive twice).")
@segment_options
@pass_project
def send(project, issue_file, list_name, dry_run, test_to, rate, yes, again, resume_id,
         resend_uncertain, segment, where):
    """Send ISSUE_FILE to its publication's list (or resume a run with --resume RUN).

    \b
    letterpress send issues/2024-12-pvd-42.yaml --to me@example.org    test send
    letterpress send issues/2024-12-pvd-42.yaml --dry-run              counts only
    letterpress send issues/2024-12-pvd-42.yaml                        the real thing
    letterpress send --resume 7                                        after a crash
    """
    settings = project.settings
    if resume_id is not None:
        with project.session() as session:
            run = get_run(session, resume_id)
            path = Path(issue_file or run.issue_path)
        rendered = render_issue(load_issue(path, settings), settings)
        transport = _transport(project, rendered.publication, rate)
        click.echo(f"Resuming run {resume_id} ({run.identity} → {run.list_name}) via "
                   f"{_describe(transport)}", err=True)
        _run_and_report(project, resume_id, transport, rate=rate,
                        resend_uncertain=resend_uncertain, rendered=rendered)
        return
    if issue_file is None:
        raise click.UsageError("give an ISSUE_FILE to send, or --resume RUN")
    rendered = render_issue(load_issue(issue_file, settings), settings)
    publication = rendered.publication
    list_name = list_name or publication.default_list
    identity = f"{publication.slug}#{rendered.issue.number}"
    chosen = prepare_segment(project, publication, segment, where)
    part = f" of list {list_name}" + (f", segment {chosen.label}," if chosen else "")

    if dry_run:
        with project.session() as session:
            ensure_lists(session, settings)
            count = count_segment(session, list_name, chosen)
        size = len(sample_message(rendered, settings))
        MessageTemplate.from_rendered(rendered, settings)  # proves the DKIM key loads
        transport = transport_for(settings, publication)
        click.echo(f"dry run: {identity} «{rendered.subject}» would go to "
                   f"{len(test_to) if test_to else count} recipient(s)"
                   f"{'' if test_to else part} via {_describe(transport)}; "
                   f"message size {size / 1024:.1f} KB. Nothing sent.")
        return

    transport = _transport(project, publication, rate)
    if test_to:
        with project.session() as session:
            ensure_lists(session, settings)
            run = prepare_run(session, rendered, list_name, clock=project.clock,
                              test_recipients=list(test_to))
            session.flush()
            run_id = run.id
        click.echo(f"Test send of {identity} to {', '.join(test_to)} (run {run_id})", err=True)
        _run_and_report(project, run_id, transport, rate=rate, resend_uncertain=False,
                        rendered=rendered)
        return

    with project.session() as session:
        ensure_lists(session, settings)
        count = count_segment(session, list_name, chosen)
    if not yes:
        click.confirm(f"Send {identity} «{rendered.subject}» to {count} subscriber(s){part} "
                      f"via {_describe(transport)}?", abort=True, err=True)
    with project.session() as session:
        run = prepare_run(session, rendered, list_name, clock=project.clock, again=again,
                          segment=chosen)
        session.flush()
        run_id, state, total = run.id, run.state, run.total
    if state != "pending":
        click.echo(f"Resuming run {run_id}, left {state} ({total} recipients)", err=True)
    else:
        click.echo(f"Run {run_id}: {total} recipient(s) via {_describe(transport)}", err=True)
    _run_and_report(project, run_id, transport, rate=rate, resend_uncertain=resend_uncertain,
                    rendered=rendered)


@click.group(invoke_without_command=True)
@click.option("-p", "--publication", default=None, metavar="SLUG",
              help="Only this publication's runs.")
@click.option("-n", "--limit", default=20, show_default=True, help="How many runs to list.")
@click.pass_context
def runs(ctx, publication, limit):
    """List send runs (newest first); see one with `runs show RUN`."""
    if ctx.invoked_subcommand is not None:
        return
    project = ctx.obj.project
    with project.session() as session:
        found = list_runs(session, publication=publication, limit=limit)
        if not found:
            click.echo("No send runs yet.")
            return
        click.echo(f"{'RUN':>5}  {'ISSUE':<16} {'LIST':<12} {'STATE':<8} {'SENT':>13} "
                   f"{'FAILED':>6}  CREATED (UTC)")
        for run in found:
            counts = run_counts(session, run.id)
            issue = run.identity + (" [TEST]" if run.is_test else "")
            click.echo(f"{run.id:>5}  {issue:<16} {run.list_name:<12} {run.state:<8} "
                       f"{counts['sent']:>6}/{run.total:<6} {counts['failed']:>6}  "
                       f"{run.created_at:%Y-%m-%d %H:%M}")


@runs.command("show")
@click.argument("run_id", type=int)
@pass_project
def runs_show(project, run_id):
    """Counts of RUN and every delivery that did not end as sent, with the reason."""
    with project.session() as session:
        run = get_run(session, run_id)
        counts = run_counts(session, run_id)
        click.echo(f"Run {run.id}: {run.identity}{' [TEST]' if run.is_test else ''} "
                   f"«{run.subject}» → list {run.list_name}")
        click.echo(f"  state      {run.state}{' — ' + run.message if run.message else ''}")
        click.echo(f"  created    {run.created_at:%Y-%m-%d %H:%M:%S} UTC"
                   + (f", started {run.started_at:%H:%M:%S}" if run.started_at else "")
                   + (f", finished {run.finished_at:%H:%M:%S}" if run.finished_at else ""))
        click.echo(f"  content    {run.content_hash[:16]}  {run.issue_path}")
        if run.segment:
            click.echo(f"  segment    {run.segment_name + ': ' if run.segment_name else ''}"
                       f"{run.segment}")
        click.echo(f"  recipients {run.total}: " + ", ".join(
            f"{n} {state}" for state, n in counts.items() if n))
        if run.lease_owner:
            click.echo(f"  lease      held by {run.lease_owner} until {run.lease_until}")
        problems = run_problems(session, run_id)
        if problems:
            click.echo("Not sent:")
            for d in problems:
                code = f"{d.code} " if d.code else ""
                extra = " (hard bounce)" if d.bounced else ""
                when = (f", retry at {d.next_attempt_at:%Y-%m-%d %H:%M}"
                        if d.state == "deferred" and d.next_attempt_at else "")
                click.echo(f"  {d.email:<40} {d.state:<9} {code}{d.detail}{extra}{when}")


@runs.command("retry")
@click.argument("run_id", type=int)
@click.option("--uncertain", is_flag=True,
              help="Also send again the messages that may or may not have arrived.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None, metavar="N",
              help="At most N messages per second.")
@pass_project
def runs_retry(project, run_id, uncertain, rate):
    """Queue RUN's failed and deferred deliveries again and send them now."""
    with project.session() as session:
        run = get_run(session, run_id)
        n = retry_run(session, run_id, clock=project.clock, uncertain=uncertain)
        path = run.issue_path
    if not n:
        click.echo(f"Nothing to retry in run {run_id}.")
        return
    click.echo(f"{n} deliveries queued again.", err=True)
    settings = project.settings
    rendered = render_issue(load_issue(path, settings), settings)
    transport = _transport(project, rendered.publication, rate)
    _run_and_report(project, run_id, transport, rate=rate, resend_uncertain=False,
                    rendered=rendered)


commands = [send, runs]
