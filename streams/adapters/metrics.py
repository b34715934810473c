"""Prometheus metrics of one worker, in a registry of our own.

Faust keeps its own sensors; ours live in a separate ``CollectorRegistry`` so
names never clash and ``/metrics`` shows only ``ledgerstream_*`` series. Names
follow the Prometheus naming guide (``ledgerstream_<noun>_<unit>``, counters end
in ``_total``, durations in seconds). Labels are bounded: logical topic,
partition, outcome, action, error code, table, toggle: never record ids.

``ledgerstream_parked_records`` counts the source records parked in this worker's
ledger partitions (waiting for reference data, an unposted entry or a paused entity).
``ledgerstream_toggle_enabled`` shows the control toggles the worker obeys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from streams.adapters import exceptions as _adapter_errors  # noqa: F401 - their codes
from streams.domain.commands import CommandAction
from streams.domain.exceptions import LedgerstreamError
from streams.domain.toggles import ToggleName, Toggles

__all__ = ["CONTENT_TYPE", "TOGGLES", "HeartbeatAges", "Metrics", "Outcome", "error_codes"]

#: The text exposition format; its charset (utf-8) is the default, and aiohttp
#: refuses a charset inside ``content_type``.
CONTENT_TYPE = "text/plain; version=0.0.4"

#: Toggles of the control topic (docs/design.md §2), each exported at 0 or 1.
TOGGLES = tuple(str(name) for name in ToggleName)

_PROCESSING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5)
_BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_END_TO_END_BUCKETS = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
)  # fmt: skip


class Outcome(StrEnum):
    """How a consumed record ended (docs/design.md §5: nothing is silently dropped)."""

    POSTED = "posted"
    HELD = "held"
    SKIPPED = "skipped"
    PARKED = "parked"
    DEAD_LETTERED = "dead_lettered"
    LOADED = "loaded"
    SYNTHETIC = "synthetic"
    #: Forwarded to its entity's ledger (stage 1); not counted, the record ends in stage 2.
    ROUTED = "routed"
    #: A parked record retried and still waiting; not counted (it was, once, as parked).
    WAITING = "waiting"


#: Outcomes an event topic can report (``loaded`` belongs to reference topics).
UNCOUNTED = frozenset({Outcome.ROUTED, Outcome.WAITING})
EVENT_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.LOADED and o not in UNCOUNTED)
REFERENCE_OUTCOMES = (Outcome.LOADED, Outcome.DEAD_LETTERED)


def error_codes() -> list[str]:
    """Every stable error code of the loaded error classes (the ``code`` label's values)."""
    codes: set[str] = set()
    pending: list[type[LedgerstreamError]] = [LedgerstreamError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(codes)


class HeartbeatAges(Collector):
    """``ledgerstream_heartbeat_age_seconds``: computed at scrape time, per partition.

    The age is the time since the newest canary processed on a partition was
    produced, so it grows without bound when the pipeline stalls silently.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._produced_at: dict[tuple[str, int], float] = {}

    def seen(self, topic: str, partition: int, produced_at: float) -> None:
        """Record that a canary produced at ``produced_at`` (epoch s) came through."""
        key = (topic, partition)
        if produced_at > self._produced_at.get(key, 0.0):
            self._produced_at[key] = produced_at

    def retain(self, partitions: set[tuple[str, int]]) -> None:
        """Forget the partitions this worker no longer owns (after a rebalance)."""
        for key in set(self._produced_at) - partitions:
            del self._produced_at[key]

    def describe(self) -> Iterable[Metric]:
        """Declare the family even before the first canary (for registry checks)."""
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        """Yield one age per partition this worker has seen a canary on."""
        family = self._family()
        now = self._clock()
        for (topic, partition), produced_at in sorted(self._produced_at.items()):
            family.add_metric([topic, str(partition)], max(0.0, now - produced_at))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "ledgerstream_heartbeat_age_seconds",
            "Seconds since the newest synthetic canary seen on the partition was produced.",
            labels=["topic", "partition"],
        )


class Metrics:
    """The worker's counters, gauges and histograms, and their text exposition."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        # `_created` series double the exposition and no query here uses them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self._clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "ledgerstream_events_consumed",
            "Records consumed, by source topic and how they ended.",
            ["topic", "outcome"],
            registry=r,
        )
        self.commands = Counter(
            "ledgerstream_commands_emitted",
            "Posting commands sent to the accounting sink, by action.",
            ["action"],
            registry=r,
        )
        self.dead_letters = Counter(
            "ledgerstream_dead_letters",
            "Records sent to the dead-letter topic, by error code.",
            ["code"],
            registry=r,
        )
        self.parked = Gauge(
            "ledgerstream_parked_records",
            "Source records parked in this worker's partitions (missing reference, paused entity).",
            registry=r,
        )
        self.record_seconds = Histogram(
            "ledgerstream_record_processing_seconds",
            "Time to decode, post, encode (or dead-letter) one record.",
            ["topic"],
            buckets=_PROCESSING_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "ledgerstream_batch_processing_seconds",
            "Time to decode, post and encode one batch of records.",
            ["topic"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "ledgerstream_end_to_end_latency_seconds",
            "From the event's own time (recorded_at) to its commands being emitted.",
            ["topic"],
            buckets=_END_TO_END_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "ledgerstream_consumer_lag_records",
            "Records behind the partition's high watermark, per assigned partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.caught_up = Gauge(
            "ledgerstream_caught_up",
            "1 while this worker has processed every record of the assigned partition up to "
            "the high watermark of its last fetch (exact, also on the embedded broker).",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "ledgerstream_assigned_partitions",
            "Partitions assigned to this worker by the consumer group.",
            registry=r,
        )
        self.rebalances = Counter(
            "ledgerstream_rebalances",
            "Consumer-group rebalances this worker took part in (new assignments).",
            registry=r,
        )
        self.reference_records = Gauge(
            "ledgerstream_reference_records",
            "Records held in each in-memory reference table.",
            ["table"],
            registry=r,
        )
        self.reference_ready = Gauge(
            "ledgerstream_reference_ready",
            "1 once the reference tables are loaded to the end of their topics.",
            registry=r,
        )
        self.toggles = Gauge(
            "ledgerstream_toggle_enabled",
            "1 while a control toggle of ledgerstream.control is on, as this worker last read it.",
            ["toggle"],
            registry=r,
        )
        self.paused_entities = Gauge(
            "ledgerstream_paused_entities",
            "Legal entities whose kill switch is on (their records are parked until resumed).",
            registry=r,
        )
        self.closed_periods = Gauge(
            "ledgerstream_closed_periods",
            "Accounting periods closed by `ledgerstream period close` (entity and period), "
            "as this worker last read ledgerstream.control.",
            registry=r,
        )
        self.reopened_periods = Gauge(
            "ledgerstream_reopened_periods",
            "Closed periods reopened by `ledgerstream period reopen` and not closed again.",
            registry=r,
        )
        self.heartbeats_sent = Counter(
            "ledgerstream_heartbeats_sent",
            "Synthetic canary events this worker produced.",
            registry=r,
        )
        self.heartbeat_failures = Counter(
            "ledgerstream_heartbeat_failures",
            "Synthetic canaries that failed in the pipeline (never dead-lettered).",
            registry=r,
        )
        # Label children cached for the per-record path (`labels()` costs a few µs).
        self._event_children: dict[tuple[str, str], Counter] = {}
        self._record_children: dict[str, Histogram] = {}
        self._command_children: dict[str, Counter] = {}
        self.heartbeat_ages = HeartbeatAges(clock)
        r.register(self.heartbeat_ages)
        self.build_info = Gauge(
            "ledgerstream_build_info",
            "Always 1; labels say which ledgerstream and posting rules run.",
            ["version", "rule_version"],
            registry=r,
        )
        for toggle in TOGGLES:
            self.toggles.labels(toggle=toggle).set(0)
        for action in CommandAction:
            self.commands.labels(action=str(action))
        for code in error_codes():
            self.dead_letters.labels(code=code)

    def declare_topics(self, *, events: Iterable[str], reference: Iterable[str]) -> None:
        """Create every topic/outcome series at 0, so rates and alerts see them from the start."""
        for topic in events:
            self.end_to_end.labels(topic=topic)
            self.record_seconds.labels(topic=topic)
            self.batch_seconds.labels(topic=topic)
            for outcome in EVENT_OUTCOMES:
                self.events.labels(topic=topic, outcome=outcome)
        for topic in reference:
            self.record_seconds.labels(topic=topic)
            for loaded in REFERENCE_OUTCOMES:
                self.events.labels(topic=topic, outcome=loaded)

    def count_event(self, topic: str, outcome: str, seconds: float) -> None:
        """Count one consumed record by outcome and observe its processing time."""
        event = self._event_children.get((topic, outcome))
        if event is None:
            event = self._event_children[(topic, outcome)] = self.events.labels(
                topic=topic, outcome=outcome
            )
        event.inc()
        timing = self._record_children.get(topic)
        if timing is None:
            timing = self._record_children[topic] = self.record_seconds.labels(topic=topic)
        timing.observe(seconds)

    def count_command(self, action: str) -> None:
        """Count one command sent to the accounting sink."""
        child = self._command_children.get(action)
        if child is None:
            child = self._command_children[action] = self.commands.labels(action=action)
        child.inc()

    def observe_end_to_end(self, topic: str, event_time: datetime) -> None:
        """Record the delay from an event's own time to its commands being emitted."""
        self.end_to_end.labels(topic=topic).observe(
            max(0.0, self._clock() - event_time.timestamp())
        )

    def set_toggles(self, toggles: Toggles) -> None:
        """Publish which control toggles are on."""
        for name in ToggleName:
            self.toggles.labels(toggle=str(name)).set(1 if toggles.enabled(name) else 0)
        self.paused_entities.set(len(toggles.paused_entities))
        self.closed_periods.set(len(toggles.closed_periods))
        self.reopened_periods.set(len(toggles.reopened_periods))

    def set_reference_sizes(self, sizes: Mapping[str, int]) -> None:
        """Publish the current size of every reference table."""
        for table, size in sizes.items():
            self.reference_records.labels(table=table).set(size)

    def set_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Publish the lag (and caught up) of each assigned partition; forget the others."""
        current = {(topic, str(partition)): lag for (topic, partition), lag in lags.items()}
        for labels in self._lag_labels() - current.keys():
            self.consumer_lag.remove(*labels)
            self.caught_up.remove(*labels)
        for (topic, partition), lag in current.items():
            self.consumer_lag.labels(topic=topic, partition=partition).set(lag)
            self.caught_up.labels(topic=topic, partition=partition).set(1 if lag == 0 else 0)

    def _lag_labels(self) -> set[tuple[str, str]]:
        return {
            (sample.labels["topic"], sample.labels["partition"])
            for family in self.consumer_lag.collect()
            for sample in family.samples
        }

    def exposition(self) -> bytes:
        """Render every series in the Prometheus text format."""
        return bytes(generate_latest(self.registry))
