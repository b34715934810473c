"""Integration fixtures: one embedded Tansu broker per session, isolated topics per test.

Each test gets its own topic prefix and consumer group, so tests never see each
other's records. Records are read back with ``assign()`` until idle, never
counted by watermarks (docs/embedded-broker.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from streams.adapters.avro import AvroCodec
from streams.adapters.broker import EmbeddedBroker
from streams.adapters.dlq import SourceRecord
from streams.adapters.kafka_io import RecordProducer, read_topics
from streams.adapters.topics import ensure_topics, load_topic_specs
from streams.app import schema_source
from streams.demo.worker import WorkerProcess
from streams.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker address: KAFKA_BOOTSTRAP_SERVERS if set, else a fresh embedded broker."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with EmbeddedBroker(log_dir=tmp_path_factory.mktemp("broker")) as broker:
        yield broker.bootstrap_servers


@dataclass
class Stack:
    """One test's isolated slice of the broker: topics, codec, producer, workers."""

    settings: Settings
    codec: AvroCodec
    producer: RecordProducer
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)
    #: Called at teardown, before the broker goes (e.g. consumers a test opened).
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def client(self) -> dict[str, str]:
        return self.settings.kafka_client_config()

    def publish(self, topic: str, key: str, value: dict[str, Any] | None) -> bytes | None:
        """Encode (Avro, wire format) and send one record; return the bytes sent."""
        raw = None if value is None else self.codec.encode(topic, value)
        self.producer.send(self.settings.topic(topic), key.encode(), raw)
        return raw

    def publish_raw(self, topic: str, key: str, raw: bytes | None) -> None:
        self.producer.send(self.settings.topic(topic), key.encode(), raw)

    def flush(self) -> None:
        self.producer.flush()

    def worker(self, **extra_env: str) -> WorkerProcess:
        """Start a worker of this test's consumer group (stopped at teardown).

        ``extra_env`` adds variables (e.g. ``OTEL_TRACES_EXPORTER="otlp"``).
        """
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers or "",
            "LEDGERSTREAM_PROFILE": "embedded",
            "LEDGERSTREAM_APP_ID": self.settings.app_id,
            "LEDGERSTREAM_TOPIC_PREFIX": self.settings.topic_prefix,
            "LEDGERSTREAM_RULE_VERSION": self.settings.rule_version,
            "LEDGERSTREAM_DATA_DIR": str(self.log_dir / f"data-{len(self.workers)}"),
        } | extra_env
        worker = WorkerProcess(env, log_path=self.log_dir / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker.start()

    def wait_consumed(
        self, worker: WorkerProcess, topic: str, at_least: int, timeout: float = 90.0
    ) -> float:
        """Poll the worker's metrics until it has consumed ``at_least`` records of ``topic``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.running:
                raise AssertionError(f"worker exited:\n{worker.tail()}")
            done = sum(worker.events_consumed(topic).values())
            if done >= at_least:
                return done
            time.sleep(0.1)
        raise AssertionError(f"fewer than {at_least} records of {topic} consumed:\n{worker.tail()}")

    def wait_outcome(
        self, worker: WorkerProcess, topic: str, outcome: str, at_least: int, timeout: float = 90.0
    ) -> float:
        """Poll the worker's metrics until ``at_least`` records of ``topic`` ended so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.running:
                raise AssertionError(f"worker exited:\n{worker.tail()}")
            done = worker.events_consumed(topic).get(outcome, 0.0)
            if done >= at_least:
                return done
            time.sleep(0.1)
        raise AssertionError(f"fewer than {at_least} {outcome} of {topic}:\n{worker.tail()}")

    def read(
        self, topic: str, *, idle: float = 2.0, max_seconds: float = 60.0
    ) -> list[SourceRecord]:
        """Every record of a logical topic, read from offset 0 until idle."""
        return list(
            read_topics(
                self.client,
                [self.settings.topic(topic)],
                idle_seconds=idle,
                max_seconds=max_seconds,
            )
        )

    def decoded(self, topic: str, **kwargs: float) -> list[dict[str, Any]]:
        return [self.codec.decode(topic, r.value).record for r in self.read(topic, **kwargs)]

    def cli(self, *argv: str, **extra_env: str) -> CliRun:
        """Run ``ledgerstream ARGV`` in-process against this test's topics and group."""
        from streams.cli import main  # noqa: PLC0415

        env = extra_env | {
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers or "",
            "LEDGERSTREAM_PROFILE": "embedded",
            "LEDGERSTREAM_APP_ID": self.settings.app_id,
            "LEDGERSTREAM_TOPIC_PREFIX": self.settings.topic_prefix,
        }
        saved = {name: os.environ.get(name) for name in env}
        out, err = io.StringIO(), io.StringIO()
        try:
            os.environ.update(env)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(argv))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return CliRun(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class CliRun:
    """What a command printed, and its exit code."""

    code: int
    out: str
    err: str


@pytest.fixture
def stack(bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    """Topics under a unique prefix, a unique consumer group, a producer and a codec."""
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        profile="embedded",
        app_id=f"ledgerstream-test-{run}",
        topic_prefix=f"t{run}.",
        rule_version="test.1",
    )
    ensure_topics(
        settings.kafka_client_config(),
        load_topic_specs(settings.topics_file),
        prefix=settings.topic_prefix,
        single_node=True,
    )
    codec = AvroCodec(schema_source(settings))
    result = Stack(settings, codec, RecordProducer(settings.kafka_client_config()), tmp_path)
    yield result
    for worker in result.workers:
        worker.stop()
    for close in result.cleanup:
        close()
