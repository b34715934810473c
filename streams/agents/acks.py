"""The books' answers back to the project system: ``acct.ledger-acks`` -> ``pm.sync-feedback``.

Each ack of the books (``streams.books``) becomes one feedback record for the
command's source record version: ``BOOKED``, or ``REJECTED`` with the books' code
and reason (``streams.domain.acks.feedback_of``). An ``EXISTS`` answer adds nothing
(counted ``skipped``); an unreadable ack is dead-lettered with its bytes.
"""

from __future__ import annotations

from typing import Any, Final

from streams.adapters.dlq import SourceRecord
from streams.adapters.metrics import Outcome
from streams.agents.runtime import Deliver, Handled, Output, Runtime
from streams.domain.acks import LedgerAck, feedback_of

__all__ = ["ACKS_TOPIC", "register"]

ACKS_TOPIC: Final = "acct.ledger-acks"
FEEDBACK_TOPIC: Final = "pm.sync-feedback"


def handle_ack(rt: Runtime, record: SourceRecord) -> Handled:
    """Turn one ack into its feedback record (none for ``EXISTS``)."""
    ack = rt.decode(ACKS_TOPIC, record, LedgerAck)
    feedback = feedback_of(ack)
    if feedback is None:
        return Outcome.SKIPPED, []
    value = rt.codec.encode(FEEDBACK_TOPIC, feedback.model_dump())
    output = Output(
        rt.topic(FEEDBACK_TOPIC),
        feedback.source_id.encode(),
        value,
        rt.traced(list(record.headers)),
    )
    return Outcome.POSTED, [output]


def register(app: Any, rt: Runtime, *, deliver: Deliver, batch_size: int, within: float) -> None:
    """Declare the agent that turns the books' acks into sync feedback."""
    topic = app.topic(rt.topic(ACKS_TOPIC))

    @app.agent(topic, name="acks")
    async def acks(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within):
            await deliver(rt.process_batch(events, lambda record: handle_ack(rt, record)))
