"""Send runs end to end against a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from letterpress.audience import TokenSigner, unsubscribe
from letterpress.audience.models import Subscriber, Subscription, SubscriptionEvent
from letterpress.delivery import (
    Delivery,
    RunContentChanged,
    get_run,
    prepare_run,
    retry_run,
    send_run,
)
from letterpress.errors import AlreadySent, SendRunLocked, TransportError, UnknownList
from letterpress.transports import MemoryTransport, SMTPTransport

from .fixtures_delivery import *  # noqa: F403 - fixtures

BASE = "https://lettre.example.org"


def prepare(project, rendered, list_name="pvd", **kwargs) -> int:
    with project.session() as session:
        run = prepare_run(session, rendered, list_name, clock=project.clock, **kwargs)
        session.flush()
        return run.id


def ledger(project, run_id) -> dict[str, Delivery]:
    with project.session() as session:
        return {d.email: d for d in session.scalars(
            select(Delivery).where(Delivery.run_id == run_id))}


def received(server) -> Counter:
    return Counter(r for m in server.received for r in m.rcpt_tos)


def test_every_subscriber_gets_one_personalised_message(project, rendered, add_subscribers,
                                                        smtp_server, smtp_transport):
    emails = add_subscribers(12)
    run_id = prepare(project, rendered)
    report = send_run(project, run_id, smtp_transport, rendered=rendered)

    assert report.state == "done" and report.sent == 12 and report.total == 12
    assert received(smtp_server) == Counter(emails)
    signer = TokenSigner(project.settings.secret_keys)
    urls = set()
    with project.session() as session:
        subs = {s.subscriber.email: s for s in session.scalars(select(Subscription))}
        for m in smtp_server.received:
            msg = m.message
            email = m.rcpt_tos[0]
            header = msg["List-Unsubscribe"]
            url = re.search(r"<(https://[^>]+)>", header).group(1)
            assert url.startswith(f"{BASE}/u/")
            token = url.rsplit("/", 1)[1]
            assert f"subject=unsubscribe-{token}" in header
            data = signer.loads("unsubscribe", token)
            assert (data.subscriber_id, data.list_id) == (subs[email].subscriber_id,
                                                          subs[email].list_id)
            urls.add(url)
            text, html = [p.get_content() for p in msg.iter_parts()]
            name = subs[email].subscriber.name
            pref = re.search(rf"{BASE}/p/[A-Za-z0-9._-]+", text).group(0)
            exp_html, exp_text = rendered.personalise(url, pref, name)
            assert text.replace("\r\n", "\n") == exp_text
            assert html.replace("\r\n", "\n") == exp_html
            assert msg["To"].addresses[0].addr_spec == email
    assert len(urls) == 12
    rows = ledger(project, run_id)
    assert {d.state for d in rows.values()} == {"sent"}
    assert all(d.message_id and d.attempts == 1 and d.sent_at for d in rows.values())
    with project.session() as session:
        run = get_run(session, run_id)
        assert run.started_at and run.finished_at and run.lease_owner is None
        assert not run.is_test and run.issue_number == 42


def test_a_4xx_is_retried_later_then_delivered(project, rendered, add_subscribers, smtp_server,
                                               smtp_transport, clock):
    emails = add_subscribers(3)
    smtp_server.behaviour.rcpt_replies_once[emails[1]] = ["451 4.7.1 Greylisted, retry later"]
    run_id = prepare(project, rendered)
    start = clock.now()
    report = send_run(project, run_id, smtp_transport, rendered=rendered,
                      wait_for_retries=False)
    assert report.state == "paused" and report.deferred == 1 and report.sent == 2
    row = ledger(project, run_id)[emails[1]]
    assert row.state == "deferred" and row.code == 451 and "Greylisted" in row.detail
    assert row.next_attempt_at == start + timedelta(seconds=60)

    report = send_run(project, run_id, smtp_transport, rendered=rendered)  # waits (clock)
    assert report.state == "done" and report.sent == 3
    assert clock.now() >= start + timedelta(seconds=60)
    assert ledger(project, run_id)[emails[1]].attempts == 2
    assert received(smtp_server) == Counter(emails)


def test_temporary_failures_give_up_after_the_horizon(project, rendered, add_subscribers,
                                                      smtp_server, smtp_transport, clock):
    emails = add_subscribers(2)
    smtp_server.behaviour.rcpt_replies[emails[0]] = "452 4.2.2 Mailbox full"
    run_id = prepare(project, rendered)
    start = clock.now()
    report = send_run(project, run_id, smtp_transport, rendered=rendered,
                      retry_horizon=timedelta(hours=1))
    assert report.state == "done" and report.failed == 1 and report.sent == 1
    row = ledger(project, run_id)[emails[0]]
    assert row.state == "failed" and row.code == 452 and "gave up after" in row.detail
    assert row.attempts >= 3 and clock.now() - start <= timedelta(hours=1)


def test_user_unknown_is_a_hard_bounce(project, rendered, add_subscribers, smtp_server,
                                       smtp_transport):
    emails = add_subscribers(3)
    smtp_server.behaviour.rcpt_replies[emails[0]] = "550 5.1.1 <x>: Recipient address rejected"
    smtp_server.behaviour.rcpt_replies[emails[2]] = "552 5.2.2 Over quota"
    run_id = prepare(project, rendered)
    report = send_run(project, run_id, smtp_transport, rendered=rendered)
    assert report.state == "done" and report.failed == 2 and report.bounced == 1
    rows = ledger(project, run_id)
    assert rows[emails[0]].bounced and rows[emails[0]].code == 550
    assert not rows[emails[2]].bounced and rows[emails[2]].state == "failed"
    with project.session() as session:
        status = {s.subscriber.email: s.status for s in session.scalars(select(Subscription))}
        assert status == {emails[0]: "bounced", emails[1]: "active", emails[2]: "active"}
        events = session.scalars(select(SubscriptionEvent).where(
            SubscriptionEvent.new_status == "bounced")).all()
        assert len(events) == 1 and "5.1.1" in events[0].detail


def test_a_dropped_connection_loses_nobody(project, rendered, add_subscribers, smtp_server,
                                           smtp_transport):
    emails = add_subscribers(8)
    smtp_server.behaviour.drop_after = 3
    run_id = prepare(project, rendered)
    report = send_run(project, run_id, smtp_transport, rendered=rendered)
    # The connection died right after the third message's final dot: the server had it,
    # letterpress cannot know — uncertain, reported, never sent a second time by itself.
    assert report.state == "done" and report.sent == 7 and report.uncertain == 1
    assert report.uncertain_emails == (emails[2],)
    got = received(smtp_server)
    assert set(got) == set(emails)
    assert max(got.values()) == 1  # nobody twice
    assert all(d.attempts == 1 for d in ledger(project, run_id).values())


def test_a_server_refusing_everything_pauses_the_run(project, rendered, add_subscribers,
                                                     smtp_server, smtp_transport):
    emails = add_subscribers(30)
    smtp_server.behaviour.refuse_all = "554 5.7.1 Service unavailable; client host blocked"
    run_id = prepare(project, rendered)
    report = send_run(project, run_id, smtp_transport, rendered=rendered, pause_after=5)
    assert report.state == "paused"
    assert "refused the last 5 messages" in report.paused_reason
    assert "client host blocked" in report.paused_reason
    rows = ledger(project, run_id)
    assert {d.state for d in rows.values()} == {"queued"}  # nobody burnt
    with project.session() as session:
        assert get_run(session, run_id).started_at is not None  # messages were handed over
    assert sum(d.attempts for d in rows.values()) == 5
    with project.session() as session:
        assert get_run(session, run_id).state == "paused"
        assert {s.status for s in session.scalars(select(Subscription))} == {"active"}

    smtp_server.behaviour.refuse_all = None
    report = send_run(project, run_id, smtp_transport, rendered=rendered, pause_after=5)
    assert report.state == "done" and report.sent == 30
    assert received(smtp_server) == Counter(emails)


def test_readers_who_unsubscribe_during_the_run_are_skipped(project, rendered, add_subscribers,
                                                            smtp_server, smtp_transport):
    emails = add_subscribers(6)
    with project.session() as session:
        sub_ids = {s.subscriber.email: s.id for s in session.scalars(select(Subscription))}

    class UnsubscribeMidway:
        """After the second message, reader 5 clicks the one-click link."""

        pool_size = 1

        def __init__(self):
            self.count = 0

        def send(self, mail_from, recipients, data):
            smtp_transport.send(mail_from, recipients, data)
            self.count += 1
            if self.count == 2:
                with project.session() as session:
                    unsubscribe(session, sub_ids[emails[5]], channel="one-click",
                                clock=project.clock)

        def close(self):
            smtp_transport.close()

    run_id = prepare(project, rendered)
    report = send_run(project, run_id, UnsubscribeMidway(), rendered=rendered)
    assert report.state == "done" and report.sent == 5 and report.skipped == 1
    assert emails[5] not in received(smtp_server)
    assert ledger(project, run_id)[emails[5]].state == "skipped"


class Crash(BaseException):
    """Stands for kill -9 between the server's acceptance and the ledger write."""


