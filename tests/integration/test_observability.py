"""What SREs rely on, against the real thing: a running worker on the embedded broker,
scraped by a real Prometheus, tracing to an OTLP/HTTP receiver.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from streams.adapters.dlq import SourceRecord
from streams.adapters.heartbeat import CANARY_ID, SYNTHETIC_HEADER
from streams.agents.route import LEDGER_TOPIC
from streams.demo.worker import WorkerProcess
from tests.integration.conftest import Stack
from tests.integration.observability import OtlpReceiver, PrometheusServer
from tests.integration.records import entry, publish_reference

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ledgerstream.json"
ENTRIES = "pm.time-entries"
SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER = 4, 5  # OTLP's SpanKind numbers
STATUS_ERROR = 2
# Metrics Prometheus writes itself for every target (not exported by the worker).
PROMETHEUS_OWN = {"up"}


def fresh_entry(eid: str, project_id: str = "P-1") -> dict[str, Any]:
    """A one-hour entry recorded now, so its end-to-end latency is seconds, not weeks."""
    return entry(eid, project_id, 60) | {"recorded_at": datetime.now(UTC)}


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def alert_queries() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression selects: `name{`, `name[` and every ledgerstream_*."""
    selectors = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", expr))
    return selectors | set(re.findall(r"\bledgerstream_[a-z0-9_]+", expr))


def exported_sample_names(worker: WorkerProcess) -> tuple[set[str], set[str]]:
    """(family names, sample names) of a live /metrics scrape."""
    body = worker.metrics_text()
    families = list(text_string_to_metric_families(body))
    samples = {f.name for f in families}
    for family in families:
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
        }.get(family.type, [])
        samples |= {family.name + suffix for suffix in suffixes}
    return {f.name for f in families}, samples


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def test_prometheus_sees_the_throughput_dlq_and_latency_of_a_running_worker(
    stack: Stack, tmp_path: Path
) -> None:
    publish_reference(stack)  # includes one customer with an unknown currency
    worker = stack.worker(
        LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS="1",
        LEDGERSTREAM_PARK_DEADLINE_SECONDS="2",  # P-404 never arrives: dead-lettered after 2 s
        LEDGERSTREAM_RETRY_FIRST_SECONDS="0.5",
    )
    worker.wait_ready()
    with PrometheusServer(
        tmp_path / "prometheus", [f"127.0.0.1:{worker.port}"], [ALERTS]
    ) as prometheus:
        prometheus.wait_scraping()  # so the counters have samples from before the events
        for i in range(40):
            stack.publish(ENTRIES, f"TE-{i}", fresh_entry(f"TE-{i}"))
        for i in range(3):
            stack.publish_raw(ENTRIES, f"TE-BAD-{i}", b"\x07not avro")
        for i in range(2):
            stack.publish(ENTRIES, f"TE-404-{i}", fresh_entry(f"TE-404-{i}", "P-404"))
        stack.flush()
        stack.wait_outcome(worker, ENTRIES, "dead_lettered", 5)

        real = f'ledgerstream_events_consumed_total{{topic="{ENTRIES}",outcome!="synthetic"}}'
        # two parked (waiting for P-404), then dead-lettered: counted when parked and when ended
        prometheus.wait_for(f"sum({real})", lambda v: v == 47)
        by_outcome = prometheus.query(f"sum by (outcome) ({real}) > 0")
        assert by_outcome == {
            frozenset({("outcome", "posted")}): 40.0,
            frozenset({("outcome", "dead_lettered")}): 5.0,
            frozenset({("outcome", "parked")}): 2.0,
        }
        # throughput as the dashboard shows it
        throughput = prometheus.value(f"sum(rate({real}[1m]))")
        assert throughput is not None
        assert throughput > 0
        commands = prometheus.query("sum by (action) (ledgerstream_commands_emitted_total)")
        assert commands == {
            frozenset({("action", "POST")}): 80.0,  # revenue + cost per posted entry
            frozenset({("action", "REVERSE")}): 0.0,
        }
        dead_letters = prometheus.query("sum by (code) (ledgerstream_dead_letters_total) > 0")
        assert dead_letters == {
            frozenset({("code", "BAD_MAGIC_BYTE")}): 3.0,
            frozenset({("code", "MISSING_REFERENCE")}): 2.0,
            frozenset({("code", "UNKNOWN_CURRENCY")}): 1.0,  # the bad customer
        }

        e2e = "ledgerstream_end_to_end_latency_seconds"
        assert prometheus.value(f'sum({e2e}_count{{topic="{ENTRIES}"}})') == 40
        p99 = prometheus.value(f"histogram_quantile(0.99, sum by (le) ({e2e}_bucket))")
        assert p99 is not None
        assert 0 < p99 <= 30, "recorded a moment before publishing; processed within seconds"
        processed = prometheus.value(
            f'sum(ledgerstream_record_processing_seconds_count{{topic="{ENTRIES}"}})'
        )
        assert processed is not None
        assert processed >= 45  # and the canaries

        # Canaries reach every partition and keep the heartbeat age fresh.
        ages = prometheus.wait_for(
            "count(ledgerstream_heartbeat_age_seconds < 15)", lambda v: v == 6
        )
        assert ages == 6
        assert prometheus.value("sum(ledgerstream_heartbeat_failures_total)") == 0

        # Every dashboard query evaluates; the alert rules are loaded and none fires
        # (the failure-rate alerts would need 2 minutes; 6 dead letters are within budget).
        for expr in dashboard_queries():
            prometheus.query(expr.replace("$__rate_interval", "1m"))
        rules = prometheus.api("rules")["groups"]
        assert {rule["name"] for group in rules for rule in group["rules"]} >= {
            "LedgerstreamHeartbeatStale",
            "LedgerstreamDeadLettersGrowing",
        }
        firing = [a for a in prometheus.api("alerts")["alerts"] if a["state"] == "firing"]
        assert firing == []


