"""CSRF tokens and rate limits on their own (no database)."""

from __future__ import annotations

import time

import itsdangerous.timed
import pytest

from letterpress.clock import FrozenClock
from letterpress.web.security import CSRFError, CsrfProtector, Limit, RateLimited, RateLimiter


def test_csrf_token_is_bound_to_cookie_and_form():
    csrf = CsrfProtector(["key-one"])
    cookie = csrf.new_cookie_value()
    token = csrf.token_for(cookie, "subscribe:pvd")
    csrf.check(cookie, token, "subscribe:pvd")
    assert cookie not in token
    for bad_cookie, bad_token, form in ((None, token, "subscribe:pvd"),
                                        (cookie, None, "subscribe:pvd"),
                                        (csrf.new_cookie_value(), token, "subscribe:pvd"),
                                        (cookie, token, "preferences"),
                                        (cookie, token[:-2] + "zz", "subscribe:pvd")):
        with pytest.raises(CSRFError):
            csrf.check(bad_cookie, bad_token, form)


def test_csrf_token_survives_key_rotation_and_expires(monkeypatch):
    old = CsrfProtector(["old-key"])
    cookie = old.new_cookie_value()
    token = old.token_for(cookie, "confirm")
    CsrfProtector(["new-key", "old-key"]).check(cookie, token, "confirm")
    with pytest.raises(CSRFError):
        CsrfProtector(["new-key"]).check(cookie, token, "confirm")
    seven_hours_ago = time.time() - 7 * 3600
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.time, "time", lambda: seven_hours_ago)
        stale = old.token_for(cookie, "confirm")
    with pytest.raises(CSRFError, match="expired"):
        old.check(cookie, stale, "confirm")


def test_rate_limiter_sliding_window_and_bounded_memory():
    clock = FrozenClock()
    limiter = RateLimiter(clock, max_keys=100)
    limit = Limit(count=2, seconds=60)
    limiter.hit("a", limit)
    clock.advance(30)
    limiter.hit("a", limit)
    with pytest.raises(RateLimited) as info:
        limiter.hit("a", limit)
    assert info.value.retry_after == pytest.approx(30)
    clock.advance(31)
    limiter.hit("a", limit)  # the first hit left the window
    for i in range(1000):
        limiter.hit(f"flood-{i}", limit)
    assert len(limiter._hits) <= 100
