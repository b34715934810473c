"""``ledgerstream demo``: the whole pipeline on the embedded broker, watched live.

Starts the broker (unless a cluster is configured), creates the topics,
publishes the sample organisation and a stream of time entries, runs a real
worker process, and reads the sink and dead-letter topics back. Every command
read back is checked for balance independently of the code that built it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from streams.adapters.avro import AvroCodec
from streams.adapters.kafka_io import RecordProducer, TopicReader
from streams.adapters.topics import ensure_topics, load_topic_specs
from streams.app import cluster, schema_source
from streams.demo import sample
from streams.demo.worker import WorkerProcess
from streams.settings import Settings

COMMANDS = "acct.ledger-commands"
DLQ = "ledgerstream.dlq"
ENTRIES = "pm.time-entries"
RATE_WINDOW_SECONDS = 5.0


@dataclass
class DemoSummary:
    """What a demo run did (the final JSON line of ``demo --once``)."""

    events_in: int = 0
    processed: int = 0
    commands_out: int = 0
    dead_letters: int = 0
    held: int = 0
    unbalanced: int = 0
    events_per_second: float = 0.0
    seconds: float = 0.0


def is_balanced(command: dict[str, Any]) -> bool:
    """Check a decoded command independently: debits = credits, in both currencies."""
    totals = {
        ("DEBIT", "amount"): Decimal(0),
        ("CREDIT", "amount"): Decimal(0),
        ("DEBIT", "base_amount"): Decimal(0),
        ("CREDIT", "base_amount"): Decimal(0),
    }
    for line in command["lines"]:
        for column in ("amount", "base_amount"):
            totals[(line["side"], column)] += line[column]
    return all(totals[("DEBIT", c)] == totals[("CREDIT", c)] for c in ("amount", "base_amount"))


def publish(
    producer: RecordProducer,
    codec: AvroCodec,
    settings: Settings,
    records: Iterable[sample.SampleRecord],
) -> int:
    """Encode and send sample records; return how many were sent."""
    count = 0
    for record in records:
        value = None
        if record.value is not None:
            value = sample.corrupt(codec.encode(record.topic, record.value), record.corruption)
        producer.send(settings.topic(record.topic), record.key.encode(), value)
        count += 1
    return count


class _Live:
    """A one-line live summary on a terminal (a line every few seconds otherwise)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last = 0.0

    def show(self, summary: DemoSummary, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.5 if self._tty else 5.0):
            return
        self._last = now
        line = (
            f"events in {summary.events_in:>7} | processed {summary.processed:>7} | "
            f"commands out {summary.commands_out:>7} | dead letters {summary.dead_letters:>4} | "
            f"held {summary.held:>5} | unbalanced {summary.unbalanced} | "
            f"{summary.events_per_second:>7.0f} events/s"
        )
        self._out.write(("\r" + line) if self._tty else (line + "\n"))
        self._out.flush()


def run_demo(
    settings: Settings,
    *,
    once: bool,
    events: int,
    rate: float,
    out: TextIO = sys.stdout,
    timeout: float = 600.0,
) -> DemoSummary:
    """Run the demo; with ``once`` stop after the sample set, else run until Ctrl-C.

    SIGTERM and SIGHUP (a closed terminal) stop it like Ctrl-C. The first of them
    starts an orderly stop (worker, then broker); later ones are ignored, so a
    second signal cannot cut the stop short and orphan the children.
    """
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        with cluster(settings) as live_settings:
            return _run(
                live_settings, once=once, events=events, rate=rate, out=out, timeout=timeout
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(_signum: int, _frame: object) -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _start_worker(settings: Settings, out: TextIO) -> WorkerProcess:
    log_dir = Path(tempfile.mkdtemp(prefix="ledgerstream-demo-"))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "LEDGERSTREAM_PROFILE": "embedded" if settings.embedded_profile else "cluster",
        "LEDGERSTREAM_APP_ID": settings.app_id,
        "LEDGERSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "LEDGERSTREAM_DATA_DIR": str(log_dir / "data"),
    }
    worker = WorkerProcess(env, log_path=log_dir / "worker.log").start()
    out.write(
        f"worker starting (log: {worker.log_path}, "
        f"metrics: http://127.0.0.1:{worker.port}/metrics)\n"
    )
    return worker