def canary_ages(worker: WorkerProcess) -> dict[int, float]:
    """``ledgerstream_heartbeat_age_seconds`` of the time-entry topic, by partition."""
    return {
        int(dict(labels)["partition"]): value
        for (name, labels), value in worker.metrics().items()
        if name == "ledgerstream_heartbeat_age_seconds" and ("topic", ENTRIES) in labels
    }


def is_synthetic(record: SourceRecord) -> bool:
    return (SYNTHETIC_HEADER, b"1") in record.headers


def test_a_heartbeat_canary_goes_through_both_stages_to_the_shadow_sink_only(
    stack: Stack,
) -> None:
    publish_reference(stack)
    worker = stack.worker(LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS="1")
    worker.wait_ready()
    stack.publish(ENTRIES, "TE-REAL", fresh_entry("TE-REAL"))
    stack.flush()
    stack.wait_outcome(worker, ENTRIES, "posted", 1)

    deadline = time.monotonic() + 60
    while len(canary_ages(worker)) < 6 and time.monotonic() < deadline:
        time.sleep(0.5)
    first = canary_ages(worker)
    assert sorted(first) == list(range(6)), worker.tail()
    time.sleep(3)
    later = canary_ages(worker)
    # the age is taken where the canary ends (stage 2): it keeps being refreshed
    assert all(later[p] < 3 for p in range(6)), later
    synthetic = worker.metrics()[
        ("ledgerstream_events_consumed_total", (("outcome", "synthetic"), ("topic", ENTRIES)))
    ]
    assert synthetic >= 6

    shadow = [r for r in stack.read("acct.ledger-commands.shadow", idle=1.0) if is_synthetic(r)]
    commands = [stack.codec.decode("acct.ledger-commands", r.value).record for r in shadow]
    assert commands, "no canary command on the shadow topic"
    assert {c["entity_id"] for c in commands} == {CANARY_ID}
    assert {c["source"]["partition"] for c in commands} == set(range(6))  # every partition
    # every stage-2 partition carried a canary
    routed = [r for r in stack.read(LEDGER_TOPIC, idle=1.0) if is_synthetic(r)]
    assert {r.partition for r in routed} == set(range(6))
    # nothing synthetic on the real sink, the dead-letter topic or the feedback topic
    real = stack.read("acct.ledger-commands", idle=1.0)
    assert real, "the real entry posted"
    assert not [r for r in real if is_synthetic(r)]
    assert CANARY_ID not in {
        stack.codec.decode("acct.ledger-commands", r.value).record["entity_id"] for r in real
    }
    for topic in ("ledgerstream.dlq", "pm.sync-feedback"):
        assert not [r for r in stack.read(topic, idle=1.0) if is_synthetic(r)], topic
    assert worker.metrics()[("ledgerstream_heartbeat_failures_total", ())] == 0


def test_dashboard_and_alert_rules_use_only_metrics_the_worker_exports(stack: Stack) -> None:
    publish_reference(stack)
    worker = stack.worker()
    worker.wait_ready()

    families, samples = exported_sample_names(worker)

    assert families, "the worker exported nothing"
    assert all(name.startswith("ledgerstream_") for name in families), families
    for source, queries in (("dashboard", dashboard_queries()), ("alerts", alert_queries())):
        used = set().union(*(metric_names(expr) for expr in queries))
        unknown = used - samples - PROMETHEUS_OWN
        assert not unknown, f"{source} refers to metrics the worker does not export: {unknown}"
    # and the dashboard shows the series the issue asks for
    shown = set().union(*(metric_names(expr) for expr in dashboard_queries()))
    for wanted in (
        "ledgerstream_events_consumed_total",
        "ledgerstream_consumer_lag_records",
        "ledgerstream_end_to_end_latency_seconds_bucket",
        "ledgerstream_dead_letters_total",
        "ledgerstream_parked_records",
        "ledgerstream_heartbeat_age_seconds",
        "ledgerstream_toggle_enabled",
    ):
        assert wanted in shown, wanted


