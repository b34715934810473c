"""What every agent shares: codec, reference book, metrics and the dead-letter path.

An agent hands each consumed record to :meth:`Runtime.process` with a handler
(decode → domain rule → encode). Whatever the handler raises becomes a dead
letter carrying the original bytes, so Faust never acks a record that vanished.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from streams.adapters.avro import AvroCodec
from streams.adapters.dlq import Headers, SourceRecord, build_dead_letter
from streams.adapters.metrics import Metrics, Outcome
from streams.domain.events import parse_event
from streams.domain.exceptions import LedgerstreamError
from streams.domain.reference import ReferenceBook

M = TypeVar("M", bound=BaseModel)

DLQ_TOPIC = "ledgerstream.dlq"
COMMANDS_TOPIC = "acct.ledger-commands"


@dataclass(frozen=True, slots=True)
class Output:
    """A record to send: physical topic, key, encoded value and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)


Handled = tuple[Outcome, list[Output]]
Handler = Callable[[SourceRecord], Handled]


@dataclass(slots=True)
class Runtime:
    """The wiring one worker's agents share (built once by ``streams.app``)."""

    codec: AvroCodec
    book: ReferenceBook
    metrics: Metrics
    rule_version: str
    topic_prefix: str = ""
    processor: str = field(default_factory=socket.gethostname)

    def topic(self, logical_name: str) -> str:
        """Return the physical name of a logical topic."""
        return f"{self.topic_prefix}{logical_name}"

    def logical(self, physical_name: str) -> str:
        """Return the logical name (DESIGN.md §2) of a physical topic."""
        return physical_name.removeprefix(self.topic_prefix)

    def process(self, record: SourceRecord, handler: Handler) -> list[Output]:
        """Run one record through a handler; any failure becomes a dead letter."""
        try:
            outcome, outputs = handler(record)
        except Exception as exc:
            outcome, outputs = Outcome.DEAD_LETTERED, [self.dead_letter(record, exc)]
        self.metrics.events.labels(topic=self.logical(record.topic), outcome=outcome).inc()
        return outputs

    def decode(self, logical_topic: str, record: SourceRecord, model: type[M]) -> M:
        """Decode a record's Avro value and validate it into a domain model.

        A validation error keeps the writer schema id, so the dead letter says
        which schema version the bad record was written with.
        """
        decoded = self.codec.decode(logical_topic, record.value)
        try:
            return parse_event(model, decoded.record)
        except LedgerstreamError as exc:
            exc.schema_id = decoded.schema_id
            raise

    def dead_letter(self, record: SourceRecord, error: BaseException) -> Output:
        """Encode the dead letter of a failed record (original bytes kept)."""
        letter = build_dead_letter(record, error, processor=self.processor)
        self.metrics.dead_letters.labels(code=letter.code).inc()
        value = self.codec.encode(DLQ_TOPIC, letter.envelope)
        return Output(self.topic(DLQ_TOPIC), letter.key, value, letter.headers)