def test_crash_between_acceptance_and_ledger_then_resume(project, rendered, add_subscribers,
                                                         smtp_server, smtp_transport, clock):
    emails = add_subscribers(10)

    class CrashAfter:
        pool_size = 1

        def __init__(self, n):
            self.n = n
            self.count = 0

        def send(self, mail_from, recipients, data):
            smtp_transport.send(mail_from, recipients, data)
            self.count += 1
            if self.count == self.n:
                raise Crash()

        def close(self):
            pass

    run_id = prepare(project, rendered)
    with pytest.raises(Crash):
        send_run(project, run_id, CrashAfter(4), rendered=rendered)
    assert received(smtp_server) == Counter(emails[:4])
    rows = ledger(project, run_id)
    assert [rows[e].state for e in emails[:5]] == ["sent"] * 3 + ["sending", "queued"]

    # The dead sender's lease blocks a new one until it expires.
    with pytest.raises(SendRunLocked):
        send_run(project, run_id, smtp_transport, rendered=rendered)
    clock.advance(120)
    report = send_run(project, run_id, smtp_transport, rendered=rendered)
    assert report.state == "done"
    assert report.uncertain_emails == (emails[3],)
    assert report.sent == 9 and report.uncertain == 1
    assert received(smtp_server) == Counter(emails)  # nobody lost, nobody twice

    # Asked explicitly, the uncertain message goes again, with the same Message-ID.
    first_id = ledger(project, run_id)[emails[3]].message_id
    with project.session() as session:
        assert retry_run(session, run_id, clock=clock, uncertain=True) == 1
    report = send_run(project, run_id, smtp_transport, rendered=rendered)
    assert report.state == "done" and report.sent == 10 and report.uncertain == 0
    again = [m for m in smtp_server.received if m.rcpt_tos == [emails[3]]]
    assert len(again) == 2
    assert {m.message["Message-ID"] for m in again} == {first_id}


