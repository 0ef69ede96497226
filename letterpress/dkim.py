"""DKIM signing (RFC 6376): rsa-sha256, relaxed/relaxed, RSA through ``cryptography``.

dkimpy's pure-Python RSA costs milliseconds per message; OpenSSL (via ``cryptography``) signs
in a fraction of that, so signing does not divide the send rate.  Canonicalisation is done
here because the message template already knows where its bodies can vary: it canonicalises
its constant pieces once and hashes only what changes per recipient.  dkimpy verifies our
signatures in the tests and the benchmark, as an independent implementation.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import ConfigError
from .settings import DkimConfig

__all__ = [
    "SIGNED_HEADERS",
    "DkimSigner",
    "dns_txt_record",
    "generate_key",
    "relaxed_body",
    "relaxed_body_piece",
    "relaxed_header",
]

SIGNED_HEADERS: tuple[str, ...] = (
    "From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
    "List-Unsubscribe-Post", "MIME-Version", "Content-Type", "Reply-To", "Feedback-ID",
)
"""Headers covered by ``h=``, when present.  List-Unsubscribe-Post must be signed (RFC 8058)."""

_WSP_RUN = re.compile(rb"[ \t]+")
_TRAILING_WSP = re.compile(rb"[ \t]+\r\n")
_FOLD = re.compile(rb"\r\n(?=[ \t])")


def relaxed_header(name: str | bytes, value: bytes) -> bytes:
    """The relaxed canonical form of one header (``value`` as it appears after the colon)."""
    if isinstance(name, str):
        name = name.encode("ascii")
    value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value)).strip(b" \t\r\n")
    return name.strip().lower() + b":" + value + b"\r\n"


def relaxed_body_piece(piece: bytes) -> bytes:
    """Relaxed canonicalisation of body lines, without the end-of-body rule.

    Valid on any piece that starts at a line start and ends at a line end or before a
    non-whitespace byte, which is how the message template cuts its bodies.
    """
    return _WSP_RUN.sub(b" ", _TRAILING_WSP.sub(b"\r\n", piece))


def relaxed_body(body: bytes) -> bytes:
    """The relaxed canonical form of a whole body."""
    body = relaxed_body_piece(body).rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


class DkimSigner:
    """Signs messages for one domain and selector with an RSA private key."""

    def __init__(self, domain: str, selector: str, private_key: rsa.RSAPrivateKey,
                 headers: Sequence[str] = SIGNED_HEADERS):
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ConfigError("DKIM key must be an RSA private key")
        self.domain = domain
        self.selector = selector
        self.key = private_key
        self.headers = tuple(headers)
        self._wanted = {h.lower() for h in self.headers}

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes,
                 headers: Sequence[str] = SIGNED_HEADERS) -> DkimSigner:
        """A signer from a PEM private key (PKCS#1 or PKCS#8, unencrypted)."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"cannot read the DKIM private key: {exc}") from None
        return cls(domain, selector, key, headers)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: DkimConfig) -> DkimSigner:
        """A signer from a publication's ``[dkim]`` table (selector, domain, key_file)."""
        if not config.selector or not config.domain:
            raise ConfigError("[dkim] needs selector, domain and key_file")
        try:
            pem = Path(config.key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read DKIM key file {config.key_file}: {exc.strerror}") \
                from None
        return cls.from_pem(config.domain, config.selector, pem)

    def signs(self, name: str) -> bool:
        """Whether header ``name`` is covered by the signature."""
        return name.lower() in self._wanted

    def signature(self, canonical_headers: Iterable[tuple[str, bytes]], body_hash: bytes,
                  timestamp: int | None = None) -> bytes:
        """The ``DKIM-Signature`` header line(s), CRLF-terminated.

        ``canonical_headers`` are (name, relaxed canonical form) of the headers to sign, in
        the order they appear; ``body_hash`` is the sha256 digest of the relaxed body.
        """
        names = []
        data = []
        for name, canonical in canonical_headers:
            names.append(name)
            data.append(canonical)
        tags = (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector};"
                + (f" t={timestamp};" if timestamp is not None else "")
                + f"\r\n\th={':'.join(names)};"
                + f"\r\n\tbh={base64.b64encode(body_hash).decode('ascii')};\r\n\tb=")
        unsigned = tags.encode("ascii")
        data.append(relaxed_header(b"DKIM-Signature", unsigned)[:-2])  # no final CRLF
        signature = self.key.sign(b"".join(data), padding.PKCS1v15(), hashes.SHA256())
        b64 = base64.b64encode(signature)
        folded = b"\r\n\t".join(b64[i:i + 72] for i in range(0, len(b64), 72))
        return b"DKIM-Signature: " + unsigned + folded + b"\r\n"

    def sign_message(self, data: bytes, timestamp: int | None = None) -> bytes:
        """Sign a complete CRLF message; returns it with the ``DKIM-Signature`` prepended.

        The general path for messages built elsewhere (confirmation mails); the issue
        template uses :meth:`signature` with its precomputed pieces.
        """
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, body = data, b""
        fields = []
        for raw in re.split(rb"\r\n(?![ \t])", head):
            name, colon, value = raw.partition(b":")
            if colon and self.signs(name.decode("ascii", "replace").strip()):
                fields.append((name.decode("ascii").strip(), relaxed_header(name, value)))
        body_hash = hashlib.sha256(relaxed_body(body)).digest()
        return self.signature(fields, body_hash, timestamp) + data


def generate_key(bits: int = 2048) -> bytes:
    """A new RSA private key, PEM (PKCS#8), for ``letterpress`` DKIM setup and tests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def dns_txt_record(private_pem: bytes) -> str:
    """The TXT record value to publish at ``<selector>._domainkey.<domain>``."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
