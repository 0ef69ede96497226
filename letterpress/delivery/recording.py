"""Recording a batch's outcomes in the ledger, and the circuit breaker that may pause a run.

Each outcome becomes the row's next state (checked against the lifecycle table).  Answers
about the reader are that reader's outcome; answers about the server or the sender count
toward pausing the run (``pause_after`` in a row with no success), and the readers refused
for the sender's sake go back to ``queued``.  Hard bounces among the first ``bounce_window``
deliveries are held back from the audience until the window is passed: more than
``bounce_rate`` of them trips the breaker and those readers are queued again, unjudged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..audience import mark_bounced
from ..errors import AudienceError
from .lifecycle import DeliveryState, check_delivery
from .models import Delivery
from .outcomes import Cause, Outcome, backoff, sender_advice

if TYPE_CHECKING:
    from ..clock import Clock
    from .sender import _Row

__all__ = ["OutcomeRecorder", "RecorderState"]


@dataclass
class RecorderState:
    """What the outcomes so far say: refusals in a row, the bounce window, counts."""

    consecutive_refusals: int = 0
    streak: list[int] = field(default_factory=list)  # rows to queue again if the run pauses
    sent_now: int = 0
    bounced: int = 0
    last_error: str = ""
    last_cause: Cause = Cause.NONE
    window_left: int = 0  # deliveries still inside the bounce window
    window_bounces: int = 0
    held: list[tuple[int, int, str]] = field(default_factory=list)  # (row, subscription, why)



class OutcomeRecorder:
    """The recording half of a sender (mixed into it: it shares its settings and state)."""

    state: RecorderState
    clock: Clock
    run_id: int
    is_test: bool
    retry_horizon: timedelta
    pause_after: int
    bounce_rate: float
    bounce_window: int

    def _record(self, session: Session, batch: list[_Row],
                outcomes: dict[int, Outcome]) -> tuple[list[dict], str | None]:
        """Ledger updates for a batch (committed with the next one); a pause reason or None."""
        now = self.clock.now()
        updates = []
        st = self.state
        for row in batch:
            outcome = outcomes[row.id]
            values: dict = {"id": row.id, "code": outcome.code, "detail": outcome.detail[:2000]}
            if outcome.ok:
                st.consecutive_refusals = 0
                st.streak.clear()
                st.sent_now += 1
                values.update(state=DeliveryState.SENT, sent_at=now, next_attempt_at=None,
                              detail="")
            elif outcome.state == DeliveryState.UNCERTAIN:
                values.update(state=DeliveryState.UNCERTAIN, next_attempt_at=None)
            elif outcome.state == DeliveryState.DEFERRED:
                retry_at = now + timedelta(seconds=backoff(row.attempts))
                first = row.first_attempt_at or now
                if retry_at - first > self.retry_horizon:
                    values.update(state=DeliveryState.FAILED, next_attempt_at=None,
                                  detail=f"gave up after {row.attempts} attempts: "
                                         f"{outcome.detail}"[:2000])
                else:
                    values.update(state=DeliveryState.DEFERRED, next_attempt_at=retry_at)
            elif outcome.cause == Cause.SENDER:
                # About us, not the reader: no verdict on them, they wait for the resume.
                values.update(state=DeliveryState.QUEUED, next_attempt_at=None)
            else:
                values.update(state=DeliveryState.FAILED, next_attempt_at=None)
                if outcome.hard_bounce and row.subscription_id is not None and not self.is_test:
                    values["bounced"] = True
            check_delivery(DeliveryState.SENDING, values["state"])
            if outcome.against_server or outcome.state == DeliveryState.UNCERTAIN:
                st.consecutive_refusals += 1
                if outcome.state != DeliveryState.UNCERTAIN:
                    st.streak.append(row.id)
                st.last_error = outcome.detail
                st.last_cause = outcome.cause
            updates.append(values)
        if st.consecutive_refusals >= self.pause_after:
            for values in updates:
                values.pop("bounced", None)  # the server refuses everyone: no verdict on them
            if st.last_cause == Cause.SENDER:
                advice = sender_advice(st.last_error)
            else:
                advice = "check the mail server or its limits"
            return updates, (f"the server refused the last {st.consecutive_refusals} messages "
                             f"with no success ({st.last_error}); {advice}, then resume with "
                             f"`letterpress send --resume {self.run_id}`")
        return updates, self._judge_bounces(session, batch, updates)

    def _judge_bounces(self, session: Session, batch: list[_Row],
                       updates: list[dict]) -> str | None:
        """Mark hard bounces in the audience — held back while the bounce window is open."""
        st = self.state
        in_window = st.window_left > 0
        for values, row in zip(updates, batch, strict=True):
            if values["state"] in (DeliveryState.QUEUED, DeliveryState.DEFERRED):
                continue
            if in_window:
                st.window_left -= 1
            if values.get("bounced"):
                why = f"{values['code']} {values['detail']}"[:500]
                if in_window:
                    st.window_bounces += 1
                    st.held.append((row.id, row.subscription_id, why))
                else:
                    self._mark_bounced(session, row.subscription_id, why)
        limit = self.bounce_rate * self.bounce_window
        if st.held and st.window_bounces > limit:
            n, seen = st.window_bounces, self.bounce_window - st.window_left
            return (f"circuit breaker: {n} hard bounces among the first {seen} deliveries "
                    f"(more than {self.bounce_rate:.0%} of {self.bounce_window}); the list "
                    "looks stale or was not collected with consent, and sending on would hurt "
                    "the sender's reputation. Clean the list (remove the bounced addresses), "
                    f"then resume with `letterpress send --resume {self.run_id}`")
        if st.window_left <= 0:
            self._release_held(session)
        return None

    def _mark_bounced(self, session: Session, subscription_id: int, why: str) -> None:
        try:
            if mark_bounced(session, subscription_id, clock=self.clock, detail=why):
                self.state.bounced += 1
        except AudienceError:
            pass  # the subscription was erased meanwhile: nothing left to mark

    def _release_held(self, session: Session) -> None:
        """The window closed (or the run ended) without tripping: the bounces stand."""
        held, self.state.held = self.state.held, []
        for _, subscription_id, why in held:
            self._mark_bounced(session, subscription_id, why)

    def _requeue_streak(self, session: Session) -> None:
        """The refusals that led to a pause say nothing about those readers: queue them again.

        So do the hard bounces held in the bounce window when the breaker trips.
        """
        ids = list(self.state.streak)
        for start in range(0, len(ids), 500):
            session.execute(
                update(Delivery).where(Delivery.id.in_(ids[start:start + 500]),
                                       Delivery.bounced.is_(False))
                .values(state=DeliveryState.QUEUED, next_attempt_at=None)
                .execution_options(synchronize_session=False))
        held, self.state.held = [h[0] for h in self.state.held], []
        for start in range(0, len(held), 500):
            session.execute(
                update(Delivery).where(Delivery.id.in_(held[start:start + 500]))
                .values(state=DeliveryState.QUEUED, next_attempt_at=None, bounced=False)
                .execution_options(synchronize_session=False))