def test_resend_uncertain_on_resume(project, rendered, add_subscribers, smtp_server,
                                    smtp_transport, clock):
    emails = add_subscribers(4)

    class CrashBeforeServer:
        pool_size = 1

        def send(self, mail_from, recipients, data):
            raise Crash()

        def close(self):
            pass

    run_id = prepare(project, rendered)
    with pytest.raises(Crash):
        send_run(project, run_id, CrashBeforeServer(), rendered=rendered)
    clock.advance(120)
    report = send_run(project, run_id, smtp_transport, rendered=rendered,
                      resend_uncertain=True)
    assert report.state == "done" and report.sent == 4 and report.uncertain == 0
    assert received(smtp_server) == Counter(emails)


def test_two_senders_on_one_run_send_each_message_once(project, rendered, add_subscribers,
                                                       smtp_server):
    emails = add_subscribers(40)
    run_id = prepare(project, rendered)
    barrier = threading.Barrier(2)
    results: list = []

    def sender():
        transport = SMTPTransport.from_url(smtp_server.url, pool=2)
        barrier.wait()
        try:
            results.append(send_run(project, run_id, transport, rendered=rendered))
        except SendRunLocked as exc:
            results.append(exc)
        finally:
            transport.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert received(smtp_server) == Counter(emails)  # every recipient exactly once
    reports = [r for r in results if not isinstance(r, SendRunLocked)]
    assert reports and all(r.state == "done" for r in reports)
    assert sum(r.sent_now for r in reports) == 40


def test_stop_event_pauses_and_resume_finishes(project, rendered, add_subscribers,
                                               smtp_server, smtp_transport):
    emails = add_subscribers(6)
    stop = threading.Event()

    class StopAfterTwo:
        pool_size = 1
        count = 0

        def send(self, mail_from, recipients, data):
            smtp_transport.send(mail_from, recipients, data)
            self.count += 1
            if self.count == 2:
                stop.set()  # what the scheduler does on SIGTERM

        def close(self):
            pass

    run_id = prepare(project, rendered)
    report = send_run(project, run_id, StopAfterTwo(), rendered=rendered, stop=stop)
    assert report.state == "paused" and report.stopped and report.sent == 2
    assert f"--resume {run_id}" in report.paused_reason
    report = send_run(project, run_id, smtp_transport, rendered=rendered)
    assert report.state == "done" and report.uncertain == 0
    assert received(smtp_server) == Counter(emails)


def test_same_issue_to_same_list_needs_again(project, rendered, add_subscribers):
    add_subscribers(2)
    memory = MemoryTransport()
    run_id = prepare(project, rendered)
    assert prepare(project, rendered) == run_id  # unfinished: the same run, to resume
    send_run(project, run_id, memory, rendered=rendered)
    with pytest.raises(AlreadySent, match="--again"):
        prepare(project, rendered)
    second = prepare(project, rendered, again=True)
    assert second != run_id
    assert send_run(project, second, memory, rendered=rendered).sent == 2
    assert len(memory.messages) == 4


