"""Handing a batch of a send run to the transport: each reader's links, the batch's messages
built (and DKIM-signed) together, one task per message on the connections, their answers.

The send loop (:mod:`.sender`) decides which rows go and records what became of them; this
is the wire side of it.  A message that cannot be built (an address or name that cannot be
written safely) is that reader's outcome at once, ``failed``, and never reaches the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from ..audience import envelope_address
from ..audience.tokens import TokenSigner
from ..errors import TransportError
from ..message import MessageBatch, MessageError, MessageTemplate, Reader
from ..transports.base import Transport
from .lifecycle import DeliveryState
from .outcomes import Cause, Outcome, classify

if TYPE_CHECKING:
    from .sender import _Row

__all__ = ["Handover", "Prepared"]

# A batch being built: (row, envelope address) of each buildable reader, their messages
# (signatures perhaps under way), and the outcomes of the rows that could not be built.
Prepared = tuple[list[tuple["_Row", str]], MessageBatch, dict[int, Outcome]]


def _unbuildable(exc: MessageError) -> Outcome:
    return Outcome(DeliveryState.FAILED, None, f"cannot build the message: {exc}",
                   cause=Cause.MESSAGE)


class Handover:
    """Builds and hands over the batches of one run.

    ``return_path(delivery_id)`` is each message's envelope sender; ``tokens`` signs the
    readers' unsubscribe and preferences links; rows without a subscriber (test sends) get
    ``neutral_url`` for both.
    """

    def __init__(self, template: MessageTemplate, transport: Transport,
                 return_path: Callable[[int], str], tokens: TokenSigner, base_url: str, *,
                 neutral_url: str):
        self.template = template
        self.transport = transport
        self.return_path = return_path
        self.tokens = tokens
        self.base_url = base_url
        self.neutral_url = neutral_url

    def urls(self, row: _Row) -> tuple[str, str]:
        """The reader's unsubscribe and preferences URLs, signed for their link key."""
        if row.subscriber_id is None or row.list_id is None:
            return self.neutral_url, self.neutral_url
        sign = self.tokens.dumps
        key = row.link_key
        return (f"{self.base_url}/u/{sign('unsubscribe', row.subscriber_id, row.list_id, key)}",
                f"{self.base_url}/p/{sign('preferences', row.subscriber_id, row.list_id, key)}")

    def prepare(self, batch: list[_Row]) -> Prepared:
        """Start building the batch's messages (each row's ``message_id`` set): one call to
        the template for the whole batch, which with DKIM sends the batch to the signing
        helper and returns — the run commits its ledger while the helper signs."""
        failed: dict[int, Outcome] = {}
        readers: list[Reader] = []
        rows: list[tuple[_Row, str]] = []
        for row in batch:
            try:
                # IDNA only for non-ASCII domains: the check costs more than the message.
                envelope = row.email if row.email.isascii() else envelope_address(row.email)
                unsubscribe_url, preferences_url = self.urls(row)
            except MessageError as exc:
                failed[row.id] = _unbuildable(exc)
                continue
            readers.append(Reader(envelope, row.name, unsubscribe_url, preferences_url,
                                  row.message_id))
            rows.append((row, envelope))
        return rows, self.template.begin(readers), failed

    @staticmethod
    def built(prepared: Prepared) -> tuple[list[tuple[_Row, str, bytes]], dict[int, Outcome]]:
        """The messages :meth:`prepare` started, once signed."""
        rows, messages, failed = prepared
        failed = dict(failed)
        built = []
        for (row, envelope), result in zip(rows, messages.result(), strict=True):
            if isinstance(result, MessageError):
                failed[row.id] = _unbuildable(result)
            else:
                built.append((row, envelope, result[1]))
        return built, failed

    def send_one(self, row: _Row, envelope: str, data: bytes) -> Outcome:
        """Hand one message to the transport; its answer as an :class:`Outcome`."""
        try:
            self.transport.send(self.return_path(row.id), [envelope], data)
        except TransportError as exc:
            return classify(exc)
        return classify(None)

    def start(self, executor: ThreadPoolExecutor | None, prepared: Prepared
              ) -> tuple[dict[Future, int], dict[int, Outcome]]:
        """Hand the batch :meth:`prepare` started over: (futures of the messages on the
        wire, outcomes known now)."""
        built, known = self.built(prepared)
        if executor is None:
            known.update({row.id: self.send_one(row, envelope, data)
                          for row, envelope, data in built})
            return {}, known
        return ({executor.submit(self.send_one, row, envelope, data): row.id
                 for row, envelope, data in built}, known)

    @staticmethod
    def collect(started: tuple[dict[Future, int], dict[int, Outcome]]) -> dict[int, Outcome]:
        """Wait for every message :meth:`start` put on the wire: ``{delivery id: outcome}``."""
        futures, outcomes = started
        outcomes = dict(outcomes)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes[futures[future]] = future.result()  # a crash propagates as is
        return outcomes
