"""``letterpress send`` and ``letterpress runs``: sending an issue and following its runs.

Each command opens the project, calls :mod:`letterpress.delivery` and prints what happened.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

import click

from ..audience import ensure_lists
from ..audience.emails import sendable_email
from ..audience.segments import count_segment
from ..bounces import run_bounce_counts
from ..content import load_issue
from ..delivery import (
    RunState,
    SendOutcome,
    find_run,
    get_run,
    list_runs,
    progress_for,
    retry_run,
    run_counts,
    run_problems,
    send,
)
from ..delivery.report import RunReport
from ..errors import AlreadySent, InvalidEmail
from ..message import MessageTemplate, sample_message
from ..render import lint_errors, render_issue
from ..transports import SMTPTransport, limits_of, transport_for
from .common import IssueFile, pass_project
from .segments import prepare_segment, segment_options

__all__ = ["commands", "runs", "send_command"]


def _transport(project, publication, rate: float | None):
    # --rate is part of the transport's configuration, like its pool size.
    return transport_for(project.settings, publication, rate=rate)


def _describe(transport) -> str:
    limits = limits_of(transport)
    rate = f", {limits.rate:g}/s" if limits.rate else ""
    if isinstance(transport, SMTPTransport):
        return f"smtp {transport.url.host}:{transport.url.port} (pool {limits.pool}{rate})"
    return f"outbox {getattr(transport, 'directory', '')}"


def _print_report(report: RunReport) -> None:
    click.echo(report.summary())
    if report.uncertain_emails:
        click.echo(f"{len(report.uncertain_emails)} message(s) were handed to the server "
                   "without a confirmed answer (no reply, or a sender stopped); they may or "
                   "may not have arrived and were not sent again:")
        for email in report.uncertain_emails[:50]:
            click.echo(f"  {email}")
        if len(report.uncertain_emails) > 50:
            click.echo(f"  … and {len(report.uncertain_emails) - 50} more "
                       f"(letterpress runs show {report.run_id})")
        click.echo(f"Send them again with: letterpress runs retry {report.run_id} --uncertain")


@contextlib.contextmanager
def _orderly_stop(stop: threading.Event):
    """First Ctrl-C (or SIGTERM): finish the batch in flight, record it, pause the run.

    A second Ctrl-C aborts at once (its rows are then reported uncertain on resume).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nStopping after the messages in flight (their answers are recorded); "
                   "Ctrl-C again to abort now.", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run_and_report(project, transport, **kwargs) -> None:
    stop = threading.Event()
    try:
        with _orderly_stop(stop):
            result = send(project, transport, stop=stop, progress=progress_for(sys.stderr),
                          **kwargs)
    finally:
        transport.close()
    run_id, report = result.run_id, result.report
    if report is None:
        raise click.ClickException(f"run {run_id}: {result.detail}")
    _print_report(report)
    if result.outcome is SendOutcome.STOPPED:
        raise click.ClickException(f"run {run_id} stopped before the end: {report.pending} "
                                   f"not sent yet, {report.deferred} deferred; resume it with "
                                   f"`letterpress send --resume {run_id}`")
    if result.outcome is SendOutcome.WAITING:
        raise click.ClickException(f"run {run_id}: {report.deferred} deferred: not accepted "
                                   "yet (the server answered \"try later\" or could not be "
                                   f"reached); the reasons: `letterpress runs show {run_id}`; "
                                   f"try again with `letterpress runs retry {run_id}`")
    if result.outcome is not SendOutcome.DONE:
        raise click.ClickException(f"run {run_id} paused: {report.paused_reason}")


def _announce(project, transport, template: str):
    def announce(run_id: int) -> None:
        with project.session() as session:
            run = get_run(session, run_id)
            click.echo(template.format(run=run, via=_describe(transport)), err=True)
    return announce


def _refuse_email_errors(rendered, identity: str, issue_file) -> None:
    """What `check` calls an error in the built email (a leftover template marker, a link
    to a placeholder, an image without alt…) stops a send to the list: a test send with
    --to still works, to look at it."""
    errors = lint_errors(rendered)
    if errors:
        shown = "\n".join(f"  built email {p}" for p in errors[:10])
        more = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise click.ClickException(
            f"{identity}: the built email has {len(errors)} error(s); fix them (`letterpress "
            f"check {issue_file}` lists them all) before sending it to the list:\n"
            f"{shown}{more}")


def _sendable(_ctx, param, values: tuple[str, ...]) -> tuple[str, ...]:
    """``--to`` addresses, each one the relay can take (a usage error otherwise, before any
    run exists: a test run that can only fail would still exit 0)."""
    for value in values:
        try:
            sendable_email(value)
        except InvalidEmail as exc:
            raise click.BadParameter(f"{value!r}: {exc.reason}", param=param) from None
    return values


@click.command("send")
@click.argument("issue_file", required=False, type=IssueFile(must_exist=False))
@click.option("-l", "--list", "list_name", default=None, metavar="NAME",
              help="Mailing list (default: the publication's first list).")
@click.option("--dry-run", is_flag=True,
              help="Build everything and report counts and size; send nothing.")
