"""``letterpress subscribers sweep-pending`` and ``subscribers retention``: a list that stays healthy.

Both are subcommands of ``subscribers`` (see :mod:`letterpress.cli.audience`); the rules live
in :mod:`letterpress.audience.health`.
"""

from __future__ import annotations

from datetime import timedelta

import click

from ..audience import ensure_lists
from ..audience.health import erase_for_retention, retention_candidates
from ..backup import record_erasure
from ..personal_data import erasers
from .audience import subscribers
from .common import pass_project

__all__ = ["commands"]


@subscribers.command("sweep-pending",
                     short_help="Double opt-in: remind once, then remove unconfirmed sign-ups.")
@click.option("--dry-run", is_flag=True, help="Show who would be reminded or removed; do nothing.")
@pass_project
def sweep_pending_command(project, dry_run):
    """Send the one reminder to pending subscribers past `confirm_reminder_hours` (48 h), then
    remove pending subscriptions older than `pending_expiry_days` (30), keeping their consent
    proof (address hashed).  The scheduler daemon does this every hour."""
    from ..web.reminders import sweep_pending_subscriptions

    with project.session() as session:
        ensure_lists(session, project.settings)
    report = sweep_pending_subscriptions(project, dry_run=dry_run)
    verb = "would be" if dry_run else "was"
    for email in report.reminded:
        click.echo(f"{email}: reminder {'would be sent' if dry_run else 'sent'}")
    for email, why in report.failed:
        click.echo(f"{email}: reminder failed ({why}); tried again next time", err=True)
    for email in report.expired:
        click.echo(f"{email}: pending subscription {verb} removed (consent proof kept, hashed)")
    click.echo(("Dry run, nothing done: " if dry_run else "") + report.summary())


@subscribers.command("retention", short_help="People past the retention period: list or erase.")
@click.option("--report", is_flag=True,
              help="List the people past the period (the default); change nothing.")
@click.option("--apply", "apply_", is_flag=True,
              help="Erase them (GDPR erasure), listing each one.")
@click.option("--days", type=click.IntRange(1), default=None, metavar="N",
              help="Retention period in days (default: retention_days of letterpress.toml, "
                   "1095).")
@click.option("-y", "--yes", is_flag=True, help="With --apply: do not ask for confirmation.")
@pass_project
def retention_command(project, report, apply_, days, yes):
    """People whose last own contact (consent, confirmation, unsubscribe, preferences) is older
    than the retention period (CNIL: about 3 years).  --report lists them; --apply erases them
    with the GDPR erasure, one by one, printing each.  Suppressions they had stay."""
    if report and apply_:
        raise click.UsageError("--report lists and --apply erases: give one of them")
    if yes and not apply_:
        raise click.UsageError("-y/--yes only goes with --apply")
    given = days
    days = days or project.settings.retention_days
    now = project.clock.now()
    with project.read_session() as session:
        people = retention_candidates(session, now=now, days=days)
    if not people:
        click.echo(f"Nobody past the retention period ({days} days).")
        return
    cutoff = now - timedelta(days=days)
    for person in people:
        moved_in = (f"\tin this project since {person.known_since:%Y-%m-%d}"
                    if person.known_since > cutoff else "")
        click.echo(f"{person.email}\tlast contact {person.last_contact:%Y-%m-%d}\t"
                   f"{','.join(person.lists) or '-'}{moved_in}")
    click.echo(f"{len(people)} person(s) with no own contact for more than {days} days.")
    recent = sum(person.known_since > cutoff for person in people)
    if recent:
        # Right after a migration: their last contact is the date their file gave, and this
        # project has not known them long enough to see another (clicks are anonymous).
        click.echo(f"Warning: {recent} of them came into this project less than {days} days "
                   "ago (an import): their last contact is the date the file gave, and no "
                   "contact since could be recorded here. Some may be reading every issue; "
                   "consider asking them to confirm before erasing them.", err=True)
    if not apply_:
        again = f" --days {given}" if given else ""
        click.echo("Nothing changed. Erase them with: letterpress subscribers retention "
                   f"--apply{again}")
        return
    if not yes:
        click.confirm(f"Erase these {len(people)} person(s) and their history? This cannot be "
                      "undone", abort=True, err=True)
    for person in people:
        with project.session() as session:
            erased = erase_for_retention(session, person.email, clock=project.clock,
                                         erasers=erasers())
            # Outside the database too: restoring an older backup erases them again.
            record_erasure(project.settings.project_dir, erased.email_hash,
                           project.clock.now(), retention=True)
        click.echo(f"{person.email}: erased")
    click.echo(f"{len(people)} person(s) erased (retention period {days} days).")


commands: list = []  # both commands hang off the `subscribers` group
