"""What every agent shares: codec, reference book, metrics and the dead-letter path.

An agent hands each consumed record to :meth:`Runtime.process` with a handler
(decode → domain rule → encode). Whatever the handler raises becomes a dead
letter carrying the original bytes, so Faust never acks a record that vanished.

``process`` is also where every record is measured and traced: its span (when
tracing is on), its outcome and processing time, its end-to-end latency, and
the heartbeat canaries: of a canary's outputs it keeps only the forward to stage 2
and, in stage 2, its commands to the shadow topic (``_canary``), where its age is
taken; a canary's command never goes to the real sink (``command_output``).

The control toggles (``streams.domain.toggles``) live here too: ``command_output``
sends each command to the accounting sink or its shadow topic by ``sink_for``, and
agents wait on ``posting`` (cleared while the kill switch is on) before each batch.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter
from typing import Any, TypeVar

from pydantic import BaseModel

from streams.adapters.avro import AvroCodec
from streams.adapters.dlq import Headers, SourceRecord, build_dead_letter, describe_error
from streams.adapters.heartbeat import canary_book, is_synthetic, produced_at
from streams.adapters.metrics import UNCOUNTED, Metrics, Outcome
from streams.adapters.tracing import RecordSpan, RecordTracer, traced_headers
from streams.agents.records import source_record
from streams.domain.commands import PostLedgerEntry
from streams.domain.events import parse_event
from streams.domain.exceptions import LedgerstreamError
from streams.domain.reference import ReferenceBook
from streams.domain.toggles import Sink, Toggles, sink_for

_log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

DLQ_TOPIC = "ledgerstream.dlq"
COMMANDS_TOPIC = "acct.ledger-commands"
SHADOW_TOPIC = "acct.ledger-commands.shadow"


@dataclass(frozen=True, slots=True)
class Output:
    """A record to send: physical topic, key, encoded value and headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)
    #: An explicit partition (None: by key, as the producer partitions).
    partition: int | None = None


Handled = tuple[Outcome, list[Output]]


