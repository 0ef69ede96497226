"""Does a URL answer over https with a certificate the system (or a given CA file) trusts?"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["HttpsAnswer", "probe"]


@dataclass(frozen=True)
class HttpsAnswer:
    """What a GET of the URL gave: the HTTP status, or 0 and the reason it failed."""

    url: str
    status: int
    reason: str = ""

    @property
    def answered(self) -> bool:
        """An HTTP answer other than a server error came back over verified TLS."""
        return 0 < self.status < 500


def probe(url: str, *, context: ssl.SSLContext | None = None, timeout: float = 10.0
          ) -> HttpsAnswer:
    """GET ``url`` (no redirect followed) over https, verifying the certificate and name.

    ``context`` defaults to the system's trust store (``ssl.create_default_context()``).
    """
    parts = urlsplit(url)
    if parts.scheme != "https":
        return HttpsAnswer(url, 0, "not an https URL")
    context = context or ssl.create_default_context()
    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port or 443,
                                       timeout=timeout, context=context)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", path, headers={"User-Agent": "letterpress-doctor"})
        response = conn.getresponse()
        response.read(65536)
        return HttpsAnswer(url, response.status, response.reason)
    except ssl.SSLCertVerificationError as exc:
        return HttpsAnswer(url, 0, f"certificate not trusted: {exc.verify_message}")
    except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors
        return HttpsAnswer(url, 0, str(exc) or type(exc).__name__)
    finally:
        conn.close()
