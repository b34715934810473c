"""Parked records as the posted-records table stores them (``parked|<partition>|<source>``).

Stage 2 (``streams.agents.ledger``) keeps, per source record, the queue of its
records waiting for something (reference data, an unposted entry, a paused
entity); ``ledgerstream parked`` reads the same rows back for operators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict

from streams.adapters.dlq import SourceRecord
from streams.adapters.table_rows import encode_rows, rows_decoder

__all__ = ["PARKED_PREFIX", "Parked", "decode_queue", "encode_queue"]

#: Key prefix of parked queues in the table: ``parked|<partition>|<type>:<id>``.
PARKED_PREFIX: Final = b"parked|"


class Parked(BaseModel):
    """A record waiting in the table: its original bytes and provenance, and why it waits."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int | None
    routed_key: bytes | None
    code: str
    message: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    #: None: until woken (a paused entity), not on a timer.
    retry_at: datetime | None

    def holds(self, record: SourceRecord) -> bool:
        """Say whether this is ``record`` (the same source topic, partition and offset)."""
        return (self.topic, self.partition, self.offset) == (
            record.topic,
            record.partition,
            record.offset,
        )

    def record(self) -> SourceRecord:
        """Return the original record, as first read."""
        return SourceRecord(
            self.topic,
            self.partition,
            self.offset,
            self.key,
            self.value,
            self.headers,
            self.timestamp_ms,
        )


_QUEUE: Final = rows_decoder(Parked)


def encode_queue(queue: tuple[Parked, ...]) -> bytes:
    """Serialise a parked queue (MessagePack, see ``streams.adapters.table_rows``)."""
    return encode_rows(queue)


def decode_queue(raw: bytes) -> tuple[Parked, ...]:
    """Read a parked queue back (also one written as JSON before)."""
    return _QUEUE(raw)
