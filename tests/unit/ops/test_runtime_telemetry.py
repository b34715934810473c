"""Runtime.process as SREs see it: spans, trace ids on outputs, metrics and heartbeat canaries.

Records go through the real codec and the real time-entry handler; spans are
captured by an in-memory exporter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.avro.codec import DecodedRecord
from streams.adapters.dlq import SourceRecord
from streams.adapters.exceptions import RegistryUnavailableError
from streams.adapters.heartbeat import (
    CANARY_ID,
    INTERVAL_HEADER,
    KEY_PREFIX,
    SYNTHETIC_HEADER,
    canaries,
    canary_book,
    interval_of,
)
from streams.adapters.metrics import Metrics
from streams.adapters.tracing import RecordTracer, build_provider
from streams.agents.ledger import LedgerStage
from streams.agents.route import LEDGER_TOPIC, handle_route
from streams.agents.runtime import Output, Runtime
from streams.domain.reference import ReferenceBook
from streams.domain.toggles import Toggles
from streams.settings import Settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01".encode()


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SchemaCatalog.from_directory(Settings().schemas_dir))


def runtime(codec: AvroCodec, *, exporter: InMemorySpanExporter | None = None) -> Runtime:
    tracer = None
    if exporter is not None:
        provider = build_provider(
            [],
            service_name="ledgerstream",
            service_instance="test@host",
            service_version="0",
            processors=[SimpleSpanProcessor(exporter)],
        )
        tracer = RecordTracer(provider, consumer_group="ledgerstream-test")
    metrics = Metrics(clock=(NOW + timedelta(seconds=3)).timestamp)
    metrics.declare_topics(events=[TOPIC], reference=[])
    return Runtime(
        codec=codec,
        book=canary_book(),  # real records below use the canary's reference ids
        metrics=metrics,
        rule_version="test.1",
        topic_prefix="t1.",
        processor="test@host",
        tracer=tracer,
    )


def entry_value(entry_id: str = "TE-1") -> dict[str, Any]:
    value = canaries([0], origin="x", sequence=1, now=NOW)[0].value
    return value | {"entry_id": entry_id}


def record(
    value: bytes | None,
    *,
    key: bytes = b"TE-1",
    headers: list[tuple[str, bytes | None]] | None = None,
    offset: int = 7,
) -> SourceRecord:
    return SourceRecord(
        "t1.pm.time-entries",
        2,
        offset,
        key,
        value,
        headers or [],
        timestamp_ms=int(NOW.timestamp() * 1000),
    )


def samples(rt: Runtime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    result = {}
    for family in text_string_to_metric_families(rt.metrics.exposition().decode()):
        for sample in family.samples:
            result[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return result


def consumed(rt: Runtime, outcome: str) -> float:
    return samples(rt)[
        ("ledgerstream_events_consumed_total", (("outcome", outcome), ("topic", TOPIC)))
    ]


TOPIC = "pm.time-entries"


def handle(rt: Runtime) -> Any:
    """Stage 2's handler over an empty in-memory table, for a record routed to its ledger."""
    stage = LedgerStage(rt)
    stage.load(0, {})
    return stage.handler(0, f"{CANARY_ID}/customer/{CANARY_ID}".encode())  # the canary's key


def commands_only(outputs: list[Output]) -> list[Output]:
    """The posting commands among a record's outputs (not its sync feedback)."""
    return [o for o in outputs if o.topic.endswith("acct.ledger-commands")]


def test_a_posted_record_continues_the_upstream_trace_into_its_commands(
    codec: AvroCodec,
) -> None:
    exporter = InMemorySpanExporter()
    rt = runtime(codec, exporter=exporter)
    raw = codec.encode(TOPIC, entry_value())
    rec = record(raw, headers=[("traceparent", TRACEPARENT), ("source", b"pm")])

    outputs = commands_only(rt.process(rec, handle(rt)))

    (span,) = exporter.get_finished_spans()
    assert span.name == "process pm.time-entries"
    assert span.kind is SpanKind.CONSUMER
    assert format(span.context.trace_id, "032x") == UPSTREAM_TRACE
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == UPSTREAM_SPAN
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "t1.pm.time-entries",
        "messaging.destination.partition.id": "2",
        "messaging.kafka.offset": 7,
        "messaging.consumer.group.name": "ledgerstream-test",
        "messaging.kafka.message.key": "TE-1",
        "ledgerstream.outcome": "posted",
    }
    assert span.resource.attributes["service.name"] == "ledgerstream"
    span_id = format(span.context.span_id, "016x")
    assert [o.topic for o in outputs] == ["t1.acct.ledger-commands"] * 2  # revenue + cost
    for output in outputs:
        # the upstream traceparent is replaced by the processor's; other headers stay
        assert output.headers == [
            ("source", b"pm"),
            ("traceparent", f"00-{UPSTREAM_TRACE}-{span_id}-01".encode()),
        ]
        command = codec.decode("acct.ledger-commands", output.value).record
        assert (command["trace_id"], command["span_id"]) == (UPSTREAM_TRACE, span_id)
    assert consumed(rt, "posted") == 1
    assert samples(rt)[("ledgerstream_commands_emitted_total", (("action", "POST"),))] == 2


