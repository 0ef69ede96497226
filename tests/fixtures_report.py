"""A hand-made send run whose every report figure is computed by hand in the comments.

Run 1 (pvd#42 → list pvd) went to 12 recipients on 2026-03-17; run 2 of the same list was
created on 2026-04-21 09:00 UTC, which closes run 1's attribution window.  The project clock
stands at 2026-05-01.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from letterpress.audience import Consent, ensure_lists, subscribe
from letterpress.audience.service import confirm, mark_bounced, mark_complained
from letterpress.audience.unsubscribing import unsubscribe
from letterpress.clock import FrozenClock
from letterpress.delivery import Delivery, SendRun
from letterpress.stats.counting import Verdict, count_click
from letterpress.stats.links import register_links
from letterpress.stats.rewrite import TrackedLink, link_id_for

__all__ = ["report_run", "report_run_with_returns", "EXPECTED", "EXPECTED_RETURNS", "LINK_A",
           "LINK_B"]

T = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731

# email → (ledger state, SMTP code, synchronous hard bounce)
LEDGER = {
    "a@orange.fr": ("sent", 250, False),
    "b@wanadoo.fr": ("deferred", 421, False),
    "c@gmail.com": ("sent", 250, False),
    "d@GMAIL.com": ("failed", 550, True),
    "e@hotmail.fr": ("sent", 250, False),
    "f@free.fr": ("failed", 554, False),
    "g@sfr.fr": ("sent", 250, False),
    "h@laposte.net": ("sent", 250, False),
    "i@yahoo.fr": ("sent", 250, False),
    "j@icloud.com": ("uncertain", None, False),
    "k@example.org": ("sent", 250, False),
    "l@mairie-exemple.fr": ("skipped", None, False),
}
LINK_A = "https://www.example.org/article?id=1&x=2"
LINK_B = "https://www.example.org/agenda"

EXPECTED = {
    "deliveries": {"total": 12, "sent": 7, "deferred": 1, "failed": 2, "skipped": 1,
                   "uncertain": 1, "pending": 0},
    # d (ledger, 5.1.1 during the dialogue) + h (moved to bounced on 03-20, after delivery)
    "bounces": {"total": 2, "synchronous": 1, "asynchronous": 1},
    "complaints": 1,  # g on 03-18
    # c one-click 03-17; e page 03-18 23:30 UTC = 03-19 in Paris; k admin 03-25.
    # Not: b (deferred, never delivered), i (after run 2 was created).
    "unsubscribes": {"total": 3, "by_channel": {"admin": 1, "one-click": 1, "page": 1},
                     "by_day": {"2026-03-17": 1, "2026-03-19": 1, "2026-03-25": 1}},
    # m (active 03-18) and n (pending 03-19, confirmed 03-19); not p (before), o (after run 2),
    # q (other list).
    "new_subscriptions": 2,
    "rates": {"complaints": 1 / 7, "bounces": 2 / 9, "unsubscribes": 3 / 7},
    "providers": {
        "Orange/Wanadoo": dict(total=2, sent=1, deferred=1, failed=0, bounced=0, other=0),
        "Gmail": dict(total=2, sent=1, deferred=0, failed=1, bounced=1, other=0),
        "Microsoft": dict(total=1, sent=1, deferred=0, failed=0, bounced=0, other=0),
        "Free": dict(total=1, sent=0, deferred=0, failed=1, bounced=0, other=0),
        "SFR": dict(total=1, sent=1, deferred=0, failed=0, bounced=0, other=0),
        "La Poste": dict(total=1, sent=1, deferred=0, failed=0, bounced=0, other=0),
        "Yahoo": dict(total=1, sent=1, deferred=0, failed=0, bounced=0, other=0),
        "Apple": dict(total=1, sent=0, deferred=0, failed=0, bounced=0, other=1),
        "autres": dict(total=2, sent=1, deferred=0, failed=0, bounced=0, other=1),
    },
    # A: 3 people on 03-17, 1 on 03-18; B: 1 person and 2 scanners on 03-17.
    "clicks": {"total": 5, "scanner": 2, "by_day": {"2026-03-17": 4, "2026-03-18": 1},
               "top": [LINK_A, LINK_B]},
}


def _sub(session, email, at, list_name="pvd", status="active"):
    return subscribe(session, email, list_name=list_name, consent=Consent("form", "oui"),
                     clock=FrozenClock(at), status=status)


@pytest.fixture
def report_run(project):
    """Builds the run and its aftermath; returns run 1's id."""
    project.clock.set(T(2026, 5, 1, 12))
    with project.session() as s:
        ensure_lists(s, project.settings)
        subs = {email: _sub(s, email, T(2026, 1, 10, 8)) for email in LEDGER}
        run = SendRun(publication="pvd", issue_number=42, issue_path="issues/x.yaml",
                      subject="Lettre de mars", content_hash="0" * 64, list_name="pvd",
                      state="done", total=12, created_at=T(2026, 3, 17, 9),
                      started_at=T(2026, 3, 17, 9), finished_at=T(2026, 3, 17, 9, 30))
        s.add(run)
        s.flush()
        for minute, (email, (state, code, bounced)) in enumerate(LEDGER.items(), start=1):
            sub = subs[email]
            at = T(2026, 3, 17, 9, minute)
            s.add(Delivery(run_id=run.id, subscription_id=sub.id, subscriber_id=sub.subscriber_id,
                           list_id=sub.list_id, email=email, state=state, code=code,
                           bounced=bounced, attempts=1 if state != "skipped" else 0,
                           first_attempt_at=at, last_attempt_at=at,
                           sent_at=at if state == "sent" else None))
        s.flush()
        mark_bounced(s, subs["d@GMAIL.com"].id, clock=FrozenClock(T(2026, 3, 17, 9, 4)),
                     detail="550 5.1.1")
        unsubscribe(s, subs["c@gmail.com"].id, channel="one-click",
                    clock=FrozenClock(T(2026, 3, 17, 10)))
        unsubscribe(s, subs["e@hotmail.fr"].id, channel="page",
                    clock=FrozenClock(T(2026, 3, 18, 23, 30)))
        mark_complained(s, subs["g@sfr.fr"].id, clock=FrozenClock(T(2026, 3, 18, 12)))
        mark_bounced(s, subs["h@laposte.net"].id, clock=FrozenClock(T(2026, 3, 20, 7)),
                     detail="DSN 5.1.1")
        unsubscribe(s, subs["b@wanadoo.fr"].id, channel="mailto",
                    clock=FrozenClock(T(2026, 3, 18, 8)))
        unsubscribe(s, subs["k@example.org"].id, channel="admin",
                    clock=FrozenClock(T(2026, 3, 25, 8)), actor="admin")
        _sub(s, "p@orange.fr", T(2026, 3, 16, 8))
        _sub(s, "m@orange.fr", T(2026, 3, 18, 8))
        n = _sub(s, "n@gmail.com", T(2026, 3, 19, 8), status="pending")
        confirm(s, n.id, clock=FrozenClock(T(2026, 3, 19, 9)))
        _sub(s, "q@free.fr", T(2026, 3, 18, 8), list_name="acv")
        s.add(SendRun(publication="pvd", issue_number=43, issue_path="issues/y.yaml",
                      subject="Lettre d'avril", content_hash="1" * 64, list_name="pvd",
                      state="done", total=0, created_at=T(2026, 4, 21, 9)))
        s.flush()
        unsubscribe(s, subs["i@yahoo.fr"].id, channel="one-click",
                    clock=FrozenClock(T(2026, 4, 25, 8)))
        _sub(s, "o@free.fr", T(2026, 4, 22, 8))
        a, b = link_id_for(LINK_A), link_id_for(LINK_B)
        register_links(s, "pvd", 42, [TrackedLink(a, LINK_A, "Article", 0),
                                       TrackedLink(b, LINK_B, "Agenda", 1)])
        people, scanner = Verdict(False), Verdict(True)
        for _ in range(3):
            count_click(s, "pvd", 42, a, date(2026, 3, 17), people)
        count_click(s, "pvd", 42, a, date(2026, 3, 18), people)
        count_click(s, "pvd", 42, b, date(2026, 3, 17), people)
        count_click(s, "pvd", 42, b, date(2026, 3, 17), scanner)
        count_click(s, "pvd", 42, b, date(2026, 3, 17), scanner)
        return run.id