def _opened(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


Handler = Callable[[SourceRecord], Handled]
#: Sends outputs and returns once the broker has acknowledged every one of them.
Deliver = Callable[[Sequence[Output]], Awaitable[None]]


@dataclass(slots=True)
class Runtime:
    """The wiring one worker's agents share (built once by ``streams.app``)."""

    codec: AvroCodec
    book: ReferenceBook
    metrics: Metrics
    rule_version: str
    topic_prefix: str = ""
    processor: str = field(default_factory=socket.gethostname)
    tracer: RecordTracer | None = None
    #: Called when the dead-letter path itself fails (the app stops the worker hard).
    on_fatal: Callable[[BaseException], None] = field(default=lambda _exc: None)
    canaries: ReferenceBook = field(default_factory=canary_book)
    #: Last offset processed per (physical topic, partition): the consumer-lag gauge.
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    #: The control toggles as last read from ``ledgerstream.control`` (all off at start).
    toggles: Toggles = field(default_factory=Toggles)
    #: Set while posting may go on; cleared while the kill switch is on.
    posting: asyncio.Event = field(default_factory=lambda: _opened(asyncio.Event()))
    #: Counts changes to reference data and toggles (parked records retry on a change).
    changes: int = 0
    # The record being processed (set by `process`; agents are synchronous inside it).
    _span: RecordSpan | None = field(default=None, init=False, repr=False)
    _synthetic: bool = field(default=False, init=False, repr=False)
    _event_time: datetime | None = field(default=None, init=False, repr=False)
    _actions: list[str] = field(default_factory=list, init=False, repr=False)

    def topic(self, logical_name: str) -> str:
        """Return the physical name of a logical topic."""
        return f"{self.topic_prefix}{logical_name}"

    def logical(self, physical_name: str) -> str:
        """Return the logical name (docs/design.md §2) of a physical topic."""
        return physical_name.removeprefix(self.topic_prefix)

    def set_toggles(self, toggles: Toggles) -> None:
        """Adopt new control toggles: routing of the next command, pause or resume, metrics."""
        self.toggles = toggles
        self.changes += 1
        if toggles.kill_switch:
            self.posting.clear()
        else:
            self.posting.set()
        self.metrics.set_toggles(toggles)

    def process_batch(self, events: Iterable[Any], handler: Handler) -> list[Output]:
        """Process a batch of Faust events; return their outputs, to deliver before the next.

        A failure here is a failure of the dead-letter path itself (every record
        error already became a dead letter): Faust would ack the batch anyway, so
        ``on_fatal`` stops the worker before any offset past it is committed.
        """
        outputs: list[Output] = []
        try:
            for event in events:
                outputs += self.process(source_record(event.message), handler)
        except Exception as exc:
            self.on_fatal(exc)
            raise
        return outputs

    def process(
        self,
        record: SourceRecord,
        handler: Handler,
        *,
        consumed: SourceRecord | None = None,
        read_now: bool = True,
    ) -> list[Output]:
        """Run one record through a handler in its span; any failure becomes a dead letter.

        A heartbeat canary takes the same path against the canary reference book;
        its outputs are dropped here (no sink, no dead letter) and only its
        freshness is kept. ``consumed``: the record as actually read, when it
        carries ``record`` (stage 2 reads project events forwarded by stage 1):
        the span and the lag gauge follow it, metrics and dead letters ``record``.
        ``read_now=False``: a record processed again (a parked one) moves no lag gauge.
        """
        started = perf_counter()
        topic = self.logical(record.topic)
        read = record if consumed is None else consumed
        if read_now:
            self.positions[(read.topic, read.partition)] = read.offset
        span = (
            None
            if self.tracer is None
            else self._start_span(self.tracer, read, self.logical(read.topic))
        )
        self._span, self._synthetic, self._event_time = span, False, None
        self._actions.clear()
        try:
            self._synthetic = is_synthetic(record)
            outcome, outputs = handler(record)
        except Exception as exc:
            if span is not None:
                span.fail(exc, describe_error(exc)[0])
            if self._synthetic:
                outcome, outputs = Outcome.SYNTHETIC, []
                self.metrics.heartbeat_failures.inc()
                _log.warning("heartbeat canary failed on %s: %s", topic, exc)
            else:
                outcome, outputs = Outcome.DEAD_LETTERED, [self.dead_letter(record, exc, span)]
        else:
            if self._synthetic:
                outcome, outputs = self._canary(topic, record, outcome, outputs)
            else:
                for action in self._actions:
                    self.metrics.count_command(action)
                if self._event_time is not None:
                    self.metrics.observe_end_to_end(topic, self._event_time)
        if span is not None:
            span.end(outcome, synthetic=self._synthetic)
        if outcome not in UNCOUNTED:  # a record is counted where it ends (stage 2)
            self.metrics.count_event(topic, outcome, perf_counter() - started)
        return outputs

    def _canary(
        self, topic: str, record: SourceRecord, outcome: Outcome, outputs: list[Output]
    ) -> Handled:
        """Keep what carries a canary on, drop the rest; take its age once it reached the end.

        Stage 1 forwards it to stage 2 (``routed``, kept, not counted); stage 2's
        commands go to the shadow topic, and only a canary that got there counts
        (``synthetic``) and refreshes the heartbeat age. Anything else (feedback, a
        dead letter) is dropped.
        """
        if outcome is Outcome.ROUTED:
            return outcome, outputs
        shadow = self.topic(SHADOW_TOPIC)
        commands = [output for output in outputs if output.topic == shadow]
        if commands:
            self.metrics.heartbeat_ages.seen(topic, record.partition, produced_at(record))
        else:
            self.metrics.heartbeat_failures.inc()
            _log.warning("heartbeat canary on %s ended %s without a command", topic, outcome)
        return Outcome.SYNTHETIC, commands

    @staticmethod
    def _start_span(tracer: RecordTracer, record: SourceRecord, topic: str) -> RecordSpan | None:
        """Start the record's span; a tracing fault never costs the record itself."""
        try:
            return tracer.start(record, topic)
        except Exception:
            _log.warning("tracing: no span for %s[%d]", topic, record.partition, exc_info=True)
            return None

    def traced(self, headers: Headers) -> Headers:
        """Headers of an output of the record in process, carrying its span (when tracing)."""
        return headers if self._span is None else traced_headers(headers, self._span)

    @property
    def synthetic(self) -> bool:
        """True while the record in process is a heartbeat canary."""
        return self._synthetic

    @property
    def current_book(self) -> ReferenceBook:
        """The book the record in process posts against (the canary book for a canary)."""
        return self.canaries if self._synthetic else self.book

    def command_output(
        self, command: PostLedgerEntry, record: SourceRecord, sink: Sink | None = None
    ) -> Output:
        """Encode a command of the record in process, stamped with its trace, to its sink.

        The sink is ``acct.ledger-commands``, or its shadow topic (same bytes and
        headers) under dry-run or for a command outside the pilot's allow-lists
        (``sink_for``), unless ``sink`` says where (a reversal goes where its
        original went).
        """
        fields = command.model_dump()
        span = self._span
        if span is not None:
            fields["trace_id"], fields["span_id"] = span.trace_id, span.span_id
        headers = self.traced(list(record.headers))
        value = self.codec.encode(COMMANDS_TOPIC, fields)
        self._actions.append(command.action)
        self._event_time = command.source.event_time
        if sink is None:
            sink = sink_for(command, self.toggles)
        real = sink is Sink.REAL and not self._synthetic  # a canary never reaches the sink
        topic = COMMANDS_TOPIC if real else SHADOW_TOPIC
        return Output(self.topic(topic), command.entity_id.encode(), value, headers)

    def decode(self, logical_topic: str, record: SourceRecord, model: type[M]) -> M:
        """Decode a record's Avro value and validate it into a domain model.

        A validation error keeps the writer schema id, so the dead letter says
        which schema version the bad record was written with.
        """
        decoded = self.codec.decode(logical_topic, record.value)
        try:
            return parse_event(model, decoded.record)
        except LedgerstreamError as exc:
            exc.schema_id = decoded.schema_id
            raise

    def dead_letter(
        self,
        record: SourceRecord,
        error: BaseException,
        span: RecordSpan | None = None,
        *,
        attempts: int = 1,
        first_failed_at: datetime | None = None,
    ) -> Output:
        """Encode the dead letter of a failed record (original bytes, trace ids kept)."""
        span = span if span is not None else self._span
        letter = build_dead_letter(
            record,
            error,
            processor=self.processor,
            attempts=attempts,
            first_failed_at=first_failed_at,
            trace_id=None if span is None else span.trace_id,
            span_id=None if span is None else span.span_id,
        )
        self.metrics.dead_letters.labels(code=letter.code).inc()
        value = self.codec.encode(DLQ_TOPIC, letter.envelope)
        headers = letter.headers if span is None else letter.headers + span.headers
        return Output(self.topic(DLQ_TOPIC), letter.key, value, headers)
