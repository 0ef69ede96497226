"""Project-level commands: settings and database."""

from __future__ import annotations

import click

from ..db import current_revision, head_revision, upgrade
from ..settings import PROJECT_SETTINGS
from .common import pass_project

__all__ = ["commands"]


@click.command("settings")
@pass_project
def settings_command(project) -> None:
    """Show the effective project settings and the variable that overrides each."""
    s = project.settings
    # Columns as wide as their longest entry.
    name_width = max(len(setting.name) for setting in PROJECT_SETTINGS)
    env_width = max(len(setting.env) for setting in PROJECT_SETTINGS)
    for setting in PROJECT_SETTINGS:
        value = getattr(s, setting.name, None)
        if setting.name == "secret_key":
            value = f"({len(s.secret_keys)} key(s) configured)"
        elif setting.name == "webhook_secret" and value:
            value = "(set)"
        elif setting.name in ("smtp_url", "bounce_url") and value:
            value = _hide_password(str(value))
        elif setting.name == "database_url":
            value = _hide_password(s.database_url)
        click.echo(f"{setting.name:{name_width}}  {setting.env:{env_width}}  {value}")
    click.echo(f"{'publications':{name_width}}  "
               + ", ".join(f"{p.slug} ({p.name})" for p in s.publications.values()))


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@click.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@pass_project
def db_upgrade(project) -> None:
    """Create or upgrade the database schema (also done automatically on first use)."""
    from ..db import make_engine

    engine = make_engine(project.settings.database_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@db_group.command("status")
@pass_project
def db_status(project) -> None:
    """Show the schema revision of the database and the newest one available."""
    from ..db import make_engine

    engine = make_engine(project.settings.database_url)
    click.echo(f"database: {current_revision(engine) or '(empty)'}; newest: {head_revision()}")


@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_project
def db_backup(project, file) -> None:
    """Write a consistent copy of the database to FILE, even while `serve` and a send run.

    SQLite: the online backup API; PostgreSQL: pg_dump (custom format). Keep the erasure
    journal (erasures.jsonl) and the secret key with the project files.
    """
    from ..backup import BackupError, backup

    try:
        report = backup(project.settings.database_url, file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {report.path} ({report.size} bytes, {report.method})")


@db_group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True,
              help="Replace a database that already holds data (its erasures are kept).")
@click.option("--journal", type=click.Path(dir_okay=False), default=None,
              help="Erasure journal to apply again (default: erasures.jsonl of the project).")
@pass_project
def db_restore(project, file, force, journal) -> None:
    """Load the backup FILE into the project's database, then erase again everyone erased
    since (erasure journal and the replaced database's erasures)."""
    from ..backup import ERASURE_JOURNAL, BackupError, restore
    from ..delivery import erase_recipient

    journal = journal or str(project.settings.project_dir / ERASURE_JOURNAL)
    project.close()
    try:
        report = restore(project.settings.database_url, file, clock=project.clock,
                         journal=journal, erasers=[erase_recipient], force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {file} ({report.method}); {report.erasures} erasures applied again, "
               f"{report.erased_again} people erased again")
    if project.settings.secret_key_generated:
        # This project had no key of its own: loading it just made one.  If the restored
        # database has sent mail, its readers' links were signed with the old project's key:
        # the check refuses (and removes the new key) now, not after the first 404.
        project.engine  # noqa: B018 - opening runs the check


commands = [settings_command, db_group]
