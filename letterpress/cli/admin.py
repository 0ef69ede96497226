"""``letterpress admin``: accounts of the dashboard served at /admin by ``letterpress serve``."""

from __future__ import annotations

import sys

import click

from .common import pass_project

__all__ = ["commands"]


@click.group("admin", short_help="Accounts of the /admin dashboard.")
def admin() -> None:
    """Accounts of the operations dashboard (/admin in `letterpress serve`).

    Editors read runs, reports, the schedule, lists and subscribers; admins may also
    unsubscribe and erase.  Passwords are stored as Argon2id hashes.
    """


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)


@admin.command("add", short_help="Create an account.")
@click.argument("username")
@click.option("--role", type=click.Choice(["editor", "admin"]), default="editor",
              show_default=True, help="editor: read only; admin: may also unsubscribe and erase.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
@click.option("--no-password", is_flag=True,
              help="No password: the account can only log in through the reverse proxy's "
                   "authenticated-user header (admin_auth_header).")
@click.option("--reset-password", is_flag=True,
              help="The account exists: set a new password (and --role if given).")
@pass_project
def add_command(project, username, role, password_stdin, no_password, reset_password):
    """Create the dashboard account USERNAME (asks for its password twice)."""
    from ..admin import add_account, audit, set_password

    password = None if no_password else _password(password_stdin)
    with project.session() as session:
        if reset_password:
            set_password(session, username, password or "", role=role)
            action = "account-password"
        else:
            add_account(session, username, password, role=role, clock=project.clock)
            action = "account-add"
        audit(session, actor="cli", action=action, subject=username, detail=f"role {role}",
              clock=project.clock)
    click.echo(f"{username}: {role}" + (" (password changed)" if reset_password else ""))


@admin.command("list", short_help="List accounts.")
@pass_project
def list_command(project):
    """Every dashboard account with its role."""
    from ..admin import list_accounts

    with project.read_session() as session:
        accounts = [(a.username, a.role, bool(a.password_hash), a.created_at, a.disabled)
                    for a in list_accounts(session)]
    if not accounts:
        click.echo("No account yet: letterpress admin add USER --role admin")
    for username, role, has_password, created_at, disabled in accounts:
        how = "password" if has_password else "proxy header only"
        click.echo(f"{username}\t{role}\t{how}\tsince {created_at:%Y-%m-%d}"
                   + ("\tdisabled" if disabled else ""))


commands = [admin]