def test_a_failed_record_has_the_exception_on_its_span_and_its_trace_in_the_dead_letter(
    codec: AvroCodec,
) -> None:
    exporter = InMemorySpanExporter()
    rt = runtime(codec, exporter=exporter)
    rec = record(b"\x07not avro", headers=[("traceparent", TRACEPARENT)])

    (output,) = rt.process(rec, handle(rt))

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "BAD_MAGIC_BYTE"
    assert (span.attributes or {})["ledgerstream.outcome"] == "dead_lettered"
    (event,) = span.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"].endswith("BadMagicByteError")
    letter = codec.decode("ledgerstream.dlq", output.value).record
    span_id = format(span.context.span_id, "016x")
    assert (letter["trace_id"], letter["span_id"]) == (UPSTREAM_TRACE, span_id)
    assert ("traceparent", f"00-{UPSTREAM_TRACE}-{span_id}-01".encode()) in output.headers
    assert letter["headers"] == [{"key": "traceparent", "value": TRACEPARENT}]  # as it came
    assert consumed(rt, "dead_lettered") == 1
    assert samples(rt)[("ledgerstream_dead_letters_total", (("code", "BAD_MAGIC_BYTE"),))] == 1


def test_without_a_tracer_outputs_keep_the_incoming_headers_and_carry_no_trace_ids(
    codec: AvroCodec,
) -> None:
    rt = runtime(codec)
    rec = record(codec.encode(TOPIC, entry_value()), headers=[("traceparent", TRACEPARENT)])

    outputs = commands_only(rt.process(rec, handle(rt)))

    assert len(outputs) == 2
    for output in outputs:
        assert output.headers == [("traceparent", TRACEPARENT)]  # passed through untouched
        command = codec.decode("acct.ledger-commands", output.value).record
        assert (command["trace_id"], command["span_id"]) == (None, None)


def test_a_record_without_traceparent_starts_a_new_trace(codec: AvroCodec) -> None:
    exporter = InMemorySpanExporter()
    rt = runtime(codec, exporter=exporter)

    rt.process(record(codec.encode(TOPIC, entry_value())), handle(rt))

    (span,) = exporter.get_finished_spans()
    assert span.parent is None


def test_end_to_end_latency_runs_from_the_event_time_to_the_command(codec: AvroCodec) -> None:
    rt = runtime(codec)  # its clock reads NOW + 3 s; the entry was recorded at NOW

    rt.process(record(codec.encode(TOPIC, entry_value())), handle(rt))

    latency = samples(rt)
    labels = (("topic", TOPIC),)
    assert latency[("ledgerstream_end_to_end_latency_seconds_count", labels)] == 1
    assert latency[("ledgerstream_end_to_end_latency_seconds_sum", labels)] == pytest.approx(3)
    assert latency[("ledgerstream_record_processing_seconds_count", labels)] == 1


def through_stage_one(rt: Runtime, rec: SourceRecord, partitions: int = 6) -> SourceRecord:
    """Run a record through stage 1 and return its one forward as stage 2 reads it."""
    (sent,) = rt.process(rec, lambda r: handle_route(rt, r, partitions))
    assert sent.topic == f"t1.{LEDGER_TOPIC}"
    assert sent.partition is not None
    return SourceRecord(
        sent.topic, sent.partition, 41, sent.key, sent.value, sent.headers, rec.timestamp_ms
    )


def test_a_canary_goes_through_both_stages_to_the_shadow_sink_only(codec: AvroCodec) -> None:
    exporter = InMemorySpanExporter()
    rt = runtime(codec, exporter=exporter)
    rt.book = ReferenceBook()  # nothing real: the canary posts against its own book
    (canary,) = canaries([2], origin="w1", sequence=5, now=NOW, interval_seconds=10)
    rec = record(codec.encode(TOPIC, canary.value), key=canary.key, headers=canary.headers)

    forwarded = through_stage_one(rt, rec, partitions=4)
    # stage 1 proves nothing yet: not counted, no age
    assert consumed(rt, "synthetic") == 0
    assert not any(name == "ledgerstream_heartbeat_age_seconds" for name, _ in samples(rt))
    assert forwarded.partition == 2  # the stage-2 partition of its own source partition
    stage = LedgerStage(rt)
    stage.load(2, {})
    outputs, writes = stage.run([(2, forwarded)])

    assert {o.topic for o in outputs} == {"t1.acct.ledger-commands.shadow"}  # no feedback
    commands = [codec.decode("acct.ledger-commands", o.value).record for o in outputs]
    assert commands
    assert {(str(c["action"]), c["entity_id"]) for c in commands} == {("POST", CANARY_ID)}
    assert all((SYNTHETIC_HEADER, b"1") in o.headers for o in outputs)  # sinks can filter
    assert writes == []  # nothing of a canary in the posted-records table
    assert consumed(rt, "synthetic") == 1
    assert consumed(rt, "posted") == 0
    seen = samples(rt)
    assert seen[("ledgerstream_commands_emitted_total", (("action", "POST"),))] == 0
    assert seen[("ledgerstream_end_to_end_latency_seconds_count", (("topic", TOPIC),))] == 0
    # produced at NOW (its Kafka timestamp); the clock reads NOW + 3 s
    age = ("ledgerstream_heartbeat_age_seconds", (("partition", "2"), ("topic", TOPIC)))
    assert seen[age] == pytest.approx(3)
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    assert all((span.attributes or {})["ledgerstream.synthetic"] is True for span in spans)


