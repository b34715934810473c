"""Parts (b), (c) and (d): the worker as a real process on the embedded broker.

(b) one ``ledgerstream worker`` against the trivial Faust agent and the plain
confluent-kafka loop (``baselines.py``), all three reading the same preloaded
records from the same topic, one after the other in the same run; (c) two workers
against one, on two fresh slices, started and assigned before the records are
published; (d) latency at a fixed input rate.

A worker is done when ``pm.sync-feedback`` holds one record per input (every valid
time entry gets one: posted or held); its rate is inputs ÷ (last - first output
timestamp) over ``acct.ledger-commands`` and ``pm.sync-feedback``.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from streams.adapters.broker import free_port
from streams.adapters.dlq import SourceRecord
from streams.demo.sample import SampleRecord
from streams.demo.worker import WorkerProcess
from tests.bench import records
from tests.bench.cluster import (
    BROKER,
    BenchError,
    CpuSampler,
    Slice,
    collect,
    new_slice,
    pid_of,
    span,
    span_rate,
    worker_alive,
)
from tests.bench.report import Part, Target

COMMANDS = "acct.ledger-commands"
FEEDBACK = "pm.sync-feedback"
SOURCE = "pm.time-entries"


def _distinct_sources(outputs: Sequence[SourceRecord]) -> int:
    return len({r.key for r in outputs if r.topic.endswith(FEEDBACK)})


def run_worker_until_done(
    piece: Slice, workers: list[WorkerProcess], inputs: int, *, deadline_s: float
) -> list[SourceRecord]:
    """Read the slice's commands and feedback until every input has its feedback."""
    return collect(
        piece.client,
        [piece.topic(COMMANDS), piece.topic(FEEDBACK)],
        lambda got: _distinct_sources(got) >= inputs,
        deadline_s=deadline_s,
        alive=worker_alive(workers),
        what=f"{len(workers)} worker(s) of {piece.settings.app_id}",
    )


