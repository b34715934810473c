"""Load compacted reference topics whole into memory, then follow them live.

Every worker needs every reference record (a project's entity may live on any
partition), so this is a group-less ``aiokafka`` consumer that assigns all
partitions and seeks to the beginning: the pattern docs/embedded-broker.md found right at
start-up, for live updates and after restarts. (Faust's ``GlobalTable`` over an
external topic hangs; see docs/embedded-broker.md.)

Readiness: the end offsets are taken once at start; the loader is ready when
its position on every partition has reached them, and also the high watermark
that the last fetch response reported. The second matters on the embedded
broker, whose listed end offset is the base offset of the last record batch + 1
(docs/embedded-broker.md): ``getmany(max_records=...)`` can stop inside that batch, and a
read that trusted the listed offset lost the batch's tail (measured: 61 of
7,616 keys wrong after 60,061 writes; exact with the fetch's watermark).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.adapters.exceptions import KafkaAdminError

_log = logging.getLogger(__name__)

RecordHandler = Callable[[str, bytes | None, bytes | None], None]


class ReferenceLoader:
    """Feed every record of the given topics to a handler, from offset 0 onwards."""

    def __init__(
        self,
        client_config: Mapping[str, Any],
        topics: Sequence[str],
        on_record: RecordHandler,
        *,
        on_ready: Callable[[], None] | None = None,
        poll_timeout_ms: int = 200,
    ) -> None:
        self._config = dict(client_config)
        self._topics = list(topics)
        self._on_record = on_record
        self._on_ready = on_ready
        self._poll_timeout_ms = poll_timeout_ms
        self.ready = asyncio.Event()
        self.records_read = 0

    async def run(self) -> None:
        """Read to the end, signal readiness, then keep applying live updates."""
        consumer = AIOKafkaConsumer(
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **self._config
        )
        try:
            await consumer.start()
            partitions = await self._assign_all(consumer)
            targets = await consumer.end_offsets(partitions)
            _log.info("loading reference data up to %s", {str(k): v for k, v in targets.items()})
            await self._check_ready(consumer, targets)
            while True:
                batches = await consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self._on_record(record.topic, record.key, record.value)
                    self.records_read += len(records)
                if not self.ready.is_set():
                    await self._check_ready(consumer, targets)
        except KafkaError as exc:
            raise KafkaAdminError(f"reference loader failed: {exc}") from exc
        finally:
            await consumer.stop()

    async def _assign_all(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        await consumer.topics()  # refreshes metadata
        partitions: list[TopicPartition] = []
        for topic in self._topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                raise KafkaAdminError(
                    f"reference topic {topic} does not exist: run `ledgerstream topics create`"
                )
            partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return partitions

    async def _check_ready(
        self, consumer: AIOKafkaConsumer, targets: Mapping[TopicPartition, int]
    ) -> None:
        for tp, end in targets.items():
            if await consumer.position(tp) < max(end, consumer.highwater(tp) or 0):
                return
        self.ready.set()
        _log.info("reference data loaded: %d records", self.records_read)
        if self._on_ready is not None:
            self._on_ready()


async def read_partition(
    client_config: Mapping[str, Any], topic: str, partition: int
) -> dict[bytes, bytes]:
    """Read one partition of a compacted topic from its start to its end, as key -> value.

    The end is the partition's end offset at the call: everything delivered before
    it is read (a later value of a key replaces an earlier one; a tombstone removes
    it). Records without a key are ignored.
    """
    rows: dict[bytes, bytes] = {}

    def keep(records: Sequence[tuple[bytes | None, bytes | None]]) -> None:
        for key, value in records:
            if key is None:
                continue
            if value is None:
                rows.pop(key, None)
            else:
                rows[key] = value

    await read_from(client_config, topic, partition, lambda _end: 0, keep)
    return rows


async def read_from(
    client_config: Mapping[str, Any],
    topic: str,
    partition: int,
    start: Callable[[int], int],
    sink: Callable[[Sequence[tuple[bytes | None, bytes | None]]], None],
) -> int:
    """Feed one partition's records (key, value) to ``sink`` in order, from an offset to its end.

    Args:
        client_config: aiokafka client settings.
        topic: The topic.
        partition: Its partition.
        start: Given the partition's end offset at the call, returns the offset to
            read from (a checkpoint, or 0).
        sink: Called with each fetched run of records, in offset order.

    Returns:
        The end offset listed at the call: everything before it was read. (On the
        embedded broker it may be lower than the last offset read, never higher.)

    """
    consumer = AIOKafkaConsumer(
        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **client_config
    )
    tp = TopicPartition(topic, partition)
    try:
        await consumer.start()
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        first = start(end)
        if first <= 0:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, first)
        while await consumer.position(tp) < max(end, consumer.highwater(tp) or 0):
            batches = await consumer.getmany(tp, timeout_ms=500, max_records=10_000)
            records = batches.get(tp, [])
            if records:
                sink([(record.key, record.value) for record in records])
    except KafkaError as exc:
        raise KafkaAdminError(f"cannot read {topic}[{partition}]: {exc}") from exc
    finally:
        await consumer.stop()
    return int(end)


async def end_offsets(
    client_config: Mapping[str, Any], topic: str, partitions: Sequence[int]
) -> dict[int, int]:
    """Return the listed end offset of some partitions of a topic."""
    consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **client_config)
    tps = [TopicPartition(topic, p) for p in partitions]
    try:
        await consumer.start()
        found = await consumer.end_offsets(tps)
    except KafkaError as exc:
        raise KafkaAdminError(f"cannot list the end offsets of {topic}: {exc}") from exc
    finally:
        await consumer.stop()
    return {tp.partition: int(offset) for tp, offset in found.items()}
