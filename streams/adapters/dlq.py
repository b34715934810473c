"""Dead letters: a failed record, its original bytes and why it failed.

The envelope (``schemas/ledgerstream.dlq``) keeps the original key, value and
headers byte for byte so a fixed record can be re-driven as it was. The Kafka
headers of the dead letter summarise the error in the style of KIP-1034
(``__dlq.errors.*``) so tools can filter without decoding the envelope.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.domain.exceptions import LedgerstreamError

MAX_STACK_CHARS = 16_000
MAX_MESSAGE_CHARS = 4_000

Headers = list[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A Kafka record as it was consumed, before any decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter ready to send: key, Avro envelope fields and summary headers."""

    key: bytes | None
    envelope: dict[str, Any]
    headers: Headers
    code: str


def describe_error(error: BaseException) -> tuple[str, bool, str | None, int | None]:
    """Return the stable code, retryable flag, field and schema id of an error."""
    if isinstance(error, LedgerstreamError):
        schema_id = getattr(error, "schema_id", None)
        return error.code, error.retryable, error.field, schema_id
    return LedgerstreamError.code, False, None, None


def build_dead_letter(
    record: SourceRecord,
    error: BaseException,
    *,
    processor: str,
    now: datetime | None = None,
    attempts: int = 1,
    first_failed_at: datetime | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
) -> DeadLetter:
    """Wrap a failed record and its error into a dead letter (nothing is dropped)."""
    failed_at = now or datetime.now(UTC)
    code, retryable, field, schema_id = describe_error(error)
    error_class = f"{type(error).__module__}.{type(error).__qualname__}"
    message = str(error)[:MAX_MESSAGE_CHARS] or error_class
    stack = "".join(traceback.format_exception(error))[-MAX_STACK_CHARS:]
    source_timestamp = (
        datetime.fromtimestamp(record.timestamp_ms / 1000, tz=UTC)
        if record.timestamp_ms is not None
        else None
    )
    envelope: dict[str, Any] = {
        "key": record.key,
        "value": record.value,
        "headers": [{"key": k, "value": v} for k, v in record.headers],
        "source_topic": record.topic,
        "source_partition": record.partition,
        "source_offset": record.offset,
        "source_timestamp": source_timestamp,
        "error_code": code,
        "error_class": error_class,
        "error_message": message,
        "stack_trace": stack,
        "retryable": retryable,
        "attempts": attempts,
        "first_failed_at": first_failed_at or failed_at,
        "last_failed_at": failed_at,
        "schema_id": schema_id,
        "field": field,
        "trace_id": trace_id,
        "span_id": span_id,
        "processor": processor,
    }
    headers: Headers = [
        ("__dlq.errors.code", code.encode()),
        ("__dlq.errors.exception.class.name", error_class.encode()),
        ("__dlq.errors.exception.message", message[:500].encode()),
        ("__dlq.errors.topic", record.topic.encode()),
        ("__dlq.errors.partition", str(record.partition).encode()),
        ("__dlq.errors.offset", str(record.offset).encode()),
        ("__dlq.errors.retryable", b"true" if retryable else b"false"),
    ]
    return DeadLetter(key=record.key, envelope=envelope, headers=headers, code=code)
