"""Send runs: preparing one (audience snapshot into the ledger), its lease, and reading it.

Only one process sends a run at a time, unless the run is shared (PostgreSQL, every sender
asking for it: the lease owner is then :data:`SHARED_LEASE`, see ``claims``).  The lease is two columns changed by a single
conditional UPDATE (``… WHERE lease_owner IS NULL OR lease_until < now OR lease_owner = me``),
which both SQLite and PostgreSQL execute atomically; the holder renews it while sending.  A
lease whose holder was a process on this machine that no longer exists (``kill -9``) is taken
over at once instead of waiting for it to expire.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audience import get_list, iter_recipients, normalise_email
from ..audience.models import MailingList, Subscriber, Subscription
from ..clock import Clock
from ..errors import AlreadySent, DeliveryError, SendRunLocked, SendRunNotFound
from .lifecycle import DeliveryState, RunState, check_run, delivery_sources
from .models import DELIVERY_STATES, Delivery, SendRun

if TYPE_CHECKING:
    from ..audience.segments import Segment
    from ..render import RenderedIssue

__all__ = [
    "SHARED_LEASE",
    "RunContentChanged",
    "acquire_lease",
    "find_run",
    "get_run",
    "lease_owner_id",
    "list_runs",
    "prepare_run",
    "recover_in_flight",
    "release_lease",
    "renew_lease",
    "retry_run",
    "run_counts",
    "run_problems",
    "uncertain_rows",
]

SNAPSHOT_BATCH = 1000
SHARED_LEASE = "shared"
"""The lease owner of a run shared by several senders (PostgreSQL, see ``claims``)."""
UNFINISHED = (RunState.PENDING, RunState.SENDING, RunState.PAUSED)


class RunContentChanged(DeliveryError):
    """The issue rendered now differs from what the run started sending."""

    def __init__(self, run_id: int, recorded: str, current: str):
        self.run_id = run_id
        self.recorded = recorded
        self.current = current
        super().__init__(
            f"send run {run_id} was started with different content ({recorded[:12]}, now "
            f"{current[:12]}); finishing it would mix two versions — restore the file, or "
            "send the new version with --again")


# --------------------------------------------------------------------------- preparing

def _path(source) -> str:
    # Absolute, so a resume from another working directory finds the same file.
    return str(Path(source).resolve()) if source else ""


def _issue_fields(rendered: RenderedIssue) -> dict:
    issue = rendered.issue
    return {
        "publication": rendered.publication.slug,
        "issue_number": int(getattr(issue, "number", 0)),
        "issue_path": _path(getattr(issue, "source_path", None)),
        "issue_date": getattr(issue, "date", None),
        "subject": rendered.subject,
        "content_hash": rendered.content_hash,
    }


def find_run(session: Session, publication: str, issue_number: int, list_name: str,
             *, include_tests: bool = False) -> SendRun | None:
    """The latest run of this issue to this list (test sends excluded unless asked)."""
    query = select(SendRun).where(SendRun.publication == publication,
                                  SendRun.issue_number == issue_number,
                                  SendRun.list_name == list_name)
    if not include_tests:
        query = query.where(SendRun.is_test.is_(False))
    return session.scalars(query.order_by(SendRun.id.desc()).limit(1)).first()


def prepare_run(session: Session, rendered: RenderedIssue, list_name: str, *, clock: Clock,
                again: bool = False, key: str | None = None,
                test_recipients: Sequence[str] | None = None,
                segment: Segment | None = None) -> SendRun:
    """Create the send run of ``rendered`` to ``list_name`` with one queued row per recipient.

    Idempotent: with ``key`` an existing run of that key is returned; without ``again`` an
    unfinished run of the same issue and list is returned (to be resumed) and a finished one
    raises :class:`AlreadySent`; with ``again``, a run of the same issue and list that a live
    sender is sending right now raises :class:`SendRunLocked`.  ``test_recipients`` makes a
    test run to those addresses only.  ``segment`` keeps only the subscribers it selects, and
    is recorded on the run.
    """
    fields = _issue_fields(rendered)
    if key is not None:
        existing = session.scalars(select(SendRun).where(SendRun.key == key)).first()
        if existing is not None:
            return existing
    now = clock.now()
    if test_recipients is not None:
        return _prepare_test(session, fields, list_name, test_recipients, now, key)
    mailing_list = get_list(session, list_name)  # raises UnknownList
    if again and key is None:
        # --again means "once more", never "twice at the same time": while a run of this
        # issue to this list is being sent, a second one would mail the same readers again.
        sending = session.scalars(select(SendRun).where(
            SendRun.publication == fields["publication"],
            SendRun.issue_number == fields["issue_number"], SendRun.list_name == list_name,
            SendRun.is_test.is_(False), SendRun.lease_owner.is_not(None),
            SendRun.lease_until >= now).order_by(SendRun.id.desc()).limit(1)).first()
        if sending is not None and not _owner_is_dead(sending.lease_owner):
            raise SendRunLocked(sending.id, sending.lease_owner or "?", sending.lease_until)
    if not again:
        existing = find_run(session, fields["publication"], fields["issue_number"], list_name)
        if existing is not None:
            if existing.state in UNFINISHED and key is None:
                wanted = segment.canonical if segment else None
                if existing.segment != wanted:
                    raise DeliveryError(
                        f"send run {existing.id} of this issue to {list_name} is unfinished and "
                        f"goes to {existing.segment or 'the whole list'}: finish it with "
                        f"--resume {existing.id}, or send to another part with --again")
                if existing.content_hash != fields["content_hash"]:
                    raise RunContentChanged(existing.id, existing.content_hash,
                                            fields["content_hash"])
                return existing
            raise AlreadySent(existing.id, rendered.issue.identity
                              if hasattr(rendered.issue, "identity")
                              else f"{fields['publication']}#{fields['issue_number']}",
                              list_name)
    run = SendRun(**fields, list_name=mailing_list.name, is_test=False, key=key,
                  state=RunState.PENDING.value, total=0, message="", created_at=now,
                  snapshot_at=now, segment_name=segment.name if segment else None,
                  segment=segment.canonical if segment else None)
    if key is not None:
        # Two schedulers may prepare the same occurrence at once: the unique key decides,
        # and the loser gets the winner's run.
        try:
            with session.begin_nested():
                session.add(run)
                session.flush()
        except IntegrityError:
            existing = session.scalars(select(SendRun).where(SendRun.key == key)).first()
            if existing is None:
                raise
            return existing
    else:
        session.add(run)
        session.flush()
    total = 0
    chunk: list[dict] = []
    for r in iter_recipients(session, list_name, batch_size=SNAPSHOT_BATCH,
                             where=segment.clause() if segment else None):
        chunk.append({"run_id": run.id, "subscription_id": r.subscription_id,
                      "subscriber_id": r.subscriber_id, "list_id": r.list_id,
                      "email": r.email, "name": (r.name or "")[:200],
                      "state": DeliveryState.QUEUED.value,
                      "attempts": 0, "detail": "", "bounced": False})
        if len(chunk) >= SNAPSHOT_BATCH:
            session.execute(insert(Delivery), chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        session.execute(insert(Delivery), chunk)
        total += len(chunk)
    run.total = total
    session.flush()
    return run


def _prepare_test(session: Session, fields: dict, list_name: str, addresses: Sequence[str],
                  now: datetime, key: str | None) -> SendRun:
    mailing_list = session.scalars(select(MailingList).where(MailingList.name == list_name)) \
        .first()
    run = SendRun(**fields, list_name=list_name, is_test=True, key=key,
                  state=RunState.PENDING.value,
                  total=0, message="", created_at=now, snapshot_at=now)
    session.add(run)
    session.flush()
    seen: set[str] = set()
    rows = []
    for address in addresses:
        email = normalise_email(address)
        if email.casefold() in seen:
            continue
        seen.add(email.casefold())
        subscriber_id = list_id = None
        name = ""
        if mailing_list is not None:
            # A tester who is a subscriber gets their real personal links, so they can be
            # checked; anyone else gets the neutral public ones.
            found = session.execute(
                select(Subscriber.id, Subscriber.name)
                .join(Subscription, Subscription.subscriber_id == Subscriber.id)
                .where(Subscriber.email_key == email.casefold(),
                       Subscription.list_id == mailing_list.id)).first()
            if found is not None:
                subscriber_id, name, list_id = found[0], found[1] or "", mailing_list.id
        rows.append({"run_id": run.id, "subscription_id": None, "subscriber_id": subscriber_id,
                     "list_id": list_id, "email": email, "name": name,
                     "state": DeliveryState.QUEUED.value,
                     "attempts": 0, "detail": "", "bounced": False})
    if rows:
        session.execute(insert(Delivery), rows)
    run.total = len(rows)
    session.flush()
    return run


# --------------------------------------------------------------------------- lease

def lease_owner_id() -> str:
    """``host:pid:random``: unique per sender, and tells whether its process is alive."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str | None) -> bool:
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only the lease expiry tells
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire_lease(session: Session, run_id: int, owner: str, *, clock: Clock,
                  ttl: float = 60.0) -> None:
    """Take the run's lease (committing), or raise :class:`SendRunLocked`."""
    now = clock.now()
    until = now + timedelta(seconds=ttl)
    result = session.execute(
        update(SendRun)
        .where(SendRun.id == run_id,
               or_(SendRun.lease_owner.is_(None), SendRun.lease_until < now,
                   SendRun.lease_owner == owner))
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False))
    if result.rowcount == 1:
        session.commit()
        return
    holder, holder_until = session.execute(
        select(SendRun.lease_owner, SendRun.lease_until).where(SendRun.id == run_id)).one()
    if _owner_is_dead(holder):
        result = session.execute(
            update(SendRun).where(SendRun.id == run_id, SendRun.lease_owner == holder)
            .values(lease_owner=owner, lease_until=until)
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            session.commit()
            return
    session.rollback()
    raise SendRunLocked(run_id, holder or "?", holder_until)


def renew_lease(session: Session, run_id: int, owner: str, *, clock: Clock,
                ttl: float = 60.0) -> bool:
    """Extend our lease (in the caller's transaction); False when it was taken from us."""
    result = session.execute(
        update(SendRun).where(SendRun.id == run_id, SendRun.lease_owner == owner)
        .values(lease_until=clock.now() + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def release_lease(session: Session, run_id: int, owner: str) -> None:
    """Give the lease up (in the caller's transaction)."""
    session.execute(
        update(SendRun).where(SendRun.id == run_id, SendRun.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False))


# --------------------------------------------------------------------------- reading

def get_run(session: Session, run_id: int) -> SendRun:
    """The run, or :class:`SendRunNotFound`."""
    run = session.get(SendRun, run_id)
    if run is None:
        raise SendRunNotFound(run_id)
    return run


def list_runs(session: Session, *, publication: str | None = None,
              limit: int = 50) -> list[SendRun]:
    """The most recent runs, newest first."""
    query = select(SendRun).order_by(SendRun.id.desc()).limit(limit)
    if publication:
        query = query.where(SendRun.publication == publication)
    return list(session.scalars(query))


def run_counts(session: Session, run_id: int) -> dict[str, int]:
    """Ledger rows per state (every state present, zeros included)."""
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    for state, n in session.execute(
            select(Delivery.state, func.count()).where(Delivery.run_id == run_id)
            .group_by(Delivery.state)):
        counts[state] = n
    return counts


def run_problems(session: Session, run_id: int, *,
                 states: Iterable[str] = (DeliveryState.FAILED, DeliveryState.DEFERRED,
                                          DeliveryState.UNCERTAIN, DeliveryState.SKIPPED),
                 limit: int = 200) -> list[Delivery]:
    """Ledger rows that did not end as sent, with their codes and reasons."""
    return list(session.scalars(
        select(Delivery).where(Delivery.run_id == run_id, Delivery.state.in_([str(s) for s in states]))
        .order_by(Delivery.id).limit(limit)))


def uncertain_rows(session: Session, run_id: int) -> list[tuple[int, str]]:
    """(delivery id, address) of every uncertain row."""
    return [(i, e) for i, e in session.execute(
        select(Delivery.id, Delivery.email)
        .where(Delivery.run_id == run_id, Delivery.state == DeliveryState.UNCERTAIN.value)
        .order_by(Delivery.id))]


# --------------------------------------------------------------------------- recovery

def recover_in_flight(session: Session, run_id: int, *, resend: bool = False) -> int:
    """Rows left ``sending`` by a sender that died: mark them uncertain (or queue them again).

    Only call while holding the lease.  Returns how many rows there were.
    """
    wanted = DeliveryState.QUEUED if resend else DeliveryState.UNCERTAIN
    assert DeliveryState.SENDING.value in delivery_sources(wanted)
    result = session.execute(
        update(Delivery).where(Delivery.run_id == run_id,
                               Delivery.state == DeliveryState.SENDING.value)
        .values(state=wanted.value,
                detail="handed to the server when the sender stopped; it may have arrived")
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def retry_run(session: Session, run_id: int, *, clock: Clock, uncertain: bool = False) -> int:
    """Queue failed and deferred rows again (and uncertain ones if asked); returns how many.

    Hard bounces are not retried: the address does not exist and is suppressed.
    """
    run = get_run(session, run_id)
    states = [DeliveryState.FAILED.value, DeliveryState.DEFERRED.value] + (
        [DeliveryState.UNCERTAIN.value] if uncertain else [])
    assert set(states) <= set(delivery_sources(DeliveryState.QUEUED))
    result = session.execute(
        update(Delivery)
        .where(Delivery.run_id == run_id, Delivery.state.in_(states),
               Delivery.bounced.is_(False))
        .values(state=DeliveryState.QUEUED.value, next_attempt_at=None, first_attempt_at=None)
        .execution_options(synchronize_session=False))
    n = result.rowcount or 0
    if n and run.state in (RunState.DONE, RunState.FAILED):
        run.state = check_run(run.state, RunState.PAUSED).value
        run.message = f"{n} deliveries queued again on {clock.now():%Y-%m-%d %H:%M} UTC"
    session.flush()
    return n
