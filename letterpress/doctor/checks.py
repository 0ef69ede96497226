"""The checks of ``letterpress doctor``: what receivers will see of a publication's sender.

Gmail, Yahoo, Microsoft (since May 2025) and Orange refuse bulk mail whose domain does not
pass SPF and DKIM with an aligned DMARC policy.  Each check queries the real DNS through the
:class:`~letterpress.doctor.dns.DnsClient` it is given and returns :class:`Finding` s; each
finding that needs a change says what to publish, as the exact zone-file line.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..settings import Publication, Settings
from .dns import DnsClient, DnsError
from .https import probe
from .records import (
    aligned,
    dkim_public_key,
    organizational_domain,
    parse_dmarc,
    zone_txt,
)
from .spf import LOOKUP_LIMIT, check_host, spf_records

__all__ = ["Diagnosis", "Finding", "diagnose", "relay_addresses"]

OK, WARNING, ERROR = "ok", "warning", "error"


@dataclass(frozen=True)
class Finding:
    """One result: ``level`` is ok, warning or error; ``publish`` the record to publish."""

    check: str  # spf, return-path, dkim, dmarc, https
    level: str
    message: str
    publish: str = ""

    def __str__(self) -> str:
        text = f"[{self.level.upper()}] {self.check}: {self.message}"
        if self.publish:
            text += "\n    publish: " + self.publish.replace("\n", "\n             ")
        return text


@dataclass
class Diagnosis:
    """Every finding about one publication; ``ok`` when none is an error."""

    publication: str
    from_domain: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.level == ERROR for f in self.findings)

    def to_dict(self) -> dict:
        """JSON-ready: publication, from_domain, ok and the findings."""
        return {"publication": self.publication, "from_domain": self.from_domain,
                "ok": self.ok, "findings": [asdict(f) for f in self.findings]}


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def relay_addresses(settings: Settings, publication: Publication, dns: DnsClient
                    ) -> tuple[str, list[str]]:
    """(relay host, its IP addresses) of the publication's SMTP transport; ('', []) for the
    outbox directory."""
    url = settings.transport_for(publication).url
    if not url:
        return "", []
    host = urlsplit(url).hostname or ""
    try:
        return host, [str(ipaddress.ip_address(host))]
    except ValueError:
        return host, dns.addresses(host)


def diagnose(settings: Settings, publication: Publication, *, dns: DnsClient,
             relay_ips: Sequence[str] = (), https_context: ssl.SSLContext | None = None,
             timeout: float = 10.0) -> Diagnosis:
    """Check SPF, the Return-Path, DKIM, DMARC and the https pages of ``publication``.

    ``relay_ips`` are the addresses the relay sends from, when they are not those of the host
    in the SMTP URL (a relay on loopback, a NAT); ``https_context`` the TLS trust to use.
    """
    from_domain = _domain(publication.sender_email)
    result = Diagnosis(publication.slug, from_domain)
    add = result.findings.append
    mail_from_domain = from_domain  # the envelope sender is the publication's sender
    try:
        spf_pass = _check_spf(add, settings, publication, dns, mail_from_domain, relay_ips)
        _check_return_path(add, dns, mail_from_domain)
        dkim_domain = _check_dkim(add, publication, dns, from_domain)
        _check_dmarc(add, dns, from_domain, mail_from_domain if spf_pass else None, dkim_domain)
    except DnsError as exc:
        add(Finding("dns", ERROR, f"{exc}: the checks could not finish"))
    _check_https(add, settings, https_context, timeout)
    return result


# --------------------------------------------------------------------------- SPF

def _check_spf(add, settings: Settings, publication: Publication, dns: DnsClient,
               domain: str, relay_ips: Sequence[str]) -> bool:
    """Findings about SPF at the Return-Path domain; whether every relay address passes."""
    host, addresses = relay_addresses(settings, publication, dns)
    ips = list(relay_ips) or addresses
    records = spf_records(dns, domain)
    if not ips or all(ipaddress.ip_address(ip).is_loopback for ip in ips):
        if not ips:
            where = f"{host} has no address in DNS" if host else "no SMTP relay is configured"
        else:
            where = f"the relay {host} is on this machine"
        hint = (f"{where}: pass --relay-ip with the public address(es) it sends from to check "
                "that SPF covers them")
        if records:
            add(Finding("spf", WARNING, hint))
        else:
            add(Finding("spf", ERROR, f"no SPF record at {domain}; {hint}",
                        zone_txt(domain, "v=spf1 ip4:RELAY-PUBLIC-ADDRESS ~all")))
        return False
    passing = True
    for ip in ips:
        outcome = check_host(dns, ip, domain)
        if outcome.result == "pass":
            add(Finding("spf", OK, f"{domain} authorises {ip} ({outcome.reason}; "
                        f"{outcome.lookups} of at most {LOOKUP_LIMIT} DNS lookups)"))
            continue
        passing = False
        if outcome.result in ("permerror", "temperror"):
            add(Finding("spf", ERROR, f"{domain}: SPF {outcome.result}: {outcome.reason}",
                        _spf_fix(domain, records, [ip])))
        else:
            why = outcome.reason if outcome.result != "none" else "no SPF record"
            add(Finding("spf", ERROR, f"{domain} does not authorise the relay address {ip}: "
                        f"SPF {outcome.result} ({why})", _spf_fix(domain, records, [ip])))
    return passing


def _spf_fix(domain: str, records: list[str], ips: Sequence[str]) -> str:
    mechanisms = " ".join(("ip6:" if ":" in ip else "ip4:") + ip for ip in ips)
    if len(records) == 1:
        head, _, rest = records[0].partition(" ")
        return zone_txt(domain, f"{head} {mechanisms} {rest}".strip())
    return zone_txt(domain, f"v=spf1 {mechanisms} ~all")


# --------------------------------------------------------------------------- Return-Path

def _check_return_path(add, dns: DnsClient, domain: str) -> None:
    mx = dns.mx(domain)
    if mx:
        add(Finding("return-path", OK, f"bounces to @{domain} go to {', '.join(mx)}"))
    elif dns.addresses(domain):
        add(Finding("return-path", WARNING, f"{domain} has no MX: bounces go to its A/AAAA "
                    "address (RFC 5321 §5.1); publish an MX for the server that receives them",
                    f"{domain}. IN MX 10 mail.{domain}."))
    else:
        add(Finding("return-path", ERROR, f"{domain} has neither MX nor address: bounces and "
                    "replies to the Return-Path cannot be delivered",
                    f"{domain}. IN MX 10 mail.{domain}."))


# --------------------------------------------------------------------------- DKIM

def _check_dkim(add, publication: Publication, dns: DnsClient, from_domain: str) -> str | None:
    """Findings about the DKIM key; the signing domain when the published key matches."""
    config = publication.dkim
    if config is None:
        add(Finding("dkim", ERROR, "mail is not DKIM-signed (Gmail, Yahoo, Microsoft and "
                    "Orange require it): create a key (openssl genpkey -algorithm RSA -pkeyopt "
                    "rsa_keygen_bits:2048 -out dkim.pem) and set [publications."
                    f"{publication.slug}.dkim] selector, domain and key_file"))
        return None
    try:
        from ..dkim import dns_txt_record

        expected = dns_txt_record(Path(config.key_file).read_bytes())
    except (OSError, ValueError) as exc:
        add(Finding("dkim", ERROR, f"cannot read the DKIM key {config.key_file}: {exc}"))
        return None
    name = f"{config.selector}._domainkey.{config.domain}"
    records = [r for r in dns.txt(name) if "p=" in r]
    fix = zone_txt(name, expected)
    if not records:
        add(Finding("dkim", ERROR, f"no DKIM key published at {name}", fix))
        return None
    published = [dkim_public_key(r) for r in records]
    if dkim_public_key(expected) not in published:
        what = "is revoked (empty p=)" if published == [None] else \
            "does not match the configured private key"
        add(Finding("dkim", ERROR, f"the key published at {name} {what}: receivers will "
                    "fail every signature", fix))
        return None
    if len(records) > 1:
        add(Finding("dkim", WARNING, f"{name} publishes {len(records)} key records; keep one",
                    fix))
    else:
        add(Finding("dkim", OK, f"{name} publishes the configured key"))
    if not aligned(config.domain, from_domain):
        add(Finding("dkim", ERROR, f"signing domain d={config.domain} does not align with the "
                    f"From domain {from_domain}: DMARC ignores this signature; sign with "
                    f"{from_domain} or one of its subdomains"))
    return config.domain


# --------------------------------------------------------------------------- DMARC

def _dmarc_records(dns: DnsClient, domain: str) -> list[str]:
    return [r for r in dns.txt(f"_dmarc.{domain}")
            if r.replace(" ", "").upper().startswith("V=DMARC1")]


def _check_dmarc(add, dns: DnsClient, from_domain: str, spf_domain: str | None,
                 dkim_domain: str | None) -> None:
    org = organizational_domain(from_domain)
    suggested = zone_txt(f"_dmarc.{from_domain}",
                         f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{org}; adkim=r; aspf=r")
    found_at, records = from_domain, _dmarc_records(dns, from_domain)
    if not records and org != from_domain:
        found_at, records = org, _dmarc_records(dns, org)
    if not records:
        add(Finding("dmarc", ERROR, f"no DMARC policy at _dmarc.{from_domain}"
                    + (f" nor _dmarc.{org}" if org != from_domain else "")
                    + ": Gmail, Yahoo, Microsoft and Orange require one (p=none at least; "
                    "start there if unsure, then quarantine once the reports show all mail "
                    "aligned)", suggested))
        return
    if len(records) > 1:
        add(Finding("dmarc", ERROR, f"_dmarc.{found_at} publishes {len(records)} DMARC "
                    "records: receivers then ignore them all (RFC 7489 §6.6.3)", suggested))
        return
    policy = parse_dmarc(found_at, records[0])
    effective = policy.p if found_at == from_domain else policy.sp
    if not effective:
        add(Finding("dmarc", ERROR, f"_dmarc.{found_at} has no valid p= tag: {records[0]!r}",
                    suggested))
        return
    if effective == "none":
        add(Finding("dmarc", WARNING, f"_dmarc.{found_at}: p=none only monitors; forged mail "
                    "in your name is still delivered. Move to quarantine (then reject) once "
                    "the aggregate reports show your mail aligned",
                    zone_txt(f"_dmarc.{found_at}", records[0].replace(
                        f"p={policy.p}", "p=quarantine", 1) if found_at == from_domain
                        else records[0])))
    else:
        add(Finding("dmarc", OK, f"_dmarc.{found_at}: p={effective}"
                    + (f", pct={policy.pct}" if policy.pct != 100 else "")))
    spf_ok = spf_domain is not None and aligned(spf_domain, from_domain, policy.aspf)
    dkim_ok = dkim_domain is not None and aligned(dkim_domain, from_domain, policy.adkim)
    if spf_ok or dkim_ok:
        how = " and ".join(n for n, ok in (("SPF", spf_ok), ("DKIM", dkim_ok)) if ok)
        add(Finding("dmarc", OK, f"{how} align with the From domain {from_domain}"))
        return
    reasons = []
    if spf_domain is None:
        reasons.append("SPF does not pass for the relay")
    elif not spf_ok:
        reasons.append(f"the Return-Path domain {spf_domain} does not align "
                       f"(aspf={policy.aspf})")
    if dkim_domain is None:
        reasons.append("no valid DKIM signature")
    elif not dkim_ok:
        reasons.append(f"DKIM d={dkim_domain} does not align (adkim={policy.adkim})")
    add(Finding("dmarc", ERROR, f"DMARC fails for From {from_domain}: " + "; ".join(reasons)
                + ". Fix SPF or DKIM above so at least one passes with an aligned domain"))


# --------------------------------------------------------------------------- https

def _check_https(add, settings: Settings, context: ssl.SSLContext | None,
                 timeout: float) -> None:
    base = settings.base_url
    if urlsplit(base).scheme != "https":
        add(Finding("https", ERROR, f"base_url {base} is not https: the one-click "
                    "unsubscribe URL (RFC 8058) must be https"))
        return
    for what, url, expected in (
            ("the health page", f"{base}/healthz", (200,)),
            ("the one-click unsubscribe URL", f"{base}/u/letterpress-doctor-probe", None)):
        answer = probe(url, context=context, timeout=timeout)
        if not answer.answered:
            add(Finding("https", ERROR, f"{what} ({url}) does not answer over https: "
                        f"{answer.reason or answer.status}"))
        elif expected and answer.status not in expected:
            add(Finding("https", WARNING, f"{what} ({url}) answers {answer.status} "
                        f"{answer.reason}"))
        else:
            add(Finding("https", OK, f"{what} answers over https ({url}: {answer.status})"))
