"""SPF evaluation (RFC 7208 ``check_host``) for the doctor: does a domain authorise an IP?

A compact evaluator over a :class:`DnsClient`: ``ip4``, ``ip6``, ``a``, ``mx``, ``include``,
``exists``, ``ptr`` (never matches: deprecated, §5.5), ``all`` and ``redirect=``, with the
limits of §4.6.4 — at most 10 mechanisms or modifiers that query DNS, at most 10 MX names
per ``mx``, at most 2 lookups that return nothing (void lookups).  Macros (§7) are not
expanded: a term that uses one ends in ``permerror`` with a message saying so, which the
doctor reports as "cannot check".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dns import DnsError

if TYPE_CHECKING:
    from .dns import DnsClient

__all__ = ["LOOKUP_LIMIT", "SpfResult", "check_host", "spf_records"]

LOOKUP_LIMIT = 10
VOID_LIMIT = 2
_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_DNS_TERMS = {"include", "a", "mx", "ptr", "exists", "redirect"}


@dataclass
class SpfResult:
    """The outcome of :func:`check_host`: ``result`` is one of RFC 7208 §2.6's names."""

    result: str  # pass, fail, softfail, neutral, none, permerror, temperror
    record: str = ""  # the top-level record, as published
    reason: str = ""
    lookups: int = 0


class _PermError(Exception):
    pass


@dataclass
class _State:
    dns: DnsClient
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    lookups: int = 0
    voids: int = 0
    seen: list[str] = field(default_factory=list)

    def count(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise _PermError(f"more than {LOOKUP_LIMIT} DNS-querying terms ({term} is one too "
                             "many, RFC 7208 §4.6.4): receivers stop here with permerror")

    def void(self, found: list) -> list:
        if not found:
            self.voids += 1
            if self.voids > VOID_LIMIT:
                raise _PermError(f"more than {VOID_LIMIT} lookups found nothing (RFC 7208 "
                                 "§4.6.4)")
        return found


def spf_records(dns: DnsClient, domain: str) -> list[str]:
    """The TXT strings of ``domain`` that are SPF records (``v=spf1`` …)."""
    return [t for t in dns.txt(domain) if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def check_host(dns: DnsClient, ip: str, domain: str) -> SpfResult:
    """Evaluate ``domain``'s SPF policy for a message sent from ``ip``."""
    state = _State(dns, ipaddress.ip_address(ip))
    record = ""
    try:
        records = spf_records(dns, domain)
        record = records[0] if len(records) == 1 else ""
        result = _evaluate(state, domain)
    except _PermError as exc:
        return SpfResult("permerror", record, str(exc), state.lookups)
    except DnsError as exc:
        return SpfResult("temperror", record, str(exc), state.lookups)
    return SpfResult(result[0], record, result[1], state.lookups)


def _evaluate(state: _State, domain: str) -> tuple[str, str]:
    """(result, reason) of the SPF record at ``domain``."""
    records = spf_records(state.dns, domain)
    if not records:
        return "none", f"no SPF record at {domain}"
    if len(records) > 1:
        raise _PermError(f"{domain} publishes {len(records)} SPF records; there must be one "
                         "(RFC 7208 §4.5)")
    terms = records[0].split()[1:]
    redirect = None
    for term in terms:
        if "%" in term:
            raise _PermError(f"{term!r} uses SPF macros, which the doctor does not expand")
        name, sep, value = term.partition("=")
        if sep and ":" not in name and "/" not in name:  # a modifier
            if name.lower() == "redirect":
                redirect = value
            continue
        qualifier = "+"
        if term[0] in _QUALIFIERS:
            qualifier, term = term[0], term[1:]
        if _matches(state, domain, term):
            return _QUALIFIERS[qualifier], f"{domain}: {qualifier}{term}".replace(": +", ": ")
    if redirect:
        state.count("redirect=" + redirect)
        result, reason = _evaluate(state, redirect)
        if result == "none":
            raise _PermError(f"redirect={redirect}: no SPF record there")
        return result, reason
    return "neutral", f"{domain}: no mechanism matched and no all"


def _split(term: str, domain: str) -> tuple[str, int | None, int | None]:
    """``a:dom/24//64`` → (dom, 24, 64), the current domain when none is given."""
    cidr4 = cidr6 = None
    spec, _, dual = term.partition("//")
    if dual:
        cidr6 = int(dual)
    spec, _, single = spec.partition("/")
    if single:
        cidr4 = int(single)
    target = spec.partition(":")[2] or domain
    return target, cidr4, cidr6


def _in(state: _State, addresses: list[str], cidr4: int | None, cidr6: int | None) -> bool:
    for address in addresses:
        net = ipaddress.ip_network(
            f"{address}/{(cidr4 if ':' not in address else cidr6) or (32 if ':' not in address else 128)}",
            strict=False)
        if state.ip.version == net.version and state.ip in net:
            return True
    return False


def _matches(state: _State, domain: str, term: str) -> bool:
    mechanism = term.split(":", 1)[0].split("/", 1)[0].lower()
    if mechanism in _DNS_TERMS:
        state.count(term)
    try:
        if mechanism == "all":
            return True
        if mechanism in ("ip4", "ip6"):
            net = ipaddress.ip_network(term.split(":", 1)[1], strict=False)
            return state.ip.version == net.version and state.ip in net
        if mechanism == "include":
            target = term.split(":", 1)[1]
            result, _ = _evaluate(state, target)
            if result == "none":
                raise _PermError(f"include:{target}: no SPF record there (RFC 7208 §5.2)")
            return result == "pass"
        if mechanism == "a":
            target, cidr4, cidr6 = _split(term, domain)
            return _in(state, state.void(state.dns.addresses(target)), cidr4, cidr6)
        if mechanism == "mx":
            target, cidr4, cidr6 = _split(term, domain)
            hosts = state.void(state.dns.mx(target))
            if len(hosts) > LOOKUP_LIMIT:
                raise _PermError(f"mx:{target} has more than {LOOKUP_LIMIT} MX names")
            return any(_in(state, state.dns.addresses(h), cidr4, cidr6) for h in hosts)
        if mechanism == "exists":
            return bool(state.void(state.dns.addresses(term.split(":", 1)[1], ipv6=False)))
        if mechanism == "ptr":
            return False  # deprecated (§5.5); receivers may skip it
    except (ValueError, IndexError):
        raise _PermError(f"{term!r} is not a valid SPF mechanism") from None
    raise _PermError(f"{term!r} is not an SPF mechanism (RFC 7208 §5)")
