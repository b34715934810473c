"""The broker side of the benchmark: one embedded broker, isolated topic sets, read-back.

A :class:`Slice` is one run's own topics (a unique prefix, every topic of
``deploy/topics.yaml`` created explicitly) and consumer group, with a producer and
the codec. :func:`collect` reads output topics back with ``assign()`` from offset 0
until a condition holds (never from watermarks, which the embedded broker gets
wrong; ``docs/embedded-broker.md``), and fails loudly on a deadline or when a
process it waits for has died.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.adapters.avro import AvroCodec
from streams.adapters.dlq import SourceRecord
from streams.adapters.kafka_io import RecordProducer, TopicReader
from streams.adapters.topics import TopicSpec, ensure_topics, load_topic_specs
from streams.app import schema_source, state_topics
from streams.demo.runner import publish
from streams.demo.sample import SampleRecord
from streams.demo.worker import WorkerProcess
from streams.settings import Settings


class BenchError(RuntimeError):
    """A part of the benchmark could not measure what it set out to (fails the run)."""


@dataclass
class Slice:
    """One isolated set of topics and a consumer group on the broker."""

    settings: Settings
    codec: AvroCodec
    run_dir: Path
    producer: RecordProducer
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def client(self) -> dict[str, str]:
        return self.settings.kafka_client_config()

    def topic(self, logical: str) -> str:
        return self.settings.topic(logical)

    def create(self, logical: str, partitions: int) -> str:
        """Create one extra topic of this slice (a baseline's output)."""
        spec = TopicSpec(name=logical, partitions=partitions, replication_factor=1, configs={})
        ensure_topics(self.client, [spec], prefix=self.settings.topic_prefix, single_node=True)
        return self.topic(logical)

    def publish(self, records: Iterable[SampleRecord]) -> Counter[str]:
        """Encode (Avro, Confluent wire format) and send; wait until every one is delivered."""
        sent = publish(self.producer, self.codec, self.settings, records)
        self.producer.flush(120)
        return sent

    def worker(self, *, data_dir: Path | None = None, **extra_env: str) -> WorkerProcess:
        """Start a ``ledgerstream worker`` process of this slice (as the demo and tests do)."""
        n = len(self.workers)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers or "",
            "LEDGERSTREAM_PROFILE": "embedded",
            "LEDGERSTREAM_APP_ID": self.settings.app_id,
            "LEDGERSTREAM_TOPIC_PREFIX": self.settings.topic_prefix,
            "LEDGERSTREAM_RULE_VERSION": self.settings.rule_version,
            "LEDGERSTREAM_DATA_DIR": str(data_dir or self.run_dir / f"data-{n}"),
            "LEDGERSTREAM_LOG_LEVEL": "warning",
        } | extra_env
        worker = WorkerProcess(env, log_path=self.run_dir / f"worker-{n}.log")
        self.workers.append(worker)
        return worker.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop(timeout=20)


def new_slice(bootstrap: str, run_dir: Path, name: str) -> Slice:
    """Create a slice's topics (and its group's table changelog) under a fresh prefix."""
    run = uuid.uuid4().hex[:6]
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        profile="embedded",
        app_id=f"bench-{name}-{run}",
        topic_prefix=f"b{run}-{name}.",
        rule_version="bench.1",
    )
    client = settings.kafka_client_config()
    ensure_topics(
        client,
        load_topic_specs(settings.topics_file),
        prefix=settings.topic_prefix,
        single_node=True,
    )
    ensure_topics(client, state_topics(settings), single_node=True)
    directory = run_dir / name
    directory.mkdir(parents=True, exist_ok=True)
    return Slice(settings, AvroCodec(schema_source(settings)), directory, RecordProducer(client))


