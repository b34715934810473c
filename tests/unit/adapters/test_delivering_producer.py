"""The worker's producer raises on a record the broker never acknowledged: never drops it."""

from __future__ import annotations

import asyncio

import pytest
from streams.adapters.broker import free_port
from streams.adapters.exceptions import ProduceError
from streams.adapters.kafka_io import DeliveringProducer


def test_an_undelivered_record_raises_instead_of_being_dropped() -> None:
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens: the record times out
    producer = DeliveringProducer(
        {"bootstrap.servers": nobody, "message.timeout.ms": "300"}, linger_ms=0
    )
    with pytest.raises(ProduceError, match="1 of 1 records failed"):
        asyncio.run(producer.deliver([("t", b"k", b"v", [], None)]))


def test_nothing_to_send_returns_at_once() -> None:
    producer = DeliveringProducer({"bootstrap.servers": f"127.0.0.1:{free_port()}"})
    asyncio.run(producer.deliver([]))
