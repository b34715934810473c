"""The time-entry agent: pm.time-entries → balanced posting commands.

Decode (Confluent wire format) → validate (pydantic) → ``post_time_entry``
(pure) → encode → send to ``acct.ledger-commands`` (or its shadow topic, by the
pilot and dry-run toggles) keyed by entity. A held entry (awaiting approval)
sends nothing and is counted; any failure is dead-lettered by
:meth:`Runtime.process`. While the kill switch is on, the agent waits before its
next batch: nothing is processed or acked, the records wait in Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter
from typing import Any

from streams.adapters.dlq import SourceRecord
from streams.adapters.metrics import Outcome
from streams.agents.runtime import Handled, Output, Runtime
from streams.domain.commands import SourceRef
from streams.domain.events import TimeEntryRecorded
from streams.domain.rules.outcome import Held
from streams.domain.rules.time_entry import post_time_entry

TOPIC = "pm.time-entries"


def handle_time_entry(rt: Runtime, record: SourceRecord) -> Handled:
    """Turn one time-entry record into its posting commands (or a hold)."""
    entry = rt.decode(TOPIC, record, TimeEntryRecorded)
    source = SourceRef(
        system="pm",
        type="time_entry",
        id=entry.entry_id,
        version=entry.version,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        event_time=entry.recorded_at,
    )
    result = post_time_entry(entry, rt.current_book, source=source, rule_version=rt.rule_version)
    if isinstance(result, Held):
        return Outcome.HELD, []
    return Outcome.POSTED, [rt.command_output(command, record) for command in result.commands]


def register(
    app: Any,
    rt: Runtime,
    *,
    send: Callable[[Output], None],
    ready: asyncio.Event,
    batch_size: int,
    within: float,
) -> None:
    """Declare the time-entry agent on a Faust app."""
    histogram = rt.metrics.batch_seconds.labels(topic=TOPIC)

    def handle(record: SourceRecord) -> Handled:
        return handle_time_entry(rt, record)

    @app.agent(app.topic(rt.topic(TOPIC)), name="time-entries")
    async def time_entries(stream: Any) -> None:
        await ready.wait()
        async for events in stream.take_events(batch_size, within):
            await rt.posting.wait()  # the kill switch: hold this batch, unacked
            started = perf_counter()
            rt.process_batch(events, handle, send)
            histogram.observe(perf_counter() - started)