def test_a_canary_never_reaches_the_real_sink_whatever_the_toggles(codec: AvroCodec) -> None:
    rt = runtime(codec)
    # the canary's customer allow-listed: a real record would post for real
    rt.set_toggles(Toggles(pilot=True, allow_customers=frozenset({CANARY_ID})))
    (canary,) = canaries([0], origin="w1", sequence=1, now=NOW)
    rec = record(codec.encode(TOPIC, canary.value), key=canary.key, headers=canary.headers)
    forwarded = through_stage_one(rt, rec)
    stage = LedgerStage(rt)
    stage.load(forwarded.partition, {})

    outputs, _ = stage.run([(forwarded.partition, forwarded)])

    assert outputs
    assert {o.topic for o in outputs} == {"t1.acct.ledger-commands.shadow"}


class _RegistryDown(AvroCodec):
    """The registry cannot be asked about time entries: a real record would be parked."""

    def decode(self, topic: str, data: bytes | None) -> DecodedRecord:
        if topic == TOPIC:
            raise RegistryUnavailableError("schema registry get_schema failed: ConnectionError")
        return super().decode(topic, data)


def test_a_canary_that_cannot_post_is_a_heartbeat_failure_never_parked(codec: AvroCodec) -> None:
    rt = runtime(codec)
    (canary,) = canaries([1], origin="w1", sequence=1, now=NOW)
    rec = record(codec.encode(TOPIC, canary.value), key=canary.key, headers=canary.headers)
    forwarded = through_stage_one(rt, rec)
    rt.codec = _RegistryDown(SchemaCatalog.from_directory(Settings().schemas_dir))
    stage = LedgerStage(rt)
    stage.load(forwarded.partition, {})

    outputs, writes = stage.run([(forwarded.partition, forwarded)])

    assert outputs == []
    assert writes == []
    assert stage.parked() == {forwarded.partition: set()}
    seen = samples(rt)
    assert seen[("ledgerstream_heartbeat_failures_total", ())] == 1
    assert consumed(rt, "parked") == 0


def test_a_canary_without_its_interval_says_so() -> None:
    (canary,) = canaries([0], origin="w1", sequence=1, now=NOW)
    assert interval_of(record(None, key=canary.key, headers=canary.headers)) is None
    bad = [*canary.headers, (INTERVAL_HEADER, b"soon")]
    assert interval_of(record(None, key=canary.key, headers=bad)) is None


def test_a_failing_canary_is_counted_not_dead_lettered(codec: AvroCodec) -> None:
    rt = runtime(codec)
    (canary,) = canaries([0], origin="w1", sequence=1, now=NOW)

    outputs = rt.process(record(b"\x07broken", key=canary.key, headers=canary.headers), handle(rt))

    assert outputs == []
    seen = samples(rt)
    assert seen[("ledgerstream_heartbeat_failures_total", ())] == 1
    assert seen[("ledgerstream_dead_letters_total", (("code", "BAD_MAGIC_BYTE"),))] == 0
    assert not any(name == "ledgerstream_heartbeat_age_seconds" for name, _ in seen)


@pytest.mark.parametrize(
    ("key", "headers"),
    [
        (f"{KEY_PREFIX}w1/0".encode(), []),
        (b"TE-1", [(SYNTHETIC_HEADER, b"1")]),
    ],
    ids=["prefix-without-header", "header-without-prefix"],
)
def test_a_half_marked_record_is_dead_lettered_not_guessed_at(
    codec: AvroCodec, key: bytes, headers: list[tuple[str, bytes | None]]
) -> None:
    rt = runtime(codec)
    rec = record(codec.encode(TOPIC, entry_value()), key=key, headers=headers)

    (output,) = rt.process(rec, handle(rt))

    assert output.topic == "t1.ledgerstream.dlq"
    letter = codec.decode("ledgerstream.dlq", output.value).record
    assert letter["error_code"] == "INVALID_SYNTHETIC_MARK"
    assert consumed(rt, "dead_lettered") == 1


def test_canaries_cover_every_partition_with_both_marks_and_their_interval() -> None:
    produced = canaries(
        range(6), origin="ledgerstream@host-1", sequence=9, now=NOW, interval_seconds=2.5
    )

    assert [c.partition for c in produced] == list(range(6))
    for canary in produced:
        assert canary.key.startswith(KEY_PREFIX.encode())
        assert canary.headers == [(SYNTHETIC_HEADER, b"1"), (INTERVAL_HEADER, b"2.5")]
        assert interval_of(record(None, key=canary.key, headers=canary.headers)) == 2.5
        assert canary.value["recorded_at"] == NOW
        assert canary.value["entry_id"].endswith("/9")
