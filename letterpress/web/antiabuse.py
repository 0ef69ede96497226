"""Abuse resistance of the signup form, with no third party: proof of work and throw-away domains.

* **Proof of work** (ALTCHA protocol, the ``altcha`` library): the form carries a challenge
  signed with the project's secret — find the number N ≤ ``proof_of_work_max`` with
  SHA-256(salt + N) = challenge.  ``static/pow.js`` (ours, served from our own origin, no
  cookie, no external service) solves it in the background while the reader types, and puts
  the solution in the ``altcha`` field.  A solution is accepted once (replays are refused)
  and only before its challenge expires.
* **Without JavaScript** the form still works, more slowly: it carries the time it was shown,
  signed; a post without a solution is accepted once the form is ``nojs_wait_seconds`` old.
  Sent earlier, the page comes back with what was typed and asks to wait and send again.
* **Throw-away addresses**: the domain (or a parent domain) is looked up in the list of the
  ``disposable-email-domains`` package, kept up to date by its maintainers.

Both are set per publication in ``[publications.X.subscribe]``: ``proof_of_work``,
``proof_of_work_max``, ``nojs_wait_seconds``, ``refuse_disposable``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from altcha import create_challenge_v1, verify_solution_v1
from itsdangerous import BadData, TimestampSigner

__all__ = ["CHALLENGE_MINUTES", "Challenge", "ProofOfWork", "is_disposable"]

CHALLENGE_MINUTES = 30  # a form left open that long still works


@dataclass(frozen=True)
class Challenge:
    """What the form carries: the ALTCHA challenge and the signed time it was shown."""

    algorithm: str
    challenge: str
    salt: str
    signature: str
    max_number: int
    shown: str  # signed timestamp, for the no-JavaScript path


class ProofOfWork:
    """Issues and checks challenges; remembers solutions already used (per process)."""

    def __init__(self, secret_keys, *, clock=None):
        key = secret_keys[0]
        self._hmac_key = hashlib.sha256(f"letterpress.altcha:{key}".encode()).hexdigest()
        self._shown = TimestampSigner(key, salt="letterpress.subscribe-shown")
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    def issue(self, max_number: int, shown: str | None = None) -> Challenge:
        """A fresh challenge; ``shown`` keeps the first display time across re-displays."""
        # The library checks expiry against the system clock: give it system time.
        made = create_challenge_v1(hmac_key=self._hmac_key, max_number=max_number,
                                   expires=datetime.now(UTC) + timedelta(minutes=CHALLENGE_MINUTES))
        if shown is None or self.shown_age(shown) is None:
            shown = self._shown.sign(str(int(self._now().timestamp()))).decode()
        return Challenge(made.algorithm, made.challenge, made.salt, made.signature,
                         made.max_number, shown)

    def shown_age(self, shown: str) -> float | None:
        """Seconds since the form was shown, or None when the value is forged or too old."""
        try:
            stamp = int(self._shown.unsign(shown).decode())
        except (BadData, ValueError):
            return None
        age = self._now().timestamp() - stamp
        return age if 0 <= age <= CHALLENGE_MINUTES * 60 else None

    def verify(self, payload: str) -> bool:
        """A valid, unexpired solution not used before (it is then remembered)."""
        if not payload or len(payload) > 2000:
            return False
        try:
            ok, _error = verify_solution_v1(payload, self._hmac_key, check_expires=True)
        except Exception:  # noqa: BLE001 - any malformed payload is simply not a solution
            return False
        if not ok:
            return False
        now = time.monotonic()
        with self._lock:
            for old in [k for k, until in self._used.items() if until < now]:
                del self._used[old]
            if payload in self._used:
                return False
            self._used[payload] = now + CHALLENGE_MINUTES * 60
        return True


def is_disposable(email: str) -> bool:
    """Whether the address's domain, or a parent of it, is a known throw-away mail service."""
    from disposable_email_domains import blocklist

    domain = email.rpartition("@")[2].lower().rstrip(".")
    labels = domain.split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))