@click.option("--to", "test_to", multiple=True, metavar="ADDR", callback=_sendable,
              help="Test send to these addresses only (repeatable): subject marked [TEST], "
                   "nothing recorded against subscribers.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="N", help="At most N messages per second (overrides the transport's).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--again", is_flag=True,
              help="Send to the list even though this issue already went to it.")
@click.option("--resume", "resume_id", type=int, default=None, metavar="RUN",
              help="Continue send run RUN where it stopped.")
@click.option("--share", is_flag=True,
              help="PostgreSQL: send this run together with other senders started with "
                   "--share (on this machine or others); each claims batches of readers. "
                   "SQLite allows one sender per run.")
@click.option("--resend-uncertain", is_flag=True,
              help="When resuming, send again the messages that were in flight when the "
                   "previous sender stopped (they may arrive twice).")
@segment_options
@pass_project
def send_command(project, issue_file, list_name, dry_run, test_to, rate, yes, again, resume_id,
                 share, resend_uncertain, segment, where):
    """Send ISSUE_FILE to its publication's list (or resume a run with --resume RUN).

    Ctrl-C stops in order: the messages in flight are awaited and recorded, the run is
    paused and `--resume RUN` continues it.

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
        _run_and_report(project, transport, run_id=resume_id, rendered=rendered,
                        resend_uncertain=resend_uncertain, share=share)
        return
    if issue_file is None:
        raise click.UsageError("give an ISSUE_FILE to send, or --resume RUN")
    rendered = render_issue(load_issue(issue_file, settings), settings)
    publication = rendered.publication
    list_name = list_name or publication.default_list
    identity = f"{publication.slug}#{rendered.issue.number}"
    if list_name not in publication.lists:
        # Its readers consented to another publication's letter, not to this one.
        raise click.UsageError(f"list {list_name!r} is not a list of {publication.slug} (its "
                               f"lists: {', '.join(publication.lists)})")
    if rendered.issue.status != "ready" and not test_to and not dry_run:
        raise click.ClickException(f"{identity} is a draft: set `status: ready` in "
                                   f"{issue_file} to send it to the list (a test send with "
                                   "--to works on drafts)")
    if not test_to:
        _refuse_email_errors(rendered, identity, issue_file)
    chosen = prepare_segment(project, publication, segment, where)
    part = f" of list {list_name}" + (f", segment {chosen.label}," if chosen else "")

    if dry_run:
        with project.session() as session:
            ensure_lists(session, settings)
            count = count_segment(session, list_name, chosen)
            earlier = None if again or test_to else find_run(
                session, publication.slug, rendered.issue.number, list_name)
        size = len(sample_message(rendered, settings))
        MessageTemplate.from_rendered(rendered, settings)  # proves the DKIM key loads
        transport = _transport(project, publication, rate)
        if earlier is not None and earlier.state == RunState.DONE:
            # What the real command would answer, not a promise it would not keep.
            raise AlreadySent(earlier.id, identity, list_name)
        click.echo(f"dry run: {identity} «{rendered.subject}» would go to "
                   f"{len(test_to) if test_to else count} recipient(s)"
                   f"{'' if test_to else part} via {_describe(transport)}; "
                   f"message size {size / 1024:.1f} KB. Nothing sent.")
        return

    transport = _transport(project, publication, rate)
    with project.session() as session:
        ensure_lists(session, settings)
        count = count_segment(session, list_name, chosen)
        earlier = None if again or test_to else find_run(
            session, publication.slug, rendered.issue.number, list_name)
        if earlier is not None and earlier.state == RunState.DONE:
            # Said before asking: a "yes" must not be answered by a refusal.
            raise AlreadySent(earlier.id, identity, list_name)
    if not test_to and count == 0 and earlier is None:
        # An empty run would count as the issue sent and block the real send later.
        raise click.ClickException(f"nobody to send {identity} to: no active subscriber"
                                   f"{part.rstrip(',')}; nothing was recorded")
    if test_to:
        # A test send does not wait for retries: a refusal is said at once, not after hours.
        _run_and_report(project, transport, rendered=rendered, list_name=list_name,
                        test_recipients=list(test_to), wait_for_retries=False,
                        on_prepared=_announce(project, transport, f"Test send of {identity} "
                                              f"to {', '.join(test_to)} (run {{run.id}})"))
        return
    if not yes:
        click.confirm(f"Send {identity} «{rendered.subject}» to {count} subscriber(s){part} "
                      f"via {_describe(transport)}?", abort=True, err=True)

    def announce(run_id: int) -> None:
        with project.session() as session:
            run = get_run(session, run_id)
            if run.state != "pending":
                click.echo(f"Resuming run {run.id}, left {run.state} ({run.total} recipients)",
                           err=True)
            else:
                click.echo(f"Run {run.id}: {run.total} recipient(s) via "
                           f"{_describe(transport)}", err=True)

    _run_and_report(project, transport, rendered=rendered, list_name=list_name, again=again,
                    segment=chosen, resend_uncertain=resend_uncertain, on_prepared=announce,
                    share=share)


@click.group(invoke_without_command=True)
@click.option("-p", "--publication", default=None, metavar="SLUG",
              help="Only this publication's runs.")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1),
              help="How many runs to list.")
@click.pass_context
def runs(ctx, publication, limit):
    """List send runs (newest first); see one with `runs show RUN`."""
    if ctx.invoked_subcommand is not None:
        return
    project = ctx.obj.project
    if publication is not None and publication not in project.settings.publications:
        raise click.UsageError(f"no publication {publication!r} in letterpress.toml (its "
                               f"publications: {', '.join(project.settings.publications)})")
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


_CAME_BACK = (("hard", "hard bounces"), ("soft", "soft bounces"), ("complaint", "complaints"),
              ("policy", "sender-policy rejections"))


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
        came_back = run_bounce_counts(session, run_id)
        if came_back:
            click.echo("  came back  " + ", ".join(
                f"{came_back[k]} {label}" for k, label in _CAME_BACK if came_back.get(k)))
            if came_back.get("policy"):
                click.echo("  sender problem: the receiving side refused the sender (5.7.x: "
                           "SPF, DKIM, DMARC, blocklist) — see `letterpress bounces list "
                           f"--run {run_id} --kind policy`")
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
    _run_and_report(project, transport, run_id=run_id, rendered=rendered)


commands = [send_command, runs]
