"""Parse SMTP URLs: ``smtp://user:pass@host:587?tls=starttls&pool=4&rate=10``.

Options: ``tls``, ``pool`` (connections), ``rate`` (messages per second), ``timeout``
(seconds per command, 30), ``data_timeout`` (seconds to wait for the answer to the end of a
message, 600 as RFC 5321 §4.5.3.2.6 recommends), ``verify``, ``helo``.

``smtps://`` (or port 465) means implicit TLS.  Without ``tls=``, a loopback host is spoken
to in clear text and any other host must offer STARTTLS, so credentials never cross a
network unencrypted by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import ConfigError

__all__ = ["SMTPURL", "parse_smtp_url"]

_TLS_MODES = ("ssl", "starttls", "none")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class SMTPURL:
    """Where and how to connect to a mail server."""

    host: str
    port: int
    tls: str  # ssl | starttls | none
    username: str | None = None
    password: str | None = None
    pool: int | None = None
    rate: float | None = None
    timeout: float = 30.0
    data_timeout: float = 600.0  # wait for the answer to the final dot (RFC 5321 §4.5.3.2.6)
    verify: bool = True
    helo: str | None = None

    def __repr__(self) -> str:  # never print the password
        user = f"{self.username}:***@" if self.username else ""
        return f"SMTPURL(smtp://{user}{self.host}:{self.port}?tls={self.tls})"


def _bool(value: str, name: str, url: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r} must be true or false in SMTP URL {redact(url)}")


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def parse_smtp_url(url: str) -> SMTPURL:
    """Parse an ``smtp://`` or ``smtps://`` URL; raise ``ConfigError`` on anything odd."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"SMTP URL must start with smtp:// or smtps://: {redact(url)}")
    if not parts.hostname:
        raise ConfigError(f"SMTP URL has no host: {redact(url)}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"SMTP URL has an invalid port: {redact(url)}") from None
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    allowed = {"tls", "pool", "rate", "timeout", "data_timeout", "verify", "helo"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ConfigError(f"unknown SMTP URL option(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(allowed))}): {redact(url)}")
    tls = query.get("tls", "").lower()
    if not tls:
        if parts.scheme == "smtps" or port == 465:
            tls = "ssl"
        elif parts.hostname in _LOOPBACK:
            tls = "none"
        else:
            tls = "starttls"
    if tls not in _TLS_MODES:
        raise ConfigError(f"tls={tls!r} must be one of {', '.join(_TLS_MODES)}: {redact(url)}")
    if port is None:
        port = 465 if tls == "ssl" else (587 if tls == "starttls" else 25)
    try:
        pool = int(query["pool"]) if "pool" in query else None
        rate = float(query["rate"]) if "rate" in query else None
        timeout = float(query.get("timeout", 30))
        data_timeout = float(query.get("data_timeout", 600))
    except ValueError:
        raise ConfigError(f"pool, rate, timeout and data_timeout must be numbers: "
                          f"{redact(url)}") from None
    if timeout <= 0 or data_timeout <= 0:
        raise ConfigError(f"timeout and data_timeout must be positive: {redact(url)}")
    if pool is not None and not 1 <= pool <= 64:
        raise ConfigError(f"pool must be between 1 and 64: {redact(url)}")
    return SMTPURL(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        pool=pool,
        rate=rate,
        timeout=timeout,
        data_timeout=data_timeout,
        verify=_bool(query.get("verify", "true"), "verify", url),
        helo=query.get("helo") or None,
    )
