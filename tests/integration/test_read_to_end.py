"""Reading a partition to its end on the embedded broker: the last record batch whole.

The broker lists a partition's end offset as the base offset of its last record
batch + 1 (docs/embedded-broker.md), and ``getmany(max_records=...)`` may stop inside that
batch. A new owner reading the table's changelog, or the reference loader
deciding it is ready, must still see every record: they also wait for the high
watermark of the last fetch response, which is exact.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from streams.adapters.reference_loader import read_partition
from streams.adapters.topics import TopicSpec, ensure_topics
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


async def write(bootstrap: str, topic: str, batches: list[int]) -> dict[bytes, bytes]:
    """Write batches of the given sizes (each one produce request), return key -> last value."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1_000_000)
    latest: dict[bytes, bytes] = {}
    await producer.start()
    try:
        n = 0
        for size in batches:
            sent = []
            for _ in range(size):
                key, value = b"k%d" % (n % 4_000), b"v%d" % n
                latest[key] = value
                sent.append(await producer.send(topic, value, key=key, partition=0))
                n += 1
            await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return latest


def test_a_partition_is_read_to_the_end_of_its_last_batch(stack: Stack) -> None:
    topic = stack.settings.topic("test.read-to-end")
    ensure_topics(
        stack.client,
        [TopicSpec("test.read-to-end", 1, 1, {"cleanup.policy": "compact"})],
        prefix=stack.settings.topic_prefix,
        single_node=True,
    )
    bootstrap = stack.settings.kafka_bootstrap_servers or ""
    # 9,800 records, then one batch of 500 across the 10,000 records one read returns
    latest = asyncio.run(write(bootstrap, topic, [100] * 98 + [500]))

    rows = asyncio.run(read_partition({"bootstrap_servers": bootstrap}, topic, 0))

    assert len(rows) == len(latest)
    assert rows == latest