def _run(
    settings: Settings, *, once: bool, events: int, rate: float, out: TextIO, timeout: float
) -> DemoSummary:
    client = settings.kafka_client_config()
    specs = load_topic_specs(settings.topics_file)
    ensure_topics(
        client, specs, prefix=settings.topic_prefix, single_node=settings.embedded_profile
    )
    codec = AvroCodec(schema_source(settings))
    producer = RecordProducer(client)
    publish(producer, codec, settings, sample.reference_records())
    producer.flush()
    summary = DemoSummary()
    worker = _start_worker(settings, out)
    reader = TopicReader(client, [settings.topic(COMMANDS), settings.topic(DLQ)])
    live = _Live(out)
    try:
        worker.wait_ready()
        summary.events_in += publish(producer, codec, settings, sample.time_entries(events))
        producer.flush()
        started = time.monotonic()
        throughput = _Throughput(average=once)
        while True:
            _drain(reader, codec, settings, summary)
            outcomes = worker.events_consumed(ENTRIES)
            summary.processed = int(sum(outcomes.values()))
            summary.held = int(outcomes.get("held", 0))
            now = time.monotonic()
            summary.events_per_second = throughput.update(now, summary.processed)
            summary.seconds = now - started
            live.show(summary)
            if once and summary.processed >= summary.events_in:
                _drain_until_idle(reader, codec, settings, summary)
                break
            if once and now - started > timeout:
                raise TimeoutError(f"demo did not finish in {timeout}s:\n{worker.tail()}")
            if not worker.running:
                raise RuntimeError(f"the worker stopped; its log:\n{worker.tail()}")
            if not once and rate > 0:
                # keep publishing at `rate`: whatever is due since the live phase began
                due = events + int(rate * (now - started)) - summary.events_in
                if due > 0:
                    first = summary.events_in + 1
                    summary.events_in += publish(
                        producer, codec, settings, sample.time_entries(due, start=first)
                    )
                    producer.flush()
    except KeyboardInterrupt:
        pass
    finally:
        # children run in their own sessions (a Ctrl-C must not kill the broker
        # under the worker): stop them here, in order, before anything can fail
        worker.stop()
        reader.close()
        with contextlib.suppress(OSError):  # e.g. `make run | tee` lost its reader
            live.show(summary, force=True)
            out.write("\n")
    return summary


class _Throughput:
    """Events per second: averaged over the sample set, or over the last seconds live."""

    def __init__(self, *, average: bool) -> None:
        self._average = average
        self._first: float | None = None
        self._recent: deque[tuple[float, int]] = deque()

    def update(self, now: float, processed: int) -> float:
        if processed and self._first is None:
            self._first = now
        self._recent.append((now, processed))
        while now - self._recent[0][0] > RATE_WINDOW_SECONDS:
            self._recent.popleft()
        if self._average:
            if self._first is None or now <= self._first:
                return 0.0
            return processed / (now - self._first)
        since, then = self._recent[0]
        return (processed - then) / (now - since) if now > since else 0.0


def _drain(reader: TopicReader, codec: AvroCodec, settings: Settings, summary: DemoSummary) -> int:
    records = reader.poll(timeout=0.2, max_records=5000)
    for record in records:
        if record.topic == settings.topic(DLQ):
            summary.dead_letters += 1
            continue
        summary.commands_out += 1
        if record.value is None or not is_balanced(codec.decode(COMMANDS, record.value).record):
            summary.unbalanced += 1
    return len(records)


def _drain_until_idle(
    reader: TopicReader,
    codec: AvroCodec,
    settings: Settings,
    summary: DemoSummary,
    idle_seconds: float = 2.0,
) -> None:
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < idle_seconds:
        if _drain(reader, codec, settings, summary):
            idle_since = time.monotonic()


def summary_json(summary: DemoSummary) -> str:
    """Render the final machine-readable line of a demo run."""
    data = asdict(summary)
    data["events_per_second"] = round(summary.events_per_second, 1)
    data["seconds"] = round(summary.seconds, 2)
    return json.dumps(data, sort_keys=True)
