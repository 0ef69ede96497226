"""VERP return paths: an envelope sender that names its delivery, signed.

    bounces@lettres.example.org  +  delivery 1234  →  bounces+1234-9f2c4e1a7b3d@lettres.example.org

A DSN goes back to the envelope sender (MAIL FROM, RFC 5321 §4.5.5), so the address a bounce
arrives at names the delivery without parsing the bounce.  The tag is an HMAC-SHA256 of the
delivery id under the project's secret keys (any key verifies, for rotations), truncated to
12 lowercase hex digits: case-insensitive mail systems cannot damage it.  A tag that does not
verify is *forged*; :func:`parse_verp` tells the two failures apart from "no VERP at all".
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ForgedVerp", "ReturnPath", "parse_verp", "verp_address", "verp_tag"]

TAG_LENGTH = 12
_NAMESPACE = b"letterpress.verp:"
_VERP = re.compile(r"^(?P<local>[^+@\s]+)\+(?P<id>\d{1,18})-(?P<tag>[0-9a-fA-F]+)@(?P<domain>[^@\s>]+)$")


@dataclass(frozen=True)
class ForgedVerp:
    """A VERP-shaped address whose tag does not verify (forged, or from another project)."""

    address: str
    delivery_id: int


def verp_tag(delivery_id: int, key: str) -> str:
    """The 12-hex-digit signature of ``delivery_id`` under ``key``."""
    digest = hmac.new(key.encode(), _NAMESPACE + str(delivery_id).encode(), hashlib.sha256)
    return digest.hexdigest()[:TAG_LENGTH]


def verp_address(bounce_address: str, delivery_id: int, key: str) -> str:
    """``local+<id>-<tag>@domain`` from the publication's ``bounce_address``."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{delivery_id}-{verp_tag(delivery_id, key)}@{domain}"


def parse_verp(address: str, keys: Sequence[str]) -> int | ForgedVerp | None:
    """The delivery id named by ``address``; :class:`ForgedVerp` if the tag is wrong; None
    when the address is not a VERP address at all."""
    match = _VERP.match(address.strip().strip("<>"))
    if match is None:
        return None
    delivery_id = int(match["id"])
    tag = match["tag"].lower()
    for key in keys:
        if hmac.compare_digest(tag, verp_tag(delivery_id, key)):
            return delivery_id
    return ForgedVerp(address.strip(), delivery_id)


class ReturnPath:
    """The envelope sender of each delivery: VERP when ``bounce_address`` is set, else the
    publication's sender as before."""

    def __init__(self, bounce_address: str, keys: Sequence[str], fallback: str):
        self.bounce_address = bounce_address
        self.key = keys[0] if keys else ""
        self.fallback = fallback

    def __call__(self, delivery_id: int) -> str:
        if not self.bounce_address or not self.key:
            return self.fallback
        return verp_address(self.bounce_address, delivery_id, self.key)
