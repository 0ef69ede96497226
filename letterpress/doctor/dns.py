"""The doctor's DNS queries, through a dnspython resolver that is passed in.

:meth:`DnsClient.at` points one at a given nameserver and port (tests use a real NSD on
loopback), or at the system's resolvers.  A name or type that does not exist is an empty
answer; a server that does not answer is a :class:`DnsError`.
"""

from __future__ import annotations

import dns.exception
import dns.resolver

from ..errors import LetterpressError

__all__ = ["DnsClient", "DnsError"]


class DnsError(LetterpressError):
    """A DNS query got no usable answer (timeout, SERVFAIL, refused)."""

    def __init__(self, name: str, rdtype: str, reason: str):
        self.name = name
        self.rdtype = rdtype
        self.reason = reason
        super().__init__(f"DNS query {name} {rdtype} failed: {reason}")


class DnsClient:
    """TXT, MX and address queries over one :class:`dns.resolver.Resolver`."""

    def __init__(self, resolver: dns.resolver.Resolver):
        self.resolver = resolver

    @classmethod
    def at(cls, nameserver: str | None = None, port: int = 53, timeout: float = 5.0
           ) -> DnsClient:
        """A client asking ``nameserver``:``port``, or the system's resolvers when ``None``."""
        resolver = dns.resolver.Resolver(configure=nameserver is None)
        if nameserver is not None:
            resolver.nameservers = [nameserver]
            resolver.port = port
        resolver.lifetime = timeout
        resolver.timeout = timeout
        return cls(resolver)

    def _resolve(self, name: str, rdtype: str) -> list:
        try:
            return list(self.resolver.resolve(name, rdtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers,
                dns.resolver.YXDOMAIN) as exc:
            raise DnsError(name, rdtype, str(exc) or type(exc).__name__) from None
        except dns.exception.DNSException as exc:
            raise DnsError(name, rdtype, str(exc) or type(exc).__name__) from None

    def txt(self, name: str) -> list[str]:
        """Every TXT record of ``name``, its strings joined (RFC 7208 §3.3)."""
        return [b"".join(r.strings).decode("utf-8", "replace")
                for r in self._resolve(name, "TXT")]

    def addresses(self, name: str, *, ipv6: bool = True) -> list[str]:
        """The A (and AAAA) addresses of ``name``."""
        found = [r.address for r in self._resolve(name, "A")]
        if ipv6:
            found += [r.address for r in self._resolve(name, "AAAA")]
        return found

    def mx(self, name: str) -> list[str]:
        """The MX host names of ``name``, most preferred first."""
        records = sorted(self._resolve(name, "MX"), key=lambda r: r.preference)
        return [r.exchange.to_text(omit_final_dot=True) for r in records]
