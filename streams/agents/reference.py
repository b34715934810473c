"""Reference data: the in-memory book every worker fills, and its validating agent.

Two readers of the same compacted topics, each with one job:
* :func:`apply_reference` runs in every worker's group-less loader
  (``ReferenceLoader``) and keeps the whole :class:`ReferenceBook` current. A
  record it cannot use is skipped there, because every worker and every
  restart would report it again;
* the ``reference`` agent reads the same topics once per consumer group and
  dead-letters each invalid record exactly there, with its original bytes.
"""

from __future__ import annotations

from typing import Any

from streams.adapters.dlq import SourceRecord
from streams.adapters.metrics import Outcome
from streams.agents.runtime import Deliver, Handled, Runtime
from streams.domain.exceptions import LedgerstreamError
from streams.domain.reference import (
    REFERENCE_TOPICS,
    ReferenceModel,
    RefKind,
    check_key,
)

__all__ = ["REFERENCE_TOPICS", "apply_reference", "decode_reference", "register"]


def decode_reference(
    rt: Runtime, record: SourceRecord
) -> tuple[RefKind, str, ReferenceModel | None]:
    """Decode and validate one reference record: (kind, key, model or None = deleted)."""
    kind, model = REFERENCE_TOPICS[rt.logical(record.topic)]
    key = (record.key or b"").decode()
    if record.value is None:
        return kind, key, None
    return kind, key, rt.decode(rt.logical(record.topic), record, model)


def apply_reference(rt: Runtime, record: SourceRecord) -> bool:
    """Put (or delete) one reference record in the book; False if it is unusable."""
    try:
        kind, key, value = decode_reference(rt, record)
    except Exception:
        return False
    if value is None:
        rt.book.delete(kind, key)
        return True
    try:
        rt.book.put(key, value)
    except LedgerstreamError:
        return False  # key and record disagree: the reference agent dead-letters it
    return True


def register(app: Any, rt: Runtime, *, deliver: Deliver) -> None:
    """Declare the agent that validates reference records and dead-letters bad ones."""

    def handle(record: SourceRecord) -> Handled:
        _kind, key, value = decode_reference(rt, record)
        if value is not None:
            check_key(key, value)  # the loader skips such a record; here it is dead-lettered
        return Outcome.LOADED, []

    topics = app.topic(*(rt.topic(name) for name in REFERENCE_TOPICS))

    @app.agent(topics, name="reference")
    async def reference(stream: Any) -> None:
        async for events in stream.take_events(500, 0.2):
            await deliver(rt.process_batch(events, handle))
