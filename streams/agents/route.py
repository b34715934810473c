"""Stage 1: project events → their ledger (``ledgerstream.ledger-events``).

Upstream keys project events by their own id (``entry_id``, ``invoice_id``…), but an
invoice relieves the WIP of entries and a payment the receivable of invoices: what a
rule reads belongs to one customer of one legal entity (or one internal project, or
an entity's shared pool). This agent reads only the fields a record is routed by
(``ROUTING_FIELDS``; a record whose bytes cannot even be read is dead-lettered here,
with its original bytes) and forwards it, bytes untouched, keyed by that unit
(``streams.domain.routing``: ``US10/customer/C-1``), with where it was read in
``ledgerstream-source-*`` headers. Stage 2 decodes and validates the record whole,
once, and dead-letters an invalid one there. Stage 2 (``streams.agents.ledger``)
then sees every record of a unit in one partition, in order.

A record whose entity cannot be known yet (its project has not arrived) is
forwarded under its own key; stage 2 parks it and routes it again once the
project arrives. A tombstone (a deletion) names only its source id, so it goes to
every partition: the one that posted the record reverses it, the others skip it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from streams.adapters.dlq import SourceRecord
from streams.adapters.heartbeat import ledger_partition
from streams.adapters.metrics import Outcome
from streams.agents.runtime import Deliver, Handled, Output, Runtime
from streams.domain.exceptions import TransientError
from streams.domain.posting import EVENT_TOPICS, SourceEvent
from streams.domain.routing import ledger_key

__all__ = [
    "LEDGER_TOPIC",
    "RELOCATED",
    "ROUTING_FIELDS",
    "forward",
    "register",
    "relocated_to",
    "routing_view",
    "source_of",
]

#: The internal topic of stage 2, keyed by ledger unit (deploy/topics.yaml).
LEDGER_TOPIC: Final = "ledgerstream.ledger-events"

_TOPIC: Final = "ledgerstream-source-topic"
_PARTITION: Final = "ledgerstream-source-partition"
_OFFSET: Final = "ledgerstream-source-offset"
_TIMESTAMP: Final = "ledgerstream-source-timestamp"
_KEY: Final = "ledgerstream-source-key"
_OURS: Final = frozenset({_TOPIC, _PARTITION, _OFFSET, _TIMESTAMP, _KEY})
#: On a relocation notice (stage 2 to stage 2, see ``streams.domain.routing``): the
#: ledger key the record now posts under. Never taken from upstream.
RELOCATED: Final = "ledgerstream-relocated-to"


#: The fields routing reads (``streams.domain.routing``); a topic's schema has some.
ROUTING_FIELDS: Final = frozenset({"entity_id", "customer_id", "project_id", "employee_id"})


def routing_view(rt: Runtime, record: SourceRecord) -> SourceEvent:
    """Read just the fields a record is routed by, as its event model (nothing validated).

    The model holds only ``ROUTING_FIELDS`` (and defaults): enough for routing, and
    never posted. Decoding the whole record and validating it is stage 2's work.
    """
    topic = rt.logical(record.topic)
    fields = rt.codec.decode_fields(topic, record.value, ROUTING_FIELDS)
    return EVENT_TOPICS[topic][1].model_construct(**fields)


def decode_event(rt: Runtime, record: SourceRecord) -> SourceEvent:
    """Decode and validate a project event record into its domain model."""
    topic = rt.logical(record.topic)
    return rt.decode(topic, record, EVENT_TOPICS[topic][1])


def forward(
    rt: Runtime,
    record: SourceRecord,
    key: bytes | None,
    partition: int | None = None,
    *,
    relocated_to: str | None = None,
) -> Output:
    """Forward a record, bytes untouched, to ``ledgerstream.ledger-events`` with its provenance.

    ``relocated_to`` makes it a relocation notice for ``partition``: the record now
    posts under that ledger key, and the ledger holding an earlier version reverses it.
    """
    headers = rt.traced([(k, v) for k, v in record.headers if k not in _OURS and k != RELOCATED])
    if relocated_to is not None:
        headers.append((RELOCATED, relocated_to.encode()))
    headers += [
        (_TOPIC, record.topic.encode()),
        (_PARTITION, str(record.partition).encode()),
        (_OFFSET, str(record.offset).encode()),
    ]
    if record.timestamp_ms is not None:
        headers.append((_TIMESTAMP, str(record.timestamp_ms).encode()))
    if record.key is not None:
        headers.append((_KEY, record.key))
    return Output(rt.topic(LEDGER_TOPIC), key, record.value, headers, partition)


def source_of(record: SourceRecord) -> SourceRecord:
    """Return the original record a stage-2 record carries (its source topic, offset, key)."""
    found = dict(record.headers)
    topic = found.get(_TOPIC)
    if topic is None:
        return record
    timestamp = found.get(_TIMESTAMP)
    return SourceRecord(
        topic=topic.decode(),
        partition=int(found.get(_PARTITION) or b"-1"),
        offset=int(found.get(_OFFSET) or b"-1"),
        key=found.get(_KEY),
        value=record.value,
        headers=[(k, v) for k, v in record.headers if k not in _OURS],
        timestamp_ms=None if timestamp is None else int(timestamp),
    )


def relocated_to(record: SourceRecord) -> str | None:
    """Return the ledger key a relocation notice names, or None for any other record."""
    for name, value in record.headers:
        if name == RELOCATED and value is not None:
            return value.decode()
    return None


def handle_route(rt: Runtime, record: SourceRecord, partitions: int) -> Handled:
    """Forward one project event to its ledger (or to every ledger, if deleted)."""
    if record.value is None:
        outputs = [forward(rt, record, record.key, p) for p in range(partitions)]
        return Outcome.ROUTED, outputs
    try:
        key = ledger_key(routing_view(rt, record), rt.current_book)
    except TransientError:  # its project unknown yet, or the registry down: stage 2 parks it
        return Outcome.ROUTED, [forward(rt, record, record.key)]
    if rt.synthetic:  # a canary proves the stage-2 partition of its own source partition
        to = ledger_partition(record.partition, partitions)
        return Outcome.ROUTED, [forward(rt, record, key.encode(), to)]
    return Outcome.ROUTED, [forward(rt, record, key.encode())]


def register(
    app: Any,
    rt: Runtime,
    *,
    deliver: Deliver,
    ready: Any,
    batch_size: int,
    within: float,
    partitions: int,
    topics: Sequence[str] = tuple(EVENT_TOPICS),
) -> None:
    """Declare the routing agent over every project event topic."""

    def handle(record: SourceRecord) -> Handled:
        return handle_route(rt, record, partitions)

    channel = app.topic(*(rt.topic(name) for name in topics))

    @app.agent(channel, name="route")
    async def route(stream: Any) -> None:
        # Wait for reference data *inside* the loop: a stream that is not iterated yet
        # when Faust ends table recovery loses the records it had queued (measured:
        # 149 records after a restart), so both agents start iterating at once.
        async for events in stream.take_events(batch_size, within):
            await ready.wait()
            await deliver(rt.process_batch(events, handle))  # acked before the next batch
