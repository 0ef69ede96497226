"""What SMTP answers mean for the ledger, and how progress is shown."""

from __future__ import annotations

import io

from letterpress.delivery import (
    LogProgress,
    ProgressSnapshot,
    TerminalProgress,
    backoff,
    classify,
    is_hard_bounce,
    progress_for,
)
from letterpress.errors import TransportError


def test_classification():
    assert classify(None).state == "sent"
    greylist = classify(TransportError("4.7.1 greylisted", code=451, enhanced="4.7.1"))
    assert greylist.state == "deferred" and not greylist.refusal and greylist.code == 451
    dropped = classify(TransportError("connection lost"))
    assert dropped.state == "deferred" and dropped.refusal and dropped.code is None
    unknown = classify(TransportError("5.1.1 user unknown", code=550, permanent=True,
                                      enhanced="5.1.1"))
    assert unknown.state == "failed" and unknown.hard_bounce and unknown.refusal
    blocked = classify(TransportError("5.7.1 blocked", code=554, permanent=True,
                                      enhanced="5.7.1"))
    assert blocked.state == "failed" and not blocked.hard_bounce


def test_hard_bounce_without_enhanced_code():
    assert is_hard_bounce(550, None, "Requested action not taken: mailbox unavailable")
    assert is_hard_bounce(550, None, "No such user here")
    assert not is_hard_bounce(552, None, "Mailbox full")
    assert not is_hard_bounce(550, "5.7.1", "user unknown? no: policy")


def test_backoff_doubles_then_caps():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(30) == 3600


def _snap(done: int, final: bool = False) -> ProgressSnapshot:
    return ProgressSnapshot(run_id=3, total=10, sent=done, deferred=1, failed=0, skipped=0,
                            uncertain=0, remaining=10 - done, rate=5.0,
                            eta=(10 - done) / 5.0, final=final)


def test_terminal_progress_redraws_one_line():
    out = io.StringIO()
    bar = TerminalProgress(out)
    bar(_snap(2))
    bar(_snap(10, final=True))
    text = out.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "100.0%" in text and "sent 10" in text and "deferred 1" in text


def test_log_progress_writes_plain_lines():
    out = io.StringIO()
    log = LogProgress(out, interval=3600)
    log(_snap(1))
    log(_snap(5))  # within the interval: not written
    log(_snap(10, final=True))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "run 3: 10/10" in lines[-1] and "\r" not in out.getvalue()
    assert isinstance(progress_for(io.StringIO()), LogProgress)