# What bounce processing records on run 1's deliveries on 2026-03-21 (inside the window):
RETURNS = [
    ("a@orange.fr", "policy", "5.7.1", "DMARC policy of the sender's domain"),  # sender problem
    ("i@yahoo.fr", "soft", "4.2.2", "mailbox full"),
    ("c@gmail.com", "hard", "5.1.1", "user unknown"),  # already unsubscribed on 03-17
    ("h@laposte.net", "hard", "5.1.1", "user unknown"),  # already bounced on 03-20
    ("e@hotmail.fr", "complaint", "", "abuse report"),  # unsubscribed on 03-18, complains
]
EXPECTED_RETURNS = {
    # d during the dialogue; reported later: h (event of 03-20 and DSN) and c (DSN only: its
    # subscription had stopped, but the address bounced for this run).  Not a (sender policy).
    "bounces": {"total": 3, "synchronous": 1, "asynchronous": 2},
    "async_outcomes": {"hard": 2, "soft": 1, "complaint": 1, "sender_policy": 1},
    "complaints": 2,  # g on 03-18, e on 03-21
    "rates": {"complaints": 2 / 7, "bounces": 3 / 9, "unsubscribes": 3 / 7},
}


@pytest.fixture
def report_run_with_returns(project, report_run):
    """Run 1 after bounce processing recorded RETURNS (one webhook-style event each)."""
    from letterpress.bounces import Failure, Verdict, record_failures

    clock = FrozenClock(T(2026, 3, 21, 10))
    with project.session() as s:
        deliveries = {d.email: d.id for d in s.query(Delivery).filter(
            Delivery.run_id == report_run)}
        for n, (email, kind, status, diagnostic) in enumerate(RETURNS):
            verdict = Verdict("complaint" if kind == "complaint" else "dsn", "test",
                              (Failure(email, kind, status, diagnostic),))
            record_failures(s, f"report-fixture-{n}", verdict, settings=project.settings,
                            clock=clock, source="test", delivery_id=deliveries[email])
    return report_run
