"""``letterpress serve``, ``letterpress unsubscribe-mail`` and ``letterpress publish``.

Each command opens the project and makes one call into :mod:`letterpress.web` or
:mod:`letterpress.mailto`.
"""

from __future__ import annotations

import sys

import click

from .common import IssueFile, configure_logging, pass_project

__all__ = ["commands", "publish", "serve", "unsubscribe_mail"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (keep loopback behind a reverse proxy).")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port, printed at start).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads of the waitress server.")
@click.option("--with-scheduler", is_flag=True,
              help="Also run the scheduler (scheduled sends) in a background thread.")
@click.option("--trusted-proxy", default="127.0.0.1", show_default=True, metavar="ADDR",
              help="Trust X-Forwarded-For/-Proto from this address only ('' for none).")
@pass_project
def serve(project, host: str, port: int, threads: int, with_scheduler: bool,
          trusted_proxy: str) -> None:
    """Serve the reader pages: unsubscribe, subscribe, preferences, archive, images.

    A production server (waitress), configured by letterpress.toml; put it behind a
    reverse proxy at the publication's base URL (see docs/web.md).
    """
    from ..web.server import serve as run_server

    configure_logging()  # the scheduler thread, when there is one, says what it does

    def ready(url: str) -> None:
        click.echo(f"letterpress: serving {project.settings.base_url} on {url}"
                   + (" with the scheduler" if with_scheduler else ""), err=True)

    try:
        run_server(project, host=host, port=port, threads=threads,
                   with_scheduler=with_scheduler, trusted_proxy=trusted_proxy or None,
                   on_ready=ready)
    except OSError as exc:  # the port is taken, the address is not this machine's
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                                   ) from None
    except ValueError as exc:  # waitress: a host name that does not resolve
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None


@click.command("unsubscribe-mail")
@click.argument("source", required=False, type=click.Path(exists=True, dir_okay=True))
@pass_project
def unsubscribe_mail(project, source: str | None) -> None:
    """Unsubscribe the readers who used the mailto: link of List-Unsubscribe.

    SOURCE is a message file (.eml), an mbox file or a Maildir folder; without it one
    message is read from standard input (e.g. a Postfix pipe alias).  Exit code 0 even
    for messages without a valid token, so the mail system does not bounce them.
    """
    from ..mailto import ingest, iter_messages

    messages = iter_messages(source if source else sys.stdin.buffer)
    results = ingest(project, messages)
    for result in results:
        click.echo(str(result))
    done = sum(r.outcome == "unsubscribed" for r in results)
    click.echo(f"{len(results)} message(s), {done} unsubscribed.", err=True)


@click.command()
@click.argument("issue_file", type=IssueFile())
@pass_project
def publish(project, issue_file: str) -> None:
    """Show an issue in the online archive without sending it (e.g. sent by another tool).

    Issues sent by letterpress appear there by themselves.
    """
    from ..content import load_issue
    from ..render import render_issue
    from ..web.published import publish_issue

    issue = load_issue(issue_file, project.settings)
    if issue.status != "ready":
        raise click.ClickException(f"{issue_file} is a draft: set `status: ready` in the issue "
                                   "once it is approved, then publish it")
    rendered = render_issue(issue, project.settings)  # refuse to publish what does not render
    with project.session() as session:
        publish_issue(session, issue, clock=project.clock)
    click.echo(f"{issue.identity} published: {rendered.web_url}")


commands = [serve, unsubscribe_mail, publish]
