"""Email addresses: validation, the normal form we store, and the keys derived from it.

Decisions (see docs/audience.md):

* The stored address is email-validator's normalised form: the domain lower-cased and, for
  internationalised domains, in its **Unicode** form (``user@bücher.de`` whether it was typed
  as ``bücher.de``, ``BÜCHER.de`` or ``xn--bcher-kva.de``).  The local part keeps its case
  (a few servers still treat it as significant) and plus-addressing is kept as typed.
* Uniqueness is on :func:`email_key`, the case-folded normal form, so ``Jean@x.fr`` and
  ``jean@X.FR`` are one subscriber.
* :func:`sendable_email` is the gate every address passes to be subscribed (import, add,
  form, API): on top of :func:`normalise_email` it refuses a non-ASCII local part
  (``josé@example.org``), which only a relay offering SMTPUTF8 (RFC 6531) could take and
  letterpress does not send with.  Such an address is never stored, so it never stays
  "active" while every send fails it.  Internationalised *domains* are fine: the envelope
  carries their ASCII form.
* :func:`envelope_address` gives the ASCII (IDNA) form of the domain for the SMTP envelope.
* :func:`email_hash` is the plain SHA-256 of the key.  It is not peppered: a pepper would
  have to survive every secret-key rotation and restore from backup, or erased people would
  silently become importable again.  The hash protects against casual reading of the
  suppression table, not against someone who already holds a candidate address.
"""

from __future__ import annotations

import hashlib
import re

import idna
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from ..errors import InvalidEmail

__all__ = ["email_hash", "email_key", "envelope_address", "key_hash", "normalise_email",
           "sendable_email"]

MAX_LENGTH = 254
MAX_LOCAL_LENGTH = 64

# The plain case — an ASCII dot-atom local part and an ASCII domain of letter-digit-hyphen
# labels with an alphabetic top-level domain — is what almost every list holds.  For it
# email-validator's verdict and normal form are known (valid; domain lower-cased, local part
# kept), so it is decided here in one regex match; everything else (quoted or non-ASCII parts,
# IDNA ``xn--`` labels, special-use names, anything unusual) goes through email-validator.
# tests/test_audience.py checks the two agree on generated addresses.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
assert all("." not in name for name in _SPECIAL)


def _plain_form(candidate: str) -> str | None:
    """The normal form of a plain ASCII address, or None when it needs the full check."""
    match = _PLAIN.fullmatch(candidate)
    if match is None or len(candidate) > MAX_LENGTH:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > MAX_LOCAL_LENGTH or "--" in domain:  # "xn--" labels: IDNA rules apply
        return None
    if domain.rpartition(".")[2] in _SPECIAL:  # special-use names are single labels
        return None
    return f"{local}@{domain}"


def normalise_email(value: str, *, check_deliverability: bool = False) -> str:
    """The normal form of an address; raises :class:`InvalidEmail` with a readable reason."""
    if not isinstance(value, str):
        raise InvalidEmail(repr(value), "not a string")
    candidate = value.strip()
    if not candidate:
        raise InvalidEmail(value, "empty address")
    if any(c in candidate for c in "\r\n\0"):
        raise InvalidEmail(value, "contains a line break or NUL character")
    if "\ufffd" in candidate:  # what a wrongly decoded byte becomes: never a real address
        raise InvalidEmail(value, "contains an undecodable character (wrong file encoding?)")
    plain = _plain_form(candidate)
    if plain is not None:
        return plain
    try:
        result = validate_email(candidate, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise InvalidEmail(value, str(exc)) from None
    normalised = result.normalized
    if len(normalised) > MAX_LENGTH:
        raise InvalidEmail(value, f"longer than {MAX_LENGTH} characters")
    return normalised


def sendable_email(value: str) -> str:
    """The normal form of an address letterpress can send to; raises :class:`InvalidEmail`
    for an invalid one and for a non-ASCII local part (needs SMTPUTF8, RFC 6531)."""
    if isinstance(value, str):
        plain = _plain_form(value.strip())  # ASCII throughout: sendable as it is
        if plain is not None:
            return plain
    normalised = normalise_email(value)
    local = normalised.rpartition("@")[0]
    if not local.isascii():
        raise InvalidEmail(value, "accented or non-Latin characters before the @ "
                           "(SMTPUTF8 address): the mail relay cannot deliver it")
    return normalised


def email_key(normalised: str) -> str:
    """The case-insensitive uniqueness key of an already normalised address."""
    return normalised.casefold()


def email_hash(value: str) -> str:
    """SHA-256 (hex) of an address's key: what the suppression list keeps."""
    try:
        key = email_key(normalise_email(value))
    except InvalidEmail:
        key = value.strip().casefold()
    return key_hash(key)


def key_hash(key: str) -> str:
    """SHA-256 (hex) of an :func:`email_key` (cheap: no validation)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def envelope_address(normalised: str) -> str:
    """The address with an ASCII (IDNA) domain, for SMTP servers without SMTPUTF8."""
    local, _, domain = normalised.rpartition("@")
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError):
        return normalised
