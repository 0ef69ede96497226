"""``letterpress doctor``: one call into :mod:`letterpress.doctor`, findings printed."""

from __future__ import annotations

import ipaddress
import json
import ssl

import click

from .common import pass_project, publication_option

__all__ = ["commands", "doctor"]


def _ip(ctx, param, values):
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an IP address") from None
    return values


@click.command()
@publication_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--nameserver", metavar="ADDR", default=None,
              help="Ask this DNS server (IP address) instead of the system's resolvers.")
@click.option("--dns-port", default=53, show_default=True, type=click.IntRange(1, 65535),
              help="Port of --nameserver.")
@click.option("--relay-ip", "relay_ips", multiple=True, metavar="IP", callback=_ip,
              help="Address the relay sends from (repeatable); default: the addresses of the "
                   "SMTP URL's host.")
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also trust this CA certificate (PEM) for the https checks.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 120),
              help="Seconds to wait for each DNS or https answer.")
@pass_project
def doctor(project, publication: str | None, as_json: bool, nameserver: str | None,
           dns_port: int, relay_ips: tuple[str, ...], cafile: str | None,
           timeout: float) -> None:
    """Check the sender's DNS (SPF, DKIM, DMARC), Return-Path and https pages.

    Each finding that needs a change gives the exact record to publish.  Exit code 1 when
    something must be fixed before sending to Gmail, Yahoo, Microsoft or Orange.
    """
    from ..doctor import DnsClient, diagnose

    pub = project.settings.publication(publication)
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    if cafile:
        context.load_default_certs()
    dns = DnsClient.at(nameserver, dns_port, timeout)
    result = diagnose(project.settings, pub, dns=dns, relay_ips=relay_ips,
                      https_context=context, timeout=timeout)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"{pub.slug}: sender domain {result.from_domain}")
        for finding in result.findings:
            click.echo(str(finding))
        errors = sum(f.level == "error" for f in result.findings)
        click.echo("Ready to send." if result.ok else
                   f"{errors} problem(s) to fix before sending.", err=True)
    if not result.ok:
        raise SystemExit(1)


commands = [doctor]
