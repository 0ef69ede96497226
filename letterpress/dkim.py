"""DKIM signing (RFC 6376): rsa-sha256, relaxed/relaxed, RSA through ``cryptography``.

dkimpy's pure-Python RSA costs milliseconds per message; OpenSSL (via ``cryptography``) signs
in 0.3 to 0.7 ms depending on the machine — as much as sending a message costs, and done
holding Python's global lock, so a send run moves it to helper processes
(:meth:`DkimSigner.offloaded`) that sign on the machine's other cores, in batches.  Canonicalisation is done
here because the message template already knows where its bodies can vary: it canonicalises
its constant pieces once and hashes only what changes per recipient.  dkimpy verifies our
signatures in the tests and the benchmark, as an independent implementation.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import ConfigError
from .settings import DkimConfig

__all__ = [
    "SIGNED_HEADERS",
    "DkimSigner",
    "SignatureRequest",
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

log = logging.getLogger(__name__)

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
        self._offload: _SigningPool | None = None

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
        return self.signatures([(canonical_headers, body_hash)], timestamp)[0]

    def signatures(self, messages: Sequence[tuple[Iterable[tuple[str, bytes]], bytes]],
                   timestamp: int | None = None) -> list[bytes]:
        """:meth:`signature` of several messages, ``(canonical_headers, body_hash)`` each,
        in order: inside :meth:`offloaded`, one round trip to the signing helper for all."""
        return self.request(messages, timestamp).result()

    def request(self, messages: Sequence[tuple[Iterable[tuple[str, bytes]], bytes]],
                timestamp: int | None = None) -> SignatureRequest:
        """Start :meth:`signatures`; its :meth:`~SignatureRequest.result` gives them.

        Inside :meth:`offloaded` the helper process signs while the caller goes on (a send
        run commits its ledger meanwhile); otherwise the signing is done by ``result()``.
        """
        unsigned_tags = []
        to_sign = []
        for canonical_headers, body_hash in messages:
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
            unsigned_tags.append(unsigned)
            to_sign.append(b"".join(data))
        offload = self._offload
        ticket = offload.submit(to_sign) if offload is not None and to_sign else None
        return SignatureRequest(self, unsigned_tags, to_sign, ticket)

    def _rsa(self, data: list[bytes]) -> list[bytes]:
        pad, digest = padding.PKCS1v15(), hashes.SHA256()
        return [self.key.sign(d, pad, digest) for d in data]

    @contextlib.contextmanager
    def offloaded(self, processes: int | None = None) -> Iterator[DkimSigner]:
        """While inside, RSA signatures are computed by helper processes, a batch at a time.

        For a send run: a batch of messages (:meth:`request`) is split between the helpers,
        each signing its part on a core of its own while the run commits its ledger and the
        previous batch is on the wire.  An RSA-2048 signature costs 0.3 to 0.7 ms of CPU
        depending on the machine, holding the global lock when made in-process.
        ``processes``: how many helpers (default: one per core, at most
        :data:`MAX_HELPERS`).  The signatures are the same bytes (RSA PKCS#1 v1.5 is
        deterministic).  If a helper cannot start or dies, its part is signed in-process —
        slower, never unsigned.
        """
        if self._offload is not None:  # nested: the outer one owns the processes
            yield self
            return
        count = processes or min(MAX_HELPERS, os.cpu_count() or 1)
        try:
            self._offload = _SigningPool(self.key, count)
        except OSError as exc:
            log.warning("DKIM: signing in-process, the helper process did not start: %s", exc)
            yield self
            return
        try:
            yield self
        finally:
            offload, self._offload = self._offload, None
            offload.close()

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


class SignatureRequest:
    """Signatures under way (:meth:`DkimSigner.request`)."""

    def __init__(self, signer: DkimSigner, unsigned_tags: list[bytes], to_sign: list[bytes],
                 ticket: _PoolTicket | None):
        self._signer = signer
        self._unsigned = unsigned_tags
        self._to_sign = to_sign
        self._ticket = ticket

    def result(self) -> list[bytes]:
        """The ``DKIM-Signature`` header lines, CRLF-terminated, in the order requested;
        waits for the helper.  If the helper failed, signs in-process: never unsigned."""
        signatures = (self._ticket.result(self._signer._rsa) if self._ticket is not None
                      else self._signer._rsa(self._to_sign))
        headers = []
        for unsigned, signature in zip(self._unsigned, signatures, strict=True):
            b64 = base64.b64encode(signature)
            folded = b"\r\n\t".join(b64[i:i + 72] for i in range(0, len(b64), 72))
            headers.append(b"DKIM-Signature: " + unsigned + folded + b"\r\n")
        return headers


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


# --------------------------------------------------------------------------- signing process
# The helper is ``python -m letterpress.dkim`` on a pipe, not multiprocessing: its "spawn"
# re-imports the caller's main module (a script without a __main__ guard would run twice) and
# "fork" would copy the sender's database connections and threads.  The protocol is framed
# bytes: the key (PEM), then batches — a count and length-prefixed items — each answered with
# the signatures, which all have the key's length.

_FRAME = struct.Struct(">I")


def _read_exact(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the signing pipe closed")
    return data


def _serve(stdin, stdout) -> None:  # runs in the helper process
    """Read the key, then sign each batch and write the signatures back, until EOF."""
    (size,) = _FRAME.unpack(_read_exact(stdin, 4))
    key = serialization.load_pem_private_key(_read_exact(stdin, size), password=None)
    pad, digest = padding.PKCS1v15(), hashes.SHA256()
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        (count,) = _FRAME.unpack(head)
        out = []
        for _ in range(count):
            (size,) = _FRAME.unpack(_read_exact(stdin, 4))
            out.append(key.sign(_read_exact(stdin, size), pad, digest))
        stdout.write(b"".join(out))
        stdout.flush()


MAX_HELPERS = 4  # signing processes of a send run, at most


class _SigningPool:
    """Helper processes sharing each batch: helper *k* signs the *k*-th slice."""

    def __init__(self, key: rsa.RSAPrivateKey, processes: int):
        self.helpers: list[_SigningProcess] = []
        try:
            for _ in range(max(1, processes)):
                self.helpers.append(_SigningProcess(key))
        except OSError:
            if not self.helpers:
                raise
            log.warning("DKIM: %d signing helper(s) of %d started", len(self.helpers),
                        processes)

    def submit(self, data: list[bytes]) -> _PoolTicket:
        """Send each helper its slice of ``data``; returns at once."""
        size = -(-len(data) // len(self.helpers))  # ceiling: the first helpers take one more
        parts = []
        for n, helper in enumerate(self.helpers):
            part = data[n * size:(n + 1) * size]
            if part:
                parts.append((part, helper.submit(part)))
        return _PoolTicket(parts)

    def close(self) -> None:
        for helper in self.helpers:
            helper.close()


class _PoolTicket:
    """The slices of one batch, each with its helper's ticket (None: that helper is gone)."""

    def __init__(self, parts: list[tuple[list[bytes], _Ticket | None]]):
        self._parts = parts

    def result(self, in_process: Callable[[list[bytes]], list[bytes]]) -> list[bytes]:
        """The signatures of the whole batch, in order; a slice whose helper failed is
        signed by ``in_process``."""
        signatures: list[bytes] = []
        for part, ticket in self._parts:
            got = ticket.result() if ticket is not None else None
            signatures += got if got is not None else in_process(part)
        return signatures