def test_one_trace_runs_from_the_producer_through_the_processor_to_the_command(
    stack: Stack, receiver: OtlpReceiver
) -> None:
    publish_reference(stack)
    worker = stack.worker(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_SERVICE_NAME="ledgerstream",
    )
    worker.wait_ready()

    # The upstream producer traces its own send and puts traceparent on the record.
    provider = TracerProvider(resource=Resource.create({"service.name": "pm-producer"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces"))
    )
    tracer = provider.get_tracer("pm")
    sent: dict[str, tuple[str, str]] = {}
    topic = stack.settings.topic(ENTRIES)
    for key, raw in (
        ("TE-1", stack.codec.encode(ENTRIES, fresh_entry("TE-1"))),
        ("TE-BAD", b"\x07not avro"),
    ):
        with tracer.start_as_current_span(f"send {ENTRIES}", kind=SpanKind.PRODUCER) as span:
            carrier: dict[str, str] = {}
            inject(carrier)
            headers = [(k, v.encode()) for k, v in carrier.items()]
            stack.producer.send(topic, key.encode(), raw, headers)
            context = span.get_span_context()
            sent[key] = (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    stack.flush()
    provider.shutdown()
    stack.wait_consumed(worker, ENTRIES, 2)

    # The command carries the trace forward: traceparent header and ids in the body.
    good_trace, producer_span = sent["TE-1"]
    commands = [r for r in stack.read("acct.ledger-commands")]
    assert len(commands) == 2
    process_span_ids = set()
    for record in commands:
        traceparent = dict(record.headers)["traceparent"]
        assert traceparent is not None
        version, trace_id, span_id, _flags = traceparent.decode().split("-")
        assert (version, trace_id) == ("00", good_trace)
        assert span_id != producer_span
        command = stack.codec.decode("acct.ledger-commands", record.value).record
        assert (command["trace_id"], command["span_id"]) == (trace_id, span_id)
        process_span_ids.add(span_id)
    (process_span_id,) = process_span_ids
    offset = stack.codec.decode("acct.ledger-commands", commands[0].value).record["source"]

    # producer -> process pm.time-entries (stage 1, routes) -> process ledger-events (posts)
    receiver.wait_for(lambda r: len(r.in_trace(good_trace)) >= 3)
    spans = {s.span_id: s for s in receiver.in_trace(good_trace)}
    assert len(spans) == 3, "one connected trace"
    producer, process = spans.pop(producer_span), spans.pop(process_span_id)
    (route,) = spans.values()
    assert (producer.service, producer.kind) == ("pm-producer", SPAN_KIND_PRODUCER)
    assert route.parent_span_id == producer_span
    assert process.parent_span_id == route.span_id
    assert (route.name, route.kind, route.service) == (
        f"process {ENTRIES}",
        SPAN_KIND_CONSUMER,
        "ledgerstream",
    )
    assert route.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(offset["partition"]),
        "messaging.kafka.offset": offset["offset"],
        "messaging.consumer.group.name": stack.settings.app_id,
        "messaging.kafka.message.key": "TE-1",
        "ledgerstream.outcome": "routed",
    }
    assert (process.name, process.kind) == (f"process {LEDGER_TOPIC}", SPAN_KIND_CONSUMER)
    assert process.attributes["messaging.destination.name"] == stack.settings.topic(LEDGER_TOPIC)
    # keyed by ledger unit: the entity and the project's customer
    assert process.attributes["messaging.kafka.message.key"] == "US01/customer/C-1"
    assert process.attributes["ledgerstream.outcome"] == "posted"

    # The failing record: exception on its span, trace id in the dead letter.
    bad_trace, bad_producer_span = sent["TE-BAD"]
    (letter_record,) = [r for r in stack.read("ledgerstream.dlq") if r.key == b"TE-BAD"]
    letter = stack.codec.decode("ledgerstream.dlq", letter_record.value).record
    assert letter["error_code"] == "BAD_MAGIC_BYTE"
    assert letter["trace_id"] == bad_trace
    receiver.wait_for(lambda r: len(r.in_trace(bad_trace)) >= 2)
    (failed,) = [s for s in receiver.in_trace(bad_trace) if s.span_id != bad_producer_span]
    assert failed.span_id == letter["span_id"]
    assert failed.parent_span_id == bad_producer_span
    assert failed.status_code == STATUS_ERROR
    assert failed.attributes["error.type"] == "BAD_MAGIC_BYTE"
    assert failed.attributes["ledgerstream.outcome"] == "dead_lettered"
    ((event_name, event),) = failed.events
    assert event_name == "exception"
    assert event["exception.type"].endswith("BadMagicByteError")
    assert "Traceback" in event["exception.stacktrace"]
    letter_parent = dict(letter_record.headers)["traceparent"]
    assert letter_parent is not None
    assert letter_parent.startswith(f"00-{bad_trace}-{failed.span_id}-".encode())