def test_again_is_refused_while_the_same_issue_is_being_sent(project, rendered,
                                                            add_subscribers):
    """--again means once more, never twice at the same time: while a live sender holds
    a run of the issue to that list, a second run would mail the same readers again."""
    from letterpress.delivery.runs import acquire_lease, lease_owner_id

    add_subscribers(2)
    run_id = prepare(project, rendered)
    owner = lease_owner_id()  # this process: alive
    with project.session() as session:
        acquire_lease(session, run_id, owner, clock=project.clock)
    with pytest.raises(SendRunLocked, match=f"send run {run_id} is being sent by"):
        prepare(project, rendered, again=True)
    with project.session() as session:  # its lease runs out: nobody is sending any more
        acquire_lease(session, run_id, owner, clock=project.clock, ttl=-1)
    assert prepare(project, rendered, again=True) != run_id


def test_prepare_is_idempotent_on_its_key(project, rendered, add_subscribers):
    add_subscribers(2)
    first = prepare(project, rendered, key="schedule:7:2024-12-17T10:00")
    assert prepare(project, rendered, key="schedule:7:2024-12-17T10:00") == first
    with project.session() as session:
        assert session.scalar(select(Delivery.run_id).where(Delivery.run_id == first)
                              .limit(1)) == first
        assert get_run(session, first).total == 2


def test_audience_snapshot_and_unknown_list(project, rendered, add_subscribers):
    add_subscribers(3)
    run_id = prepare(project, rendered)
    add_subscribers(2, prefix="tardif")  # subscribed after the run was prepared
    report = send_run(project, run_id, MemoryTransport(), rendered=rendered)
    assert report.total == 3 and report.sent == 3
    with pytest.raises(UnknownList):
        prepare(project, rendered, list_name="nope")


def test_changed_content_is_not_mixed_into_a_run(project, rendered, add_subscribers):
    from dataclasses import replace

    add_subscribers(2)
    run_id = prepare(project, rendered)
    changed = replace(rendered, content_hash="0" * 64)
    with pytest.raises(RunContentChanged):
        prepare(project, changed)
    with pytest.raises(RunContentChanged):
        send_run(project, run_id, MemoryTransport(), rendered=changed)
    with project.session() as session:
        run = get_run(session, run_id)
        assert run.state == "paused" and "different content" in run.message
        assert run.started_at is None  # nothing went out: not an archived issue


def test_test_send_goes_only_to_the_given_addresses(project, rendered, add_subscribers):
    emails = add_subscribers(3)
    memory = MemoryTransport()
    run_id = prepare(project, rendered, test_recipients=["Editor@Example.org", emails[0],
                                                         "editor@example.org"])
    report = send_run(project, run_id, memory, rendered=rendered)
    assert report.sent == 2
    assert sorted(r for m in memory.messages for r in m.recipients) == sorted(
        ["Editor@example.org", emails[0]])
    for m in memory.messages:
        assert str(m.message["Subject"]).startswith("[TEST] ")
    editor = memory.to("editor@example.org")[0].message
    assert f"<{BASE}/pvd/subscribe>" in editor["List-Unsubscribe"]  # not a subscriber
    with project.session() as session:
        assert get_run(session, run_id).is_test
    # A test send is not "already sent".
    assert prepare(project, rendered) != run_id


def test_failed_deliveries_can_be_retried(project, rendered, add_subscribers, clock):
    emails = add_subscribers(3)

    def refuse_first(mail_from, recipients, data):
        if recipients[0] == emails[0]:
            raise TransportError("552 5.3.4 Message too big", code=552, permanent=True)

    run_id = prepare(project, rendered)
    report = send_run(project, run_id, MemoryTransport(fail=refuse_first), rendered=rendered)
    assert report.state == "done" and report.failed == 1
    with project.session() as session:
        assert retry_run(session, run_id, clock=clock) == 1
        assert get_run(session, run_id).state == "paused"
    memory = MemoryTransport()
    report = send_run(project, run_id, memory, rendered=rendered)
    assert report.state == "done" and report.sent == 3
    assert [m.recipients for m in memory.messages] == [[emails[0]]]


def test_progress_is_reported(project, rendered, add_subscribers):
    add_subscribers(5)
    seen = []
    run_id = prepare(project, rendered)
    send_run(project, run_id, MemoryTransport(), rendered=rendered, progress=seen.append)
    assert seen[-1].final and seen[-1].sent == 5 and seen[-1].remaining == 0


def test_subscribers_table_untouched_by_sending(project, rendered, add_subscribers):
    add_subscribers(2)
    with project.session() as session:
        before = [(s.email, s.name) for s in session.scalars(select(Subscriber))]
    send_run(project, prepare(project, rendered), MemoryTransport(), rendered=rendered)
    with project.session() as session:
        assert [(s.email, s.name) for s in session.scalars(select(Subscriber))] == before