class _Ticket:
    """One batch sent to the helper; its signatures are read in the order batches were sent."""

    __slots__ = ("process", "count", "signatures", "failed")

    def __init__(self, process: _SigningProcess, count: int):
        self.process = process
        self.count = count
        self.signatures: list[bytes] | None = None
        self.failed = False

    def result(self) -> list[bytes] | None:
        """The signatures, or None if the helper failed (the caller signs in-process)."""
        return self.process.read(self)


class _SigningProcess:
    """One helper process.  :meth:`submit` sends a batch and returns at once; the helper
    answers batches in order, and :meth:`read` takes the answers in that order (any thread
    may read: it reads the batches sent before its own first)."""

    def __init__(self, key: rsa.RSAPrivateKey):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self._size = key.key_size // 8
        self._process = subprocess.Popen([sys.executable, "-m", "letterpress.dkim"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self._process.stdin.write(_FRAME.pack(len(pem)) + pem)
            self._process.stdin.flush()
        except OSError:
            self._process.kill()
            self._process.wait()
            raise
        self._lock = threading.Lock()
        self._unread: deque[_Ticket] = deque()
        self._broken = False

    def submit(self, data: list[bytes]) -> _Ticket | None:
        """Send ``data`` to be signed; None if the helper is gone."""
        frame = [_FRAME.pack(len(data))]
        for item in data:
            frame += (_FRAME.pack(len(item)), item)
        with self._lock:
            if self._broken:
                return None
            try:
                self._process.stdin.write(b"".join(frame))
                self._process.stdin.flush()
            except (OSError, ValueError) as exc:
                self._fail(exc)
                return None
            ticket = _Ticket(self, len(data))
            self._unread.append(ticket)
            return ticket

    def read(self, ticket: _Ticket) -> list[bytes] | None:
        with self._lock:
            while ticket.signatures is None and not ticket.failed:
                first = self._unread.popleft()
                try:
                    raw = _read_exact(self._process.stdout, self._size * first.count)
                except (OSError, EOFError, ValueError) as exc:
                    first.failed = True
                    self._fail(exc)
                    continue
                first.signatures = [raw[i:i + self._size]
                                    for i in range(0, len(raw), self._size)]
            return ticket.signatures

    def _fail(self, exc: BaseException) -> None:
        """(Lock held.)  The helper is unusable: every batch not yet read is signed
        in-process by its caller, and so is every later one."""
        if not self._broken:
            log.warning("DKIM: the signing process failed (%s); signing in-process", exc)
        self._broken = True
        for waiting in self._unread:
            waiting.failed = True
        self._unread.clear()

    def close(self) -> None:
        with self._lock:
            self._broken = True  # callers arriving now sign in-process
            with contextlib.suppress(OSError, ValueError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        with contextlib.suppress(OSError, ValueError):
            self._process.stdout.close()


if __name__ == "__main__":  # the signing helper: python -m letterpress.dkim
    _serve(sys.stdin.buffer, sys.stdout.buffer)
