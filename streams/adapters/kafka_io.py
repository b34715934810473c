"""Plain confluent-kafka producing and reading: the worker's outputs, tools, the demo, tests.

The worker sends every output (commands, feedback, dead letters, stage 2's rows)
through :class:`DeliveringProducer` and awaits its delivery reports before the
batch's offsets can be committed. The rest is for everything around it:
publishing sample or upstream records, and reading a topic back from offset 0
(or from the first record at or after a timestamp, by ``offsets_for_times``).
Reading uses ``assign()`` (no group join) and stops when the topic has been
idle for a while: high watermarks are not trusted (docs/embedded-broker.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as ConfluentTopicPartition

from streams.adapters.dlq import SourceRecord
from streams.adapters.exceptions import KafkaAdminError, ProduceError

_log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes | None]]

#: How long a reader waits for the cluster's first answer (topic metadata).
METADATA_TIMEOUT_SECONDS = 10.0


class RecordProducer:
    """Produce raw records and fail loudly on any delivery error (never drop)."""

    def __init__(self, client_config: Mapping[str, str], *, linger_ms: int = 5) -> None:
        self._producer = Producer(
            {**client_config, "linger.ms": linger_ms, "enable.idempotence": False, "logger": _log}
        )
        self._errors: list[str] = []
        self.delivered = 0

    def _on_delivery(self, error: KafkaError | None, _message: object) -> None:
        if error is not None:
            self._errors.append(f"{error.name()}: {error.str()}")
        else:
            self.delivered += 1

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        *,
        partition: int | None = None,
    ) -> None:
        """Queue one record; back-pressure waits for the local queue to drain.

        ``partition`` pins the record to a partition (a re-driven record goes back
        where it was first read); by default the producer's partitioner picks it.
        """
        placement: dict[str, Any] = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=list(headers),
                    on_delivery=self._on_delivery,
                    **placement,
                )
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued record is delivered, or raise ``ProduceError``."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise ProduceError(f"{remaining} records not delivered within {timeout}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise ProduceError(f"{len(errors)} records failed: {errors[0]}")


#: One record to send: topic, key, value, headers, partition (None: by key).
Outgoing = tuple[str, bytes | None, bytes | None, Headers, int | None]


class DeliveringProducer:
    """Send records from asyncio code and return once the broker acknowledged every one.

    A worker's agent awaits ``deliver`` before it takes its next batch, so no offset
    is committed past a record whose outputs are not in Kafka. A delivery error (or
    a record still unacknowledged after ``timeout``) raises ``ProduceError``: the
    caller stops the worker, never drops the record. confluent-kafka batches and
    sends from librdkafka's own threads, about twice as fast as Faust's producer
    path measured on the same load; the wait for acknowledgements runs in a thread.
    """

    def __init__(
        self, client_config: Mapping[str, str], *, linger_ms: int = 10, timeout: float = 60.0
    ) -> None:
        # murmur2_random: a key lands where Java clients and Faust (aiokafka) put it, so
        # a stage-2 key keeps its partition whichever of them wrote it.
        self._producer = Producer(
            {
                **client_config,
                "linger.ms": linger_ms,
                "enable.idempotence": False,
                "partitioner": "murmur2_random",
                "logger": _log,
            }
        )
        self._timeout = timeout

    async def deliver(self, records: Sequence[Outgoing]) -> None:
        """Send the records and wait until each is acknowledged, or raise ``ProduceError``."""
        if not records:
            return
        errors: list[str] = []
        acked = [0]

        def on_delivery(error: KafkaError | None, _message: object) -> None:
            if error is None:
                acked[0] += 1
            else:
                errors.append(f"{error.name()}: {error.str()}")

        loop = asyncio.get_running_loop()
        for topic, key, value, headers, partition in records:
            placement: dict[str, Any] = {} if partition is None else {"partition": partition}
            while True:
                try:
                    self._producer.produce(
                        topic,
                        value=value,
                        key=key,
                        headers=list(headers),
                        on_delivery=on_delivery,
                        **placement,
                    )
                    break
                except BufferError:  # the local queue is full: let it drain
                    await loop.run_in_executor(None, self._producer.poll, 0.1)
        self._producer.poll(0)
        deadline = time.monotonic() + self._timeout
        while acked[0] + len(errors) < len(records) and time.monotonic() < deadline:
            # flush serves every delivery report (of concurrent callers too) until done
            await loop.run_in_executor(None, self._producer.flush, 0.5)
        if errors:
            raise ProduceError(f"{len(errors)} of {len(records)} records failed: {errors[0]}")
        if acked[0] < len(records):
            missing = len(records) - acked[0]
            raise ProduceError(f"{missing} records not delivered within {self._timeout}s")


class TopicReader:
    """Read topics from offset 0 by ``assign()``: no group, nothing committed.

    With ``since_ms`` each partition is read from its first record whose
    timestamp is at or after that instant (``offsets_for_times``); a partition
    with no such record is not read at all.
    """

    def __init__(
        self,
        client_config: Mapping[str, str],
        topics: Sequence[str],
        *,
        since_ms: int | None = None,
    ) -> None:
        self._consumer = Consumer(
            {
                **client_config,
                "group.id": "ledgerstream-reader",
                "enable.auto.commit": False,
                "logger": _log,
            }
        )
        try:
            metadata = self._consumer.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
        except KafkaException as exc:
            self._consumer.close()
            raise KafkaAdminError.from_kafka(exc, "list topics") from exc
        assignment = []
        for topic in topics:
            if topic not in metadata.topics:
                self._consumer.close()
                raise KafkaAdminError(f"topic {topic} does not exist")
            assignment += [
                ConfluentTopicPartition(topic, p, OFFSET_BEGINNING)
                for p in metadata.topics[topic].partitions
            ]
        if since_ms is not None and assignment:
            assignment = self._starting_at(assignment, since_ms)
        self._consumer.assign(assignment)

    def _starting_at(
        self, partitions: list[ConfluentTopicPartition], since_ms: int
    ) -> list[ConfluentTopicPartition]:
        """Keep the partitions that hold a record at or after ``since_ms``, positioned on it."""
        wanted = [ConfluentTopicPartition(tp.topic, tp.partition, since_ms) for tp in partitions]
        try:
            found = self._consumer.offsets_for_times(wanted, timeout=10)
        except KafkaException as exc:
            self._consumer.close()
            raise KafkaAdminError.from_kafka(exc, "offsets for times") from exc
        return [tp for tp in found if tp.offset >= 0]  # -1: nothing that recent

    def poll(self, timeout: float = 0.2, max_records: int = 500) -> list[SourceRecord]:
        """Return the records available now (waiting at most ``timeout`` seconds)."""
        records = []
        for message in self._consumer.consume(max_records, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaAdminError.from_kafka(KafkaException(error), "read")
            _kind, timestamp = message.timestamp()
            headers = message.headers() or []
            records.append(
                SourceRecord(
                    topic=cast(str, message.topic()),
                    partition=cast(int, message.partition()),
                    offset=cast(int, message.offset()),
                    key=message.key(),
                    value=message.value(),
                    headers=[
                        (k, v.encode() if isinstance(v, str) else v)
                        for k, v in (headers.items() if isinstance(headers, dict) else headers)
                    ],
                    timestamp_ms=timestamp if timestamp > 0 else None,
                )
            )
        return records

    def close(self) -> None:
        """Leave the topics (nothing to commit)."""
        self._consumer.close()


def read_topics(
    client_config: Mapping[str, str],
    topics: Sequence[str],
    *,
    idle_seconds: float = 2.0,
    max_seconds: float = 60.0,
    since_ms: int | None = None,
) -> Generator[SourceRecord, None, None]:
    """Yield every record of the topics from offset 0 until idle for ``idle_seconds``.

    ``since_ms`` starts each partition at its first record at or after that
    instant (epoch milliseconds) instead of offset 0.
    """
    reader = TopicReader(client_config, topics, since_ms=since_ms)
    try:
        deadline = time.monotonic() + max_seconds
        last_seen = time.monotonic()
        while time.monotonic() - last_seen < idle_seconds and time.monotonic() < deadline:
            records = reader.poll()
            if records:
                last_seen = time.monotonic()
            yield from records
    finally:
        reader.close()


def first_offsets_at(
    client_config: Mapping[str, str],
    starts: Mapping[tuple[str, int], int],
    at_ms: int,
    *,
    idle_seconds: float = 1.0,
    max_seconds: float = 120.0,
) -> dict[tuple[str, int], int | None]:
    """Find each partition's first record at or after ``at_ms``, reading forward from a start.

    ``starts`` is where to begin (typically the broker's ``offsets_for_times``
    answer; a negative start means "no record that recent" and is kept as None).
    A partition read until idle without such a record is None too.
    """
    found: dict[tuple[str, int], int | None] = {tp: None for tp in starts}
    pending = {tp: offset for tp, offset in starts.items() if offset >= 0}
    if not pending:
        return found
    consumer = Consumer(
        {
            **client_config,
            "group.id": "ledgerstream-reader",
            "enable.auto.commit": False,
            "logger": _log,
        }
    )
    try:
        consumer.assign([ConfluentTopicPartition(t, p, o) for (t, p), o in pending.items()])
        deadline = time.monotonic() + max_seconds
        last_seen = time.monotonic()
        while pending and time.monotonic() - last_seen < idle_seconds:
            if time.monotonic() > deadline:
                raise KafkaAdminError(f"no answer within {max_seconds:.0f}s for {sorted(pending)}")
            for message in consumer.consume(500, timeout=0.2):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaAdminError.from_kafka(KafkaException(error), "read")
                tp = (cast(str, message.topic()), cast(int, message.partition()))
                if tp not in pending:
                    continue
                last_seen = time.monotonic()
                _kind, timestamp = message.timestamp()
                if timestamp >= at_ms:
                    found[tp] = cast(int, message.offset())
                    del pending[tp]
                    consumer.pause([ConfluentTopicPartition(*tp)])
    finally:
        consumer.close()
    return found


def log_ends(
    client_config: Mapping[str, str],
    starts: Mapping[tuple[str, int], tuple[int, int]],
    *,
    max_seconds: float = 30.0,
) -> dict[tuple[str, int], tuple[int, int]]:
    """Find each partition's exact end and how many real records lie between a position and it.

    ``starts`` maps a partition to ``(listed end, from)``: the end ``list_offsets``
    answered and the offset from which to count records (a group's committed
    offset). On the embedded broker the listed end is the last batch's base
    offset + 1 (docs/embedded-broker.md): the partition is read from
    ``min(from, listed end - 1)`` until the consumer reaches the end of the last
    fetch, whose high watermark is exact; on Apache Kafka that reads at most the
    records counted. Heartbeat canaries (header ``ledgerstream-synthetic``) are not
    counted.

    Returns:
        Per partition ``(exact end, real records at or after from)``.

    """
    found: dict[tuple[str, int], tuple[int, int]] = {}
    pending: dict[tuple[str, int], int] = {}
    for tp, (listed, start) in starts.items():
        begin = max(0, min(start, listed - 1))
        if listed <= 0 or begin >= listed:
            found[tp] = (max(listed, 0), 0)
        else:
            found[tp] = (listed, 0)
            pending[tp] = begin
    if not pending:
        return found
    consumer = Consumer(
        {
            **client_config,
            "group.id": "ledgerstream-status",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "logger": _log,
        }
    )
    try:
        consumer.assign([ConfluentTopicPartition(t, p, o) for (t, p), o in pending.items()])
        deadline = time.monotonic() + max_seconds
        while pending:
            if time.monotonic() > deadline:
                raise KafkaAdminError(
                    f"end not reached within {max_seconds:.0f}s: {sorted(pending)}"
                )
            for message in consumer.consume(500, timeout=0.2):
                tp = (cast(str, message.topic()), cast(int, message.partition()))
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaAdminError.from_kafka(KafkaException(error), "read")
                    pending.pop(tp, None)
                    continue
                if tp not in pending:
                    continue
                offset = cast(int, message.offset())
                end, real = found[tp]
                headers = cast(list[tuple[str, bytes]], message.headers() or [])
                synthetic = any(key == "ledgerstream-synthetic" for key, _ in headers)
                counted = offset >= starts[tp][1] and not synthetic
                found[tp] = (max(end, offset + 1), real + (1 if counted else 0))
    finally:
        consumer.close()
    return found
