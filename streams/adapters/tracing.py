"""Traces: one span per consumed record, continuing the producer's trace across Kafka.

Each record gets a ``process <topic>`` span (kind CONSUMER) with the
OpenTelemetry messaging attributes. The W3C ``traceparent`` of the incoming
record makes it a child of the upstream producer's span, so one trace runs from
the producer through the processor; the span's own ``traceparent`` replaces the
incoming one on every command and dead letter sent, and its trace and span ids
go into the command and the dead-letter envelope. A failure is recorded on the
span as an exception event with status ERROR and ``error.type`` = the error code.

Cost: with tracing off (``OTEL_TRACES_EXPORTER=none``, the default) no tracer
exists and callers skip span creation entirely. With it on, spans end into a
``BatchSpanProcessor``: exporting happens on its own thread, never per record.
The provider is configured from the standard environment by the SDK itself
(endpoint, headers, sampler, batch sizes; see ``streams.settings``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Final

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from streams.adapters.dlq import Headers, SourceRecord

__all__ = [
    "EXPORTERS",
    "TRACE_HEADERS",
    "RecordSpan",
    "RecordTracer",
    "build_provider",
    "traced_headers",
]

_log = logging.getLogger(__name__)

#: The exporters ``OTEL_TRACES_EXPORTER`` may name (``none`` = tracing off).
EXPORTERS: Final = ("otlp", "console")
TRACE_HEADERS: Final = frozenset({"traceparent", "tracestate"})
SCOPE: Final = "ledgerstream"

# OpenTelemetry semantic conventions for messaging (Kafka), semconv 1.3x names.
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_DESTINATION_NAME: Final = "messaging.destination.name"
MESSAGING_PARTITION_ID: Final = "messaging.destination.partition.id"
MESSAGING_CONSUMER_GROUP: Final = "messaging.consumer.group.name"
MESSAGING_KAFKA_OFFSET: Final = "messaging.kafka.offset"
MESSAGING_KAFKA_KEY: Final = "messaging.kafka.message.key"
MESSAGING_KAFKA_TOMBSTONE: Final = "messaging.kafka.message.tombstone"
ERROR_TYPE: Final = "error.type"
OUTCOME: Final = "ledgerstream.outcome"
SYNTHETIC: Final = "ledgerstream.synthetic"


def build_provider(
    exporters: Sequence[str],
    *,
    service_name: str,
    service_instance: str,
    service_version: str,
    processors: Iterable[SpanProcessor] = (),
) -> TracerProvider:
    """Build the tracer provider of a worker: resource, sampler and exporters.

    Args:
        exporters: Names from ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``); each
            gets a ``BatchSpanProcessor``. The OTLP exporter reads its endpoint,
            headers, timeout and compression from ``OTEL_EXPORTER_OTLP_*``.
        service_name: ``service.name`` of the spans.
        service_instance: ``service.instance.id`` (the worker, ``app@host``).
        service_version: ``service.version`` (the ledgerstream release).
        processors: Extra span processors (tests use an in-memory exporter).

    Raises:
        ValueError: An exporter name is unknown.

    """
    unknown = sorted(set(exporters) - set(EXPORTERS))
    if unknown:
        raise ValueError(f"unknown OTEL_TRACES_EXPORTER {unknown}: use none, otlp or console")
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.instance.id": service_instance,
            "service.version": service_version,
        }
    )
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER, by the SDK
    for name in exporters:
        exporter: SpanExporter = OTLPSpanExporter() if name == "otlp" else ConsoleSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


class _HeaderGetter(Getter[Sequence[tuple[str, bytes | None]]]):
    """Read W3C trace-context headers from a Kafka record's header list."""

    def get(self, carrier: Sequence[tuple[str, bytes | None]], key: str) -> list[str] | None:
        values = [v.decode("latin-1") for k, v in carrier if v is not None and k.lower() == key]
        return values or None

    def keys(self, carrier: Sequence[tuple[str, bytes | None]]) -> list[str]:
        return [k for k, _ in carrier]


