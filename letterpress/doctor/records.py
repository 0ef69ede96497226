"""DKIM key records (RFC 6376 §3.6.1), DMARC policies (RFC 7489 §6) and domain alignment.

Pure functions over record text, plus :func:`zone_txt`, which writes the exact line to put in
a zone file (strings cut at 255 octets, RFC 1035 §3.3.14).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["DmarcPolicy", "aligned", "dkim_public_key", "organizational_domain",
           "parse_dmarc", "parse_tags", "zone_txt"]


def zone_txt(name: str, value: str) -> str:
    """``name. IN TXT "…"`` as a zone-file line, the value cut into 255-octet strings."""
    chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    quoted = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
    if len(chunks) > 1:
        quoted = f"( {quoted} )"
    return f"{name.rstrip('.')}. IN TXT {quoted}"


def parse_tags(record: str) -> dict[str, str]:
    """``tag=value; …`` (DKIM and DMARC) as a dict with lower-case tags, spaces removed."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def dkim_public_key(record: str) -> bytes | None:
    """The DER public key in a DKIM key record's ``p=``; ``None`` when absent, empty
    (revoked) or not base64."""
    p = parse_tags(record).get("p", "")
    if not p:
        return None
    try:
        return base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=1)
def _psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registered domain under its public suffix (RFC 7489 §3.2): ``lettres.anct.gouv.fr``
    → ``anct.gouv.fr``."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(a: str, b: str, mode: str = "r") -> bool:
    """Whether domains ``a`` and ``b`` align: equal in strict mode (``s``), the same
    organizational domain in relaxed mode (``r``, the default)."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)


@dataclass(frozen=True)
class DmarcPolicy:
    """A DMARC record: where it was found and what it asks."""

    domain: str  # where the record was found (_dmarc.<domain>)
    record: str
    p: str  # none, quarantine, reject ('' when missing or invalid)
    sp: str
    adkim: str  # r or s
    aspf: str
    pct: int
    rua: str


def parse_dmarc(domain: str, record: str) -> DmarcPolicy:
    """The policy in ``record`` (found at ``_dmarc.<domain>``)."""
    tags = parse_tags(record)
    p = tags.get("p", "").lower()
    if p not in ("none", "quarantine", "reject"):
        p = ""
    try:
        pct = int(tags.get("pct", "100"))
    except ValueError:
        pct = 100
    return DmarcPolicy(domain, record, p, tags.get("sp", p).lower(),
                       tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower(), pct,
                       tags.get("rua", ""))
