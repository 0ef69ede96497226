"""``letterpress bounces``: read returned mail, list and show what it said."""

from __future__ import annotations

import sys
from email import message_from_bytes
from pathlib import Path

import click

from ..bounces import BOUNCE_KINDS, fetch, get_record, ingest, list_records
from ..bounces.detect import detect
from ..bounces.sources import FetchReport, iter_raw, open_mailbox
from .common import pass_project

__all__ = ["commands"]


def _progress():
    if not sys.stderr.isatty():
        return None

    def show(report: FetchReport) -> None:
        if report.total % 50 == 0:
            click.echo(f"\r{report.summary()}", err=True, nl=False)

    return show


def _dry_run(items) -> None:
    for ref, raw in items:
        verdict = detect(message_from_bytes(raw))
        who = ", ".join(f"{f.recipient} {f.kind} {f.status}".strip() for f in verdict.failures)
        click.echo(f"{ref}: {verdict.kind}" + (f" ({who})" if who else "")
                   + f" — {verdict.reason}")


@click.group()
def bounces() -> None:
    """Bounces and complaints that come back after sending (DSN, ARF, auto-replies).

    \b
      letterpress bounces fetch                  read and empty the bounce mailbox
      letterpress bounces ingest < message.eml   one message (a Postfix pipe), an mbox, a Maildir
      letterpress bounces list --kind hard       what came back
      letterpress bounces show 12                one record in full
    """


@bounces.command("fetch")
@click.argument("url", required=False, metavar="[URL]")
@click.option("--dry-run", is_flag=True,
              help="Only say what each message is; record, change and delete nothing.")
@pass_project
def fetch_command(project, url, dry_run):
    """Read the bounce mailbox (IMAP, POP3 or a Maildir) and act on every message.

    URL defaults to the `bounce_url` setting (LETTERPRESS_BOUNCE_URL), e.g.
    imaps://user:pass@host/INBOX, pop3s://user:pass@host or maildir:///path.
    Recorded messages are deleted; those not understood go to the `unparsed` IMAP folder
    (or stay in place).  Fetching twice changes nothing the second time.
    """
    url = url or project.settings.bounce_url
    if not url:
        raise click.UsageError("no mailbox: give a URL or set bounce_url "
                               "(LETTERPRESS_BOUNCE_URL)")
    if dry_run:
        box = open_mailbox(url)
        try:
            _dry_run(box.messages())
        finally:
            box.close()  # nothing was marked done: nothing is deleted
        return
    report = fetch(project, url, progress=_progress())
    click.echo(("\r" if sys.stderr.isatty() else "") + report.summary(), err=True)


@bounces.command("ingest")
@click.argument("source", required=False, default="-", metavar="[FILE|MBOX|MAILDIR|-]")
@click.option("--dry-run", is_flag=True,
              help="Only say what each message is; record and change nothing.")
@pass_project
def ingest_command(project, source, dry_run):
    """Process one message (default: standard input), an mbox or a Maildir.

    For an MTA pipe, e.g. in Postfix's aliases:  bounces: "|letterpress -C /srv/lettre
    bounces ingest".  Nothing is deleted; a message processed before is skipped.
    """
    target = sys.stdin.buffer if source == "-" else Path(source)
    if dry_run:
        _dry_run(iter_raw(target)[1])
        return
    report = ingest(project, target, progress=_progress())
    click.echo(("\r" if sys.stderr.isatty() else "") + report.summary(), err=True)


@bounces.command("list")
@click.option("--run", "run_id", type=int, default=None, metavar="RUN",
              help="Only the records of this send run.")
@click.option("--kind", type=click.Choice(BOUNCE_KINDS), default=None,
              help="Only this kind (policy: the receiving side refused the sender).")
@click.option("-n", "--limit", type=click.IntRange(1), default=100, show_default=True,
              help="How many records, newest first.")
@pass_project
def list_command(project, run_id, kind, limit):
    """List what came back, newest first: kind, status, recipient, run, what was done."""
    with project.session() as session:
        records = list_records(session, run_id=run_id, kind=kind, limit=limit)
        if not records:
            click.echo("No bounce records.")
            return
        click.echo(f"{'ID':>6}  {'KIND':<9} {'STATUS':<7} {'RUN':>5}  {'RECIPIENT':<36} "
                   "PROCESSED (UTC)")
        for r in records:
            click.echo(f"{r.id:>6}  {r.kind:<9} {r.status or '-':<7} "
                       f"{r.run_id if r.run_id is not None else '-':>5}  "
                       f"{r.recipient or '-':<36} {r.processed_at:%Y-%m-%d %H:%M}")


@bounces.command("show")
@click.argument("record_id", type=int)
@pass_project
def show_command(project, record_id):
    """Everything about one record: the message, its outcome and what letterpress did."""
    with project.session() as session:
        r = get_record(session, record_id)
        click.echo(f"Bounce record {r.id}: {r.kind}")
        rows = [("recipient", r.recipient), ("status", r.status),
                ("diagnostic", r.diagnostic), ("done", r.action),
                ("delivery", r.delivery_id), ("run", r.run_id),
                ("subscription", r.subscription_id),
                ("message", f"{r.message_id} «{r.subject}»"),
                ("source", f"{r.source} {r.source_ref}".strip()),
                ("received", f"{r.received_at:%Y-%m-%d %H:%M} UTC" if r.received_at else ""),
                ("processed", f"{r.processed_at:%Y-%m-%d %H:%M:%S} UTC"),
                ("fingerprint", f"{r.fingerprint} #{r.position}")]
        for label, value in rows:
            if value not in (None, "", " «»"):
                click.echo(f"  {label:<12} {value}")


commands = [bounces]