def collect(
    client: dict[str, str],
    topics: Sequence[str],
    done: Callable[[list[SourceRecord]], bool],
    *,
    deadline_s: float,
    alive: Callable[[], str | None] = lambda: None,
    what: str = "outputs",
) -> list[SourceRecord]:
    """Read ``topics`` from offset 0 until ``done(records)``; raise on the deadline or a death.

    ``alive`` returns None while what produces the records runs, else why it stopped.
    """
    reader = TopicReader(client, topics)
    records: list[SourceRecord] = []
    deadline = time.monotonic() + deadline_s
    checked = 0.0
    try:
        while True:
            got = reader.poll(timeout=0.5, max_records=10_000)
            records += got
            now = time.monotonic()
            if now - checked > 1.0 or not got:
                checked = now
                if done(records):
                    return records
                stopped = alive()
                if stopped is not None:
                    raise BenchError(f"{what}: stopped after {len(records)} records: {stopped}")
            if now > deadline:
                raise BenchError(f"{what}: only {len(records)} records after {deadline_s:.0f} s")
    finally:
        reader.close()


def worker_alive(workers: Sequence[WorkerProcess]) -> Callable[[], str | None]:
    """``alive`` for ``collect``: the tail of the first worker's log that has exited."""

    def check() -> str | None:
        for worker in workers:
            if not worker.running:
                return f"worker exited; {worker.log_path}:\n{worker.tail()}"
        return None

    return check


def span(records: Sequence[SourceRecord]) -> tuple[int, int]:
    """The first and last output timestamps (epoch ms)."""
    stamps = [r.timestamp_ms for r in records if r.timestamp_ms is not None]
    if len(stamps) < 2:
        raise BenchError(f"{len(stamps)} output timestamps: no rate")
    return min(stamps), max(stamps)


def span_rate(records: Sequence[SourceRecord], inputs: int) -> tuple[float, float]:
    """``inputs`` ÷ (last - first output timestamp): (events/s, seconds)."""
    first, last = span(records)
    seconds = (last - first) / 1000
    return inputs / max(seconds, 1e-3), seconds


class CpuSampler:
    """Samples the CPU time (user + system) of processes, to charge it to an output span.

    A thread reads ``/proc/<pid>/stat`` every ``every`` seconds; ``busy(pid, t0, t1)``
    interpolates the CPU seconds a process used between two epoch-millisecond instants
    (the first and last output timestamps), so start-up is not counted.
    """

    def __init__(self, every: float = 0.25) -> None:
        self._every = every
        self._pids: dict[str, int] = {}
        self._samples: dict[str, list[tuple[float, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def watch(self, name: str, pid: int) -> None:
        self._pids[name] = pid
        self._samples.setdefault(name, [])

    def start(self) -> CpuSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _cpu(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            now = time.time() * 1000
            for name, pid in list(self._pids.items()):
                cpu = self._cpu(pid)
                if cpu is not None:
                    self._samples[name].append((now, cpu))

    def busy(self, name: str, t0_ms: float, t1_ms: float) -> float:
        """CPU seconds ``name`` used between two instants (0 if never sampled)."""
        samples = self._samples.get(name, [])
        if len(samples) < 2:
            return 0.0
        return _at(samples, t1_ms) - _at(samples, t0_ms)


def _at(samples: list[tuple[float, float]], t: float) -> float:
    if t <= samples[0][0]:
        return samples[0][1]
    for (ta, ca), (tb, cb) in itertools.pairwise(samples):
        if ta <= t <= tb:
            return ca + (cb - ca) * (t - ta) / max(tb - ta, 1e-9)
    return samples[-1][1]


def pid_of(process: object) -> int:
    """The pid behind a ``WorkerProcess``, an ``EmbeddedBroker`` or a ``Popen``."""
    inner = getattr(process, "_process", process)
    return int(getattr(inner, "pid"))  # noqa: B009 - Popen, or whatever holds one


#: The embedded broker's pid (set by ``python -m tests.bench``): its CPU is reported too.
BROKER: dict[str, int] = {}
