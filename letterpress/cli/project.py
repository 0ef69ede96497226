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
        click.echo(f"{setting.name:14} {setting.env:32} {value}")
    click.echo("publications   " + ", ".join(f"{p.slug} ({p.name})" for p in s.publications.values()))


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


commands = [settings_command, db_group]
