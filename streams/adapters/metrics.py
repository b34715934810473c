"""Prometheus metrics of one worker, in a registry of our own.

Faust keeps its own sensors; ours live in a separate ``CollectorRegistry`` so
names never clash and ``/metrics`` shows only ``ledgerstream_*`` series. Labels
are bounded: topic, outcome, action, error code, table: never record ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics", "Outcome"]

#: The text exposition format; its charset (utf-8) is the default, and aiohttp
#: refuses a charset inside ``content_type``.
CONTENT_TYPE = "text/plain; version=0.0.4"


class Outcome(StrEnum):
    """How a consumed record ended (DESIGN.md §5: nothing is silently dropped)."""

    POSTED = "posted"
    HELD = "held"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"
    LOADED = "loaded"


class Metrics:
    """The worker's counters, gauges and histograms, and their text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "ledgerstream_events_consumed",
            "Records consumed, by source topic and how they ended.",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.commands = Counter(
            "ledgerstream_commands_emitted",
            "Posting commands sent to the accounting sink, by action.",
            ["action"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "ledgerstream_dead_letters",
            "Records sent to the dead-letter topic, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.reference_records = Gauge(
            "ledgerstream_reference_records",
            "Records held in each in-memory reference table.",
            ["table"],
            registry=self.registry,
        )
        self.reference_ready = Gauge(
            "ledgerstream_reference_ready",
            "1 once the reference tables are loaded to the end of their topics.",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "ledgerstream_batch_processing_seconds",
            "Time to decode, post and encode one batch of records.",
            ["topic"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )

    def set_reference_sizes(self, sizes: Mapping[str, int]) -> None:
        """Publish the current size of every reference table."""
        for table, size in sizes.items():
            self.reference_records.labels(table=table).set(size)

    def exposition(self) -> bytes:
        """Render every series in the Prometheus text format."""
        return bytes(generate_latest(self.registry))
