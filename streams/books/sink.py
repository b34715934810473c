"""The books' Kafka loop: read commands, book a batch, answer it, then commit the offsets.

One batch at a time, in this order, so that a crash anywhere loses nothing and books
nothing twice (docs/books.md, *Crashes*):

1. read up to ``batch_size`` commands as a member of the group ``<app id>-books``;
2. a record that is not a readable command goes to ``ledgerstream.dlq`` with its
   original bytes (delivered before anything is committed);
3. book the batch in one database transaction, its acks written to the outbox in
   the same transaction (``book_batch``);
4. deliver the outbox to ``acct.ledger-acks`` and wait for the broker, then empty it;
5. commit the batch's offsets.

A crash before 3 commits re-delivers the batch: nothing was booked. A crash after 3:
the restarted books first deliver what the outbox still holds (no ack is lost), then
read the batch again, and the idempotency key answers ``EXISTS`` for what was booked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from streams.adapters.avro import AvroCodec
from streams.adapters.dlq import SourceRecord, build_dead_letter
from streams.adapters.group_reader import GroupReader
from streams.adapters.kafka_io import RecordProducer
from streams.books.booking import Incoming, book_batch
from streams.books.tables import outbox
from streams.domain.acks import AckStatus, LedgerAck
from streams.domain.exceptions import LedgerstreamError

__all__ = ["ACKS_TOPIC", "COMMANDS_TOPIC", "BooksStats", "SinkTopics", "run_books"]

_log = logging.getLogger(__name__)

COMMANDS_TOPIC = "acct.ledger-commands"
ACKS_TOPIC = "acct.ledger-acks"
DLQ_TOPIC = "ledgerstream.dlq"


@dataclass(frozen=True, slots=True)
class SinkTopics:
    """Physical names of the topics the books read and write."""

    commands: str
    acks: str
    dlq: str


@dataclass(slots=True)
class BooksStats:
    """What one run of the books did (printed at the end, counted per status)."""

    read: int = 0
    dead_lettered: int = 0
    acks_sent: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def count(self, acks: list[LedgerAck]) -> None:
        """Count a batch's answers by status."""
        for ack in acks:
            self.by_status[ack.status.value] = self.by_status.get(ack.status.value, 0) + 1

    def summary(self) -> str:
        """One line: read, answered per status, dead letters, acks delivered."""
        statuses = ", ".join(
            f"{status.value.lower()} {self.by_status.get(status.value, 0)}" for status in AckStatus
        )
        return (
            f"books: {self.read} command(s) read: {statuses}; {self.dead_lettered} dead "
            f"letter(s); {self.acks_sent} ack(s) sent"
        )


def deliver_outbox(engine: Engine, codec: AvroCodec, producer: RecordProducer, topic: str) -> int:
    """Send every ack waiting in the outbox, wait for the broker, then remove them; return how many.

    Raises:
        ProduceError: An ack was not delivered (the outbox keeps it for the next try).

    """
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.seq, outbox.c.payload).order_by(outbox.c.seq)).all()
    if not rows:
        return 0
    for row in rows:
        ack = LedgerAck.model_validate_json(row.payload)
        value = codec.encode(ACKS_TOPIC, ack.model_dump())
        producer.send(topic, ack.command_id.encode(), value)
    producer.flush()
    with engine.begin() as conn:
        conn.execute(delete(outbox).where(outbox.c.seq <= rows[-1].seq))
    return len(rows)


def run_books(
    engine: Engine,
    codec: AvroCodec,
    client_config: dict[str, str],
    topics: SinkTopics,
    *,
    group: str,
    embedded: bool,
    processor: str,
    batch_size: int = 500,
    idle_exit_seconds: float | None = None,
    stopping: Callable[[], bool] = lambda: False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BooksStats:
    """Book commands until ``stopping()`` (or, with ``idle_exit_seconds``, until idle that long).

    Args:
        engine: The books (``open_books``).
        codec: Decodes commands and encodes acks and dead letters.
        client_config: librdkafka connection settings.
        topics: The physical topic names.
        group: The consumer group (``<app id>-books``).
        embedded: Use the embedded broker's group timings.
        processor: Named in dead letters (host and group).
        batch_size: Commands per booking transaction, at most.
        idle_exit_seconds: Return once no command came for this long after joining the
            group (None: run on).
        stopping: Polled between batches; True ends the run after the batch in hand.
        now: The clock of ``decided_at`` and ``booked_at``.

    """
    stats = BooksStats()
    producer = RecordProducer(client_config)
    stats.acks_sent += deliver_outbox(engine, codec, producer, topics.acks)
    reader = GroupReader(client_config, [topics.commands], group=group, embedded=embedded)
    last_seen = time.monotonic()
    try:
        while not stopping():
            records = reader.poll(batch_size, timeout=0.5)
            if not records:
                if not reader.assigned:  # joining the group (a restart waits for its session)
                    last_seen = time.monotonic()
                elif idle_exit_seconds is not None and (
                    time.monotonic() - last_seen >= idle_exit_seconds
                ):
                    break
                continue
            last_seen = time.monotonic()
            stats.read += len(records)
            batch: list[Incoming] = []
            for record in records:
                try:
                    decoded = codec.decode(COMMANDS_TOPIC, record.value)
                    batch.append(Incoming(record.partition, record.offset, decoded.record))
                except LedgerstreamError as exc:
                    _dead_letter(codec, producer, topics.dlq, record, exc, processor=processor)
                    stats.dead_lettered += 1
            producer.flush()  # dead letters are in Kafka before the offsets move
            acks = book_batch(engine, batch, now=now())
            stats.count(acks)
            stats.acks_sent += deliver_outbox(engine, codec, producer, topics.acks)
            reader.commit(records)
            _log.info("booked a batch of %d: %s", len(records), stats.summary())
    finally:
        reader.close()
    return stats


def _dead_letter(
    codec: AvroCodec,
    producer: RecordProducer,
    topic: str,
    record: SourceRecord,
    error: BaseException,
    *,
    processor: str,
) -> None:
    letter = build_dead_letter(record, error, processor=processor)
    value: Any = codec.encode(DLQ_TOPIC, letter.envelope)
    producer.send(topic, letter.key, value, letter.headers)
