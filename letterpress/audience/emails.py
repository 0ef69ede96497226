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

import idna
from email_validator import EmailNotValidError, validate_email

from ..errors import InvalidEmail

__all__ = ["email_hash", "email_key", "envelope_address", "key_hash", "normalise_email",
           "sendable_email"]

MAX_LENGTH = 254


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
