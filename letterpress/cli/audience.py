"""``letterpress subscribers …``: the subscriber database from the command line.

Each command opens the project, makes one call into :mod:`letterpress.audience` and prints.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from ..audience import (
    Consent,
    count_by_status,
    count_subscriptions,
    ensure_lists,
    find_subscriber,
    iter_subscriptions,
    subscribe,
    unsubscribe,
)
from ..audience.archive import ArchiveError, export_archive, import_archive, is_archive
from ..audience.csv_export import export_csv
from ..audience.csv_import import ImportFileError, ImportProgress, import_csv, write_rejects
from ..audience.gdpr import export_person
from ..audience.models import STATUSES
from ..audience.presets import PRESETS, convert
from ..audience.segments import count_segment
from ..audience.service import get_list
from ..bounces import subscriber_bounces
from ..errors import SubscriberNotFound
from ..personal_data import access_sections, erase_person
from .common import (
    force_option,
    kept_file,
    new_output_file,
    pass_project,
    publication_option,
)
from .segments import prepare_segment, segment_options

__all__ = ["commands", "subscribers"]


def _list_name(project, publication: str | None, list_name: str | None) -> str:
    return list_name or project.settings.publication(publication).default_list


def _attrs(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--attr")
        out[key.strip()] = value.strip()
    return out


def list_option(f):
    """``--list NAME`` (default: the publication's first list)."""
    return click.option("-l", "--list", "list_name", default=None, metavar="NAME",
                        help="Mailing list (default: the publication's first list).")(f)


def attr_option(f):
    """``--attr KEY=VALUE``, repeatable."""
    return click.option("-a", "--attr", "attrs", multiple=True, metavar="KEY=VALUE",
                        help="Attribute (repeatable), e.g. --attr departement=29.")(f)


status_choice = click.Choice([*STATUSES, "all"])


@click.group("subscribers")
def subscribers() -> None:
    """Manage subscribers: add, import, export, list, unsubscribe, erase."""


@subscribers.command("add", short_help="Subscribe one address (admin consent).")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
@attr_option
@list_option
@publication_option
@click.option("--resubscribe", is_flag=True,
              help="Re-activate an address that unsubscribed, bounced or was erased "
                   "(only with the person's new consent).")
@click.option("--consent-text", default="", help="How and when the person consented.")
@click.option("--pending", is_flag=True, help="Add as pending (awaiting confirmation).")
@pass_project
def add_command(project, email, name, attrs, list_name, publication, resubscribe, consent_text,
                pending):
    """Subscribe EMAIL (consent recorded as given to an administrator)."""
    list_name = _list_name(project, publication, list_name)
    with project.session() as session:
        ensure_lists(session, project.settings)
        sub = subscribe(session, email, list_name=list_name, clock=project.clock,
                        consent=Consent("admin", text=consent_text), name=name,
                        attributes=_attrs(attrs), status="pending" if pending else "active",
                        resubscribe=resubscribe)
        click.echo(f"{sub.subscriber.email}: {sub.status} on {list_name}")


def _progress_printer():
    """Progress callback: a bar on a terminal, a line per ~10% otherwise."""
    if sys.stderr.isatty():
        bar = click.progressbar(length=1000, label="Importing", file=sys.stderr)
        bar.__enter__()
        state = {"done": 0}

        def update(p: ImportProgress) -> None:
            target = int(p.fraction * 1000)
            bar.update(target - state["done"])
            state["done"] = target
            if p.fraction >= 1.0:
                bar.__exit__(None, None, None)

        return update
    state = {"next": 0.1}

    def log(p: ImportProgress) -> None:
        if p.fraction >= state["next"] or p.fraction >= 1.0:
            click.echo(f"… {p.rows} rows read ({p.fraction:.0%})", err=True)
            state["next"] = p.fraction + 0.1

    return log


@subscribers.command("import", short_help="Import subscribers from a CSV file.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@list_option
@publication_option
@click.option("--consent-source", type=click.Choice(["import", "form", "admin", "api"]),
              default="import", show_default=True, help="How these people consented.")
@click.option("--consent-text", default="",
              help="The wording they agreed to, or where the list comes from.")
@click.option("--dry-run", is_flag=True,
              help="Report what would happen; nothing is written to the database (a --rejects "
                   "file is still written, to review the bad rows first).")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None,
              help="Write rejected and suppressed rows to this CSV file.")
@click.option("--batch-size", type=click.IntRange(1), default=5000, show_default=True,
              help="Rows per transaction.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress, no per-row report (the column mapping is still shown).")
@click.option("--from", "preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="The file is another tool's contact export: map its columns and statuses "
                   "(unsubscribed, bounced, blocklisted become suppressions, never active).")
@pass_project
def import_command(project, file, list_name, publication, consent_source, consent_text, dry_run,
                   rejects, batch_size, quiet, preset):
    """Import subscribers from a CSV file (UTF-8, UTF-16 with BOM or Windows-1252; ';', ','
    or tab), or an audience archive written by `subscribers export --archive` (into an empty
    project)."""
    if rejects:
        # Checked before the import writes anything: never over another file (the file
        # being imported, a rejects file fixed by hand), never into a missing folder.
        new_output_file(rejects, forceable=False)
    with open(file, encoding="utf-8", errors="replace") as fh:
        if is_archive(fh.readline()):
            _import_archive(project, file, dry_run)
            return
    source = file
    if preset:
        try:
            scratch = tempfile.TemporaryDirectory(prefix="letterpress-import-")
            click.get_current_context().call_on_close(scratch.cleanup)
            # Tools that write local times (Brevo) wrote them in the account's zone: ours.
            conversion = convert(preset, file, scratch.name,
                                 tz=ZoneInfo(project.settings.timezone))
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        file = str(conversion.path)
        # The user's file, as written (the converted copy is always UTF-8 with commas).
        click.echo(f"Read {click.format_filename(source)} as a {preset} export: "
                   f"{conversion.layout.describe_format()}", err=True)
    list_name = _list_name(project, publication, list_name)
    # What the user named, not the converted copy a preset reads from a temporary folder.
    shown = click.format_filename(source)
    consent = Consent(consent_source, text=consent_text or f"imported from {shown}")
    with project.session() as session:
        ensure_lists(session, project.settings)
        session.commit()
        report = import_csv(session, file, list_name=list_name, clock=project.clock,
                            consent=consent, dry_run=dry_run, batch_size=batch_size,
                            progress=None if quiet else _progress_printer(),
                            source_name=Path(source).name)
    if preset:
        report.include(conversion.rejected)
    # Even with -q: the mapping is no per-row report, and it names the columns not read.
    if preset:
        click.echo(f"Kept from {shown}: {report.layout.describe_columns()}", err=True)
    else:
        click.echo(f"Read {shown}: {report.layout.describe()}", err=True)
    if not quiet:
        said = [(r.line, f"line {r.line}: rejected {r.value!r}: {r.reason}")
                for r in report.rejected]
        said += [(s.line, f"line {s.line}: suppressed {s.email} ({s.reason}): not "
                          "re-subscribed") for s in report.suppressed]
        for _line, text in sorted(said, key=lambda item: item[0]):
            click.echo(text, err=True)
        if report.wider_rows:
            click.echo(f"{report.wider_rows} row(s) with more cells than the header (first: "
                       f"line {report.first_wider_line}): the extra cells were not read",
                       err=True)
    if rejects:
        n = write_rejects(report, rejects)
        click.echo(f"{n} rows written to {rejects}", err=True)
    prefix = "Dry run, nothing written. " if dry_run else ""
    click.echo(f"{prefix}{report.summary()}")


@subscribers.command("export", short_help="Export subscribers as re-importable CSV.")
@list_option
@publication_option
@click.option("--status", type=status_choice, default="active", show_default=True,
              help="Subscription status to include (all: every status).")
@attr_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (default: standard output).")
@click.option("--excel", is_flag=True,
              help="';' delimiter and a UTF-8 BOM, as French Excel expects; a cell a "
                   "spreadsheet would run as a formula (=, +, -, @) starts with ' (to read, "
                   "not to re-import).")
@click.option("--proof/--no-proof", default=None,
              help="Add the consent proof and unsubscribe columns (wording, form, IP, "
                   "confirmation and unsubscribe dates, channel). Default: on unless only "
                   "active subscribers are exported.")
@click.option("--archive", is_flag=True,
              help="The whole audience (every list, history, hashed suppressions) as a "
                   "JSON Lines archive instead of one list as CSV.")
@force_option
@pass_project
def export_command(project, list_name, publication, status, attrs, output, excel, proof,
                   archive, force):
    """Export subscribers as CSV (re-importable with `subscribers import`).

    With -o, an existing file is refused unless --force, and the file appears only once
    the export is complete."""
    if archive:
        _export_archive(project, output, force)
        return
    list_name = _list_name(project, publication, list_name)
    kwargs = {"list_name": list_name, "status": None if status == "all" else status,
              "attributes": _attrs(attrs), "delimiter": ";" if excel else ",", "proof": proof,
              "spreadsheet": excel}
    with project.read_session() as session:
        ensure_lists(session, project.settings)
        if output:
            encoding = "utf-8-sig" if excel else "utf-8"
            with kept_file(output, force=force, encoding=encoding) as fh:
                n = export_csv(session, fh, **kwargs)
            click.echo(f"{n} subscribers written to {output}", err=True)
        else:
            if excel:
                sys.stdout.write("\ufeff")  # the BOM utf-8-sig writes to a file
            export_csv(session, sys.stdout, **kwargs)


def _export_archive(project, output, force) -> None:
    with project.read_session() as session:
        ensure_lists(session, project.settings)
        if output:
            with kept_file(output, force=force) as fh:
                report = export_archive(session, fh)
            click.echo(f"Archive written to {output}: {report.summary()}", err=True)
        else:
            export_archive(session, sys.stdout)


def _import_archive(project, file, dry_run) -> None:
    with project.session() as session:
        ensure_lists(session, project.settings)
        session.flush()
        try:
            with open(file, encoding="utf-8") as fh:
                report = import_archive(session, fh, dry_run=dry_run)
        except ArchiveError as exc:
            raise click.ClickException(f"{file}: {exc}") from None
    prefix = "Dry run, nothing written. " if dry_run else ""
    click.echo(f"{prefix}Archive {file} imported: {report.summary()}")


@subscribers.command("list", short_help="List subscriptions, filtered.")
@list_option
@publication_option
@click.option("--status", type=status_choice, default="all", show_default=True,
              help="Subscription status to include (all: every status).")
@attr_option
@click.option("--all-lists", is_flag=True, help="Every list of the project.")
@click.option("--limit", type=click.IntRange(0), default=0, help="At most N lines (0: all).")
@pass_project
def list_command(project, list_name, publication, status, attrs, all_lists, limit):
    """List subscriptions: email, name, list, status, attributes (tab-separated)."""
    list_name = None if all_lists else _list_name(project, publication, list_name)
    with project.read_session() as session:
        ensure_lists(session, project.settings)
        rows = iter_subscriptions(session, list_name=list_name,
                                  status=None if status == "all" else status,
                                  attributes=_attrs(attrs))
        for n, (sub, subscriber, name) in enumerate(rows, 1):
            attributes = " ".join(f"{k}={v}" for k, v in sorted((subscriber.attributes or {}).items()))
            click.echo("\t".join([subscriber.email, subscriber.name or "", name, sub.status,
                                  attributes]))
            if limit and n >= limit:
                break


@subscribers.command("count")
@list_option
@publication_option
@click.option("--status", type=status_choice, default="active", show_default=True,
              help="Subscription status to include (all: every status).")
@attr_option
@click.option("--all-lists", is_flag=True, help="Every list of the project.")
@segment_options
@pass_project
def count_command(project, list_name, publication, status, attrs, all_lists, segment, where):
    """Count subscriptions matching the filters (or a segment: --where EXPR, --segment NAME)."""
    if segment is not None or where is not None:
        if attrs or all_lists:
            raise click.UsageError("--segment/--where count one list; use the expression "
                                   "instead of --attr and --all-lists")
        chosen = prepare_segment(project, project.settings.publication(publication),
                                 segment, where)
        list_name = _list_name(project, publication, list_name)
        with project.read_session() as session:
            ensure_lists(session, project.settings)
            click.echo(count_segment(session, list_name, chosen,
                                     status=None if status == "all" else status))
        return
    list_name = None if all_lists else _list_name(project, publication, list_name)
    with project.read_session() as session:
        ensure_lists(session, project.settings)
        click.echo(count_subscriptions(session, list_name=list_name,
                                       status=None if status == "all" else status,
                                       attributes=_attrs(attrs)))


@subscribers.command("show", short_help="One subscriber: consent and history.")
@click.argument("email")
@pass_project
def show_command(project, email):
    """Show one subscriber: subscriptions, consent proof and the full event history."""
    with project.session() as session:
        subscriber = find_subscriber(session, email)
        if subscriber is None:
            held = export_person(session, email)  # raises SubscriberNotFound if nothing at all
            click.echo(f"No personal data held about {email}.")
            for entry in held["suppressions"]:
                click.echo(f"  suppressed on {entry['scope']} ({entry['reason']}) "
                           f"since {entry['since'][:16].replace('T', ' ')} UTC")
            return
        click.echo(f"{subscriber.email}  {subscriber.name}".rstrip())
        for key, value in sorted((subscriber.attributes or {}).items()):
            click.echo(f"  {key}: {value}")
        click.echo(f"  created {subscriber.created_at:%Y-%m-%d %H:%M} UTC")
        for sub in sorted(subscriber.subscriptions, key=lambda s: s.id):
            click.echo(f"\nlist {sub.mailing_list.name}: {sub.status}")
            consent = f"  consent: {sub.consent_at:%Y-%m-%d %H:%M} UTC via {sub.consent_source}"
            if sub.consent_form_id:
                consent += f" (form {sub.consent_form_id})"
            if sub.consent_ip:
                consent += f" from {sub.consent_ip}"
            click.echo(consent)
            if sub.consent_text:
                click.echo(f"  wording: {sub.consent_text}")
            if sub.unsubscribed_at:
                click.echo(f"  unsubscribed {sub.unsubscribed_at:%Y-%m-%d %H:%M} UTC "
                           f"via {sub.unsubscribe_channel}")
            for ev in sub.events:
                line = (f"  {ev.at:%Y-%m-%d %H:%M} {ev.old_status or '(new)'} -> {ev.new_status}"
                        f"  by {ev.actor} via {ev.channel}")
                click.echo(line + (f": {ev.detail}" if ev.detail else ""))
        blocked = export_person(session, email)["suppressions"]
        if blocked:
            click.echo("\nsuppression list:")
            for entry in blocked:
                click.echo(f"  suppressed on {entry['scope']} ({entry['reason']}) "
                           f"since {entry['since'][:16].replace('T', ' ')} UTC")
        came_back = subscriber_bounces(session, subscriber.id)
        if came_back:
            click.echo("\nbounces and complaints:")
            for r in came_back:
                click.echo(f"  {r.processed_at:%Y-%m-%d %H:%M} #{r.id} {r.kind} {r.status}"
                           f" run {r.run_id if r.run_id is not None else '-'}"
                           f" ({r.message_id or r.source}): {r.action}")


@subscribers.command("unsubscribe", short_help="Unsubscribe an address now.")
@click.argument("email")
@list_option
@publication_option
@click.option("--all-lists", is_flag=True, help="Unsubscribe from every list.")
@click.option("--reason", default=None, help="Why (kept in the event log).")
@pass_project
def unsubscribe_command(project, email, list_name, publication, all_lists, reason):
    """Unsubscribe EMAIL now (recorded as done by an administrator)."""
    with project.session() as session:
        ensure_lists(session, project.settings)
        subscriber = find_subscriber(session, email)
        if subscriber is None:
            raise SubscriberNotFound(email)
        wanted = None if all_lists else get_list(session, _list_name(project, publication,
                                                                     list_name)).id
        targets = [s for s in subscriber.subscriptions if wanted is None or s.list_id == wanted]
        if not targets:
            raise click.ClickException(f"{subscriber.email} is not on that list")
        for sub in targets:
            changed = unsubscribe(session, sub.id, channel="admin", clock=project.clock,
                                  actor="admin", reason=reason)
            state = "unsubscribed" if changed else f"already {sub.status}"
            click.echo(f"{subscriber.email}: {state} ({sub.mailing_list.name})")


@subscribers.command("forget", short_help="Erase a person (GDPR); only a hash stays.")
@click.argument("email")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_project
def forget_command(project, email, yes):
    """Erase everything held about EMAIL (GDPR); only a hash stays, to honour the objection."""
    if not yes:
        click.confirm(f"Erase {email} and its whole history? This cannot be undone",
                      abort=True, err=True)
    with project.session() as session:
        report = erase_person(session, email, clock=project.clock,
                              project_dir=project.settings.project_dir)
    if report.found:
        elsewhere = f", {report.elsewhere} delivery record(s)" if report.elsewhere else ""
        click.echo(f"Erased: {report.subscriptions} subscription(s), {report.events} event(s)"
                   f"{elsewhere}. Kept only the suppression hash {report.email_hash[:16]}…")
    else:
        click.echo(f"No data held about {email}; its hash is now on the suppression list.")


@subscribers.command("export-person", short_help="Everything held about a person, as JSON.")
@click.argument("email")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (default: standard output).")
@force_option
@pass_project
def export_person_command(project, email, output, force):
    """Everything held about EMAIL as JSON (GDPR right of access)."""
    with project.read_session() as session:
        data = export_person(session, email, sections=access_sections())
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output:
        with kept_file(output, force=force) as fh:
            fh.write(text + "\n")
        click.echo(f"written to {output}", err=True)
    else:
        click.echo(text)


@subscribers.command("lists", short_help="Lists with counts per status.")
@pass_project
def lists_command(project):
    """Every list with its publication and counts per status."""
    with project.read_session() as session:
        ensure_lists(session, project.settings)
        counts = count_by_status(session)
    owners = {name: pub.slug for pub in project.settings.publications.values()
              for name in pub.lists}
    header = ["list", "publication", *STATUSES]
    click.echo("\t".join(header))
    for name, by_status in counts.items():
        click.echo("\t".join([name, owners.get(name, "-"),
                              *(str(by_status.get(s, 0)) for s in STATUSES)]))


commands = [subscribers]