class Baseline:
    """A baseline process (``python -m tests.bench.baselines KIND``), stopped at the end."""

    def __init__(self, kind: str, piece: Slice, sink: str) -> None:
        self.kind = kind
        self.log = piece.run_dir / f"{kind}.log"
        argv = [
            sys.executable,
            "-m",
            "tests.bench.baselines",
            kind,
            "--bootstrap",
            piece.settings.kafka_bootstrap_servers or "",
            "--source",
            piece.topic(SOURCE),
            "--sink",
            sink,
            "--group",
            f"{piece.settings.app_id}-{kind}",
            "--port",
            str(free_port()),
            "--datadir",
            str(piece.run_dir / f"{kind}-data"),
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> str | None:
        if self.process.poll() is None:
            return None
        return f"{self.kind} exited {self.process.returncode}: {self.log.read_text()[-2000:]}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Run:
    """What one consumer did over its output span: rate, span, CPU of it and of the broker."""

    rate: float
    seconds: float
    cpu: float  # CPU seconds of the consumer's process(es) over the span
    broker_cpu: float
    outputs: int = 0

    def row(self, name: str, inputs: int, ratio: str, outputs: str) -> list[str]:
        return [
            name,
            f"{self.rate:,.0f}",
            f"{self.seconds:.1f}",
            outputs,
            f"{self.cpu / max(self.seconds, 1e-3):.0%}",
            f"{self.cpu * 1e6 / inputs:,.0f}",
            f"{self.broker_cpu / max(self.seconds, 1e-3):.0%}",
            ratio,
        ]


COLUMNS = [
    "consumer",
    "events/s",
    "s first→last output",
    "outputs",
    "its CPU (of one core)",
    "its CPU µs per event",
    "broker CPU",
    "ratio",
]


def _measured(
    sampler: CpuSampler, names: Sequence[str], outputs: Sequence[SourceRecord], inputs: int
) -> Run:
    first, last = span(outputs)
    rate, seconds = span_rate(outputs, inputs)
    cpu = sum(sampler.busy(name, first, last) for name in names)
    return Run(rate, seconds, cpu, sampler.busy("broker", first, last), len(outputs))


def _sampler() -> CpuSampler:
    sampler = CpuSampler()
    if "pid" in BROKER:
        sampler.watch("broker", BROKER["pid"])
    return sampler.start()


def _baseline(piece: Slice, kind: str, inputs: int, deadline_s: float) -> Run:
    sink = piece.create(f"bench.{kind}-out", 6)
    sampler = _sampler()
    process = Baseline(kind, piece, sink)
    sampler.watch(kind, process.process.pid)
    try:
        out = collect(
            piece.client,
            [sink],
            lambda got: len(got) >= inputs,
            deadline_s=deadline_s,
            alive=process.alive,
            what=f"the {kind} baseline",
        )
    finally:
        process.stop()
        sampler.stop()
    return _measured(sampler, [kind], out, inputs)


def part_b(bootstrap: str, run_dir: Path, *, events: int) -> Part:
    """One worker vs the trivial Faust agent vs the plain loop, same preloaded records."""
    piece = new_slice(bootstrap, run_dir, "b")
    deadline = 120 + events / 50
    try:
        piece.publish(records.organisation())
        piece.publish(records.time_entries(events))
        sampler = _sampler()
        worker = piece.worker()
        sampler.watch("worker", pid_of(worker))
        try:
            outputs = run_worker_until_done(piece, [worker], events, deadline_s=deadline)
        finally:
            sampler.stop()
        ours = _measured(sampler, ["worker"], outputs, events)
        commands = sum(1 for r in outputs if r.topic.endswith(COMMANDS))
        piece.stop()
        faust = _baseline(piece, "faust", events, deadline)
        plain = _baseline(piece, "plain", events, deadline)
    finally:
        piece.stop()
    part = Part(
        key="b",
        title=f"End to end, one worker ({events:,} preloaded time entries)",
        columns=COLUMNS,
        rows=[
            ours.row(
                "`ledgerstream worker` (both stages, table, commands + feedback)",
                events,
                f"**{ours.rate / faust.rate:.2f}x**",
                f"{commands:,} commands + {events:,} feedback",
            ),
            faust.row(
                "trivial Faust agent (`take_events(500)` + `send_soon`, defaults)",
                events,
                "1.00x",
                f"{events:,}",
            ),
            plain.row(
                "plain confluent-kafka `consume(500)` → `produce`",
                events,
                f"{plain.rate / faust.rate:.2f}x",
                f"{events:,}",
            ),
        ],
    )
    part.targets += [
        Target("one worker ≥ 1.0x the trivial Faust agent", ours.rate / faust.rate, 1.0, "x"),
        Target(
            "stretch: one worker ≥ 2.0x the trivial Faust agent", ours.rate / faust.rate, 2.0, "x"
        ),
    ]
    part.notes.append(
        f"All three read the same {events:,} time entries (Avro, Confluent wire format; 36"
        " customers, 3 entities) from the same `pm.time-entries` topic (6 partitions) of one"
        " embedded broker, one after the other; each writes one output per input (the"
        " worker: a feedback record each, and its commands). Rate = inputs ÷ (last - first"
        " output timestamp): start-up and group join are not counted. CPU columns: CPU"
        " time of the process (and of the broker) over that span, from `/proc`; a consumer"
        " well below 100 % of a core while the backlog lasts is waiting, not computing."
    )
    return part


def _wait_assigned(workers: Sequence[WorkerProcess], timeout: float = 120.0) -> None:
    """Wait until every worker is ready and holds partitions (the group has settled)."""
    for worker in workers:
        worker.wait_ready(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [_assigned(w) for w in workers]
        if all(c > 0 for c in counts) and (len(workers) == 1 or sum(counts) >= 2 * len(counts)):
            time.sleep(3.0)  # a last rebalance settles
            if [_assigned(w) for w in workers] == counts:
                return
        for worker in workers:
            if not worker.running:
                raise BenchError(f"worker exited:\n{worker.tail()}")
        time.sleep(0.5)
    raise BenchError(f"workers not all assigned after {timeout:.0f} s: {counts}")


def _assigned(worker: WorkerProcess) -> float:
    try:
        return worker.metrics().get(("ledgerstream_assigned_partitions", ()), 0.0)
    except OSError:
        return 0.0


def _scale_run(bootstrap: str, run_dir: Path, name: str, n: int, events: int) -> Run:
    piece = new_slice(bootstrap, run_dir, name)
    sampler = _sampler()
    try:
        piece.publish(records.organisation())
        workers = [piece.worker() for _ in range(n)]
        for i, worker in enumerate(workers):
            sampler.watch(f"worker-{i}", pid_of(worker))
        _wait_assigned(workers)
        piece.publish(records.time_entries(events))
        outputs = run_worker_until_done(piece, workers, events, deadline_s=120 + events / 50)
    finally:
        sampler.stop()
        piece.stop()
    return _measured(sampler, [f"worker-{i}" for i in range(n)], outputs, events)


def part_c(bootstrap: str, run_dir: Path, *, events: int) -> Part:
    """Two workers vs one, each on its own slice, started before the records arrive."""
    one = _scale_run(bootstrap, run_dir, "c1", 1, events)
    two = _scale_run(bootstrap, run_dir, "c2", 2, events)
    customers, entities = records.customer_count()
    part = Part(
        key="c",
        title=f"Scale-out ({events:,} time entries, {customers} customers, {entities} entities)",
        columns=COLUMNS,
        rows=[
            one.row("1 worker", events, "1.00x", f"{one.outputs:,}"),
            two.row("2 workers", events, f"**{two.rate / one.rate:.2f}x**", f"{two.outputs:,}"),
        ],
    )
    part.targets.append(Target("two workers ≥ 1.6x one worker", two.rate / one.rate, 1.6, "x"))
    part.notes.append(
        "Each run has its own topics and group; its workers are started, ready and"
        " assigned before the time entries are published (about a second to publish them"
        " all). Outputs of both workers together: inputs ÷ (last - first output timestamp)."
    )
    return part


def part_d(bootstrap: str, run_dir: Path, *, rate: int, seconds: int) -> Part:
    """Latency from source record timestamp to command timestamp at a fixed input rate."""
    piece = new_slice(bootstrap, run_dir, "d")
    total = rate * seconds
    sent_at: dict[bytes, int] = {}
    failed: list[str] = []

    def delivered(error: object, message: object) -> None:
        if error is not None:
            failed.append(str(error))
            return
        sent_at[message.key()] = message.timestamp()[1]  # type: ignore[attr-defined]

    try:
        piece.publish(records.organisation())
        worker = piece.worker()
        _wait_assigned([worker])
        producer = Producer(piece.client | {"linger.ms": 1, "enable.idempotence": False})
        topic = piece.topic(SOURCE)
        encoded = [
            (r.key.encode(), piece.codec.encode(r.topic, r.value))
            for r in _entries(total)
            if r.value is not None
        ]
        tick = 0.01
        per_tick = rate * tick
        started = time.monotonic()
        for n, (key, value) in enumerate(encoded):
            due = started + n / rate
            pause = due - time.monotonic()
            if pause > 0 and n % max(1, int(per_tick)) == 0:
                time.sleep(pause)
            producer.produce(topic, key=key, value=value, on_delivery=delivered)
            producer.poll(0)
        publish_s = time.monotonic() - started
        producer.flush(60)
        if failed or len(sent_at) != total:
            raise BenchError(f"latency: {len(sent_at)} of {total} delivered; {failed[:1]}")
        outputs = run_worker_until_done(
            piece, [worker], total, deadline_s=seconds + max(180, seconds * 4)
        )
    finally:
        piece.stop()
    first: dict[str, int] = {}
    for record in outputs:
        if record.topic.endswith(COMMANDS) and record.timestamp_ms is not None:
            source_id = piece.codec.decode(COMMANDS, record.value).record["source"]["id"]
            first[source_id] = min(first.get(source_id, record.timestamp_ms), record.timestamp_ms)
    latencies = sorted(first[s] - sent_at[s.encode()] for s in first)
    if not latencies:
        raise BenchError("latency: no command read back")
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    part = Part(
        key="d",
        title=f"Latency at {rate:,} events/s for {seconds} s (one worker)",
        columns=["input rate achieved", "sources with commands", "p50 ms", "p99 ms", "max ms"],
        rows=[
            [
                f"{total / publish_s:,.0f} events/s",
                f"{len(latencies):,} of {total:,}",
                f"{p50:,.0f}",
                f"**{p99:,.0f}**",
                f"{latencies[-1]:,.0f}",
            ]
        ],
    )
    part.targets.append(Target("p99 ≤ 250 ms at 1,000 events/s", p99, 250, "ms", at_most=True))
    part.notes.append(
        "Time entries are published at the fixed rate by a confluent-kafka producer"
        " (linger 1 ms) once the worker is ready and assigned; latency = the first"
        " command's record timestamp - its source record's timestamp (both CreateTime, one"
        " clock). Held entries (no command) are not in the percentiles. If the worker is"
        " slower than the input rate, the backlog grows and latency with it."
    )
    return part


def _entries(total: int) -> list[SampleRecord]:
    return list(records.time_entries(total, seed=29))


def _percentile(sorted_values: Sequence[int], q: float) -> float:
    rank = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return float(sorted_values[rank])