_GETTER = _HeaderGetter()
_PROPAGATOR = TraceContextTextMapPropagator()


class RecordSpan:
    """The span of one record, and what it puts on the outputs of that record."""

    __slots__ = ("_headers", "span", "span_id", "trace_id")

    def __init__(self, span: Span) -> None:
        self.span = span
        context = span.get_span_context()
        self.trace_id = format(context.trace_id, "032x")
        self.span_id = format(context.span_id, "016x")
        headers: Headers = [
            (
                "traceparent",
                f"00-{self.trace_id}-{self.span_id}-{int(context.trace_flags):02x}".encode(),
            )
        ]
        state = context.trace_state.to_header() if context.trace_state else ""
        if state:
            headers.append(("tracestate", state.encode()))
        self._headers = headers

    @property
    def headers(self) -> Headers:
        """The W3C trace-context headers that make an output a child of this span."""
        return list(self._headers)

    def fail(self, error: BaseException, code: str) -> None:
        """Record the exception on the span and mark it failed with its error code."""
        self.span.record_exception(error)
        self.span.set_attribute(ERROR_TYPE, code)
        self.span.set_status(Status(StatusCode.ERROR, f"{code}: {error}"[:500]))

    def end(self, outcome: str, *, synthetic: bool = False) -> None:
        """Close the span with the record's outcome."""
        self.span.set_attribute(OUTCOME, outcome)
        if synthetic:
            self.span.set_attribute(SYNTHETIC, True)
        self.span.end()


def traced_headers(headers: Iterable[tuple[str, bytes | None]], span: RecordSpan) -> Headers:
    """Copy headers, replacing any upstream trace context with the span's own."""
    kept = [(k, v) for k, v in headers if k.lower() not in TRACE_HEADERS]
    return kept + span.headers


class RecordTracer:
    """Start the spans of one worker's records (only built when tracing is on)."""

    def __init__(self, provider: TracerProvider, *, consumer_group: str) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(SCOPE)
        self._group = consumer_group

    def start(self, record: SourceRecord, logical_topic: str) -> RecordSpan:
        """Start ``process <topic>`` for a record, as a child of its ``traceparent``."""
        parent: Context | None = None
        if any(key.lower() == "traceparent" for key, _ in record.headers):
            parent = _PROPAGATOR.extract(record.headers, getter=_GETTER)
        attributes: dict[str, str | int | bool] = {
            MESSAGING_SYSTEM: "kafka",
            MESSAGING_OPERATION_TYPE: "process",
            MESSAGING_OPERATION_NAME: "process",
            MESSAGING_DESTINATION_NAME: record.topic,
            MESSAGING_PARTITION_ID: str(record.partition),
            MESSAGING_KAFKA_OFFSET: record.offset,
            MESSAGING_CONSUMER_GROUP: self._group,
        }
        if record.key is not None:
            attributes[MESSAGING_KAFKA_KEY] = record.key.decode("utf-8", errors="replace")
        if record.value is None:
            attributes[MESSAGING_KAFKA_TOMBSTONE] = True
        span = self._tracer.start_span(
            f"process {logical_topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        return RecordSpan(span)

    def send_headers(self, topic: str, logical_topic: str, partition: int) -> Headers:
        """Trace one record this worker produces itself (a canary): ``send <topic>``."""
        span = self._tracer.start_span(
            f"send {logical_topic}",
            kind=SpanKind.PRODUCER,
            attributes={
                MESSAGING_SYSTEM: "kafka",
                MESSAGING_OPERATION_TYPE: "send",
                MESSAGING_OPERATION_NAME: "send",
                MESSAGING_DESTINATION_NAME: topic,
                MESSAGING_PARTITION_ID: str(partition),
                SYNTHETIC: True,
            },
        )
        record_span = RecordSpan(span)
        span.end()
        return record_span.headers

    def shutdown(self) -> None:
        """Export what is still buffered, then stop the exporters."""
        try:
            self.provider.shutdown()
        except Exception:  # exporting is best effort at shutdown; never block the exit
            _log.warning("tracing: could not export the last spans", exc_info=True)
