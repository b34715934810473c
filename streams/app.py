"""Wiring: one Faust app with its agents, the reference loader and the HTTP pages.

``create_app`` turns :class:`Settings` into a ready-to-run Faust app; nothing
else builds clients. Every agent delivers a batch's outputs (and stage 2 its
table changes) and waits for the broker's acknowledgements before it takes the
next batch (``_Delivery``), so a committed offset never runs ahead of the
commands, dead letters and table rows its records produced.

Operations wiring lives here too: the tracer (only when ``OTEL_TRACES_EXPORTER``
names an exporter), the heartbeat timer that produces canaries, and the timers
and signals behind the lag, table-size and rebalance metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, cast

import faust
import uvloop
from confluent_kafka.schema_registry import SchemaRegistryClient
from faust.sensors.monitor import Monitor
from faust.types.auth import CredentialsT

from streams.adapters import heartbeat
from streams.adapters.avro import AvroCodec, RegistrySchemaSource, SchemaCatalog, SchemaSource
from streams.adapters.broker import EmbeddedBroker
from streams.adapters.dlq import SourceRecord
from streams.adapters.kafka_io import DeliveringProducer
from streams.adapters.metrics import CONTENT_TYPE, Metrics
from streams.adapters.reference_loader import ReferenceLoader, end_offsets, read_from
from streams.adapters.state_store import StateStore
from streams.adapters.topics import TopicSpec, ensure_topics, load_topic_specs
from streams.adapters.tracing import RecordTracer, build_provider
from streams.agents import acks, control, ledger, reference, route
from streams.agents.runtime import Output, Runtime
from streams.domain.posting import EVENT_TOPICS
from streams.domain.reference import ReferenceBook
from streams.settings import Settings

_log = logging.getLogger(__name__)

EXIT_FATAL = 70
#: Heartbeat canaries go into the time-entry topic (``streams.adapters.heartbeat``).
HEARTBEAT_TOPIC = "pm.time-entries"


def _stop_hard(error: BaseException) -> None:
    """Stop the worker at once, committing nothing: the records are consumed again."""
    _log.critical("cannot dead-letter a record; stopping the worker", exc_info=error)
    logging.shutdown()
    os._exit(EXIT_FATAL)


def schema_source(settings: Settings) -> SchemaSource:
    """Registry-backed schema ids when a registry is configured, else the embedded catalog."""
    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    if settings.schema_registry_url is None:
        return catalog
    config: dict[str, str] = {"url": settings.schema_registry_url}
    if settings.schema_registry_basic_auth is not None:
        config["basic.auth.user.info"] = settings.schema_registry_basic_auth.get_secret_value()
    return RegistrySchemaSource(SchemaRegistryClient(config), catalog)


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS to the brokers: the configured CA (else the system's) and client certificate."""
    if not settings.kafka_uses_ssl:
        return None
    cafile = settings.kafka_ssl_ca_location
    context = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
    if settings.kafka_ssl_certificate_location is not None:
        key = settings.kafka_ssl_key_location
        password = settings.kafka_ssl_key_password
        context.load_cert_chain(
            str(settings.kafka_ssl_certificate_location),
            None if key is None else str(key),
            None if password is None else password.get_secret_value(),
        )
    return context


def _aiokafka_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    context = _ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    return config


def _faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's view of ``LEDGERSTREAM_KAFKA_*`` (its repr shows no secret)."""
    context = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=None if password is None else password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _faust_settings(settings: Settings) -> Mapping[str, Any]:
    profile: dict[str, Any] = {
        "broker": f"kafka://{settings.kafka_bootstrap_servers}",
        "key_serializer": "raw",
        "value_serializer": "raw",
        "web_port": settings.web_port,
        "web_host": settings.web_host,
        "datadir": str(settings.data_dir),
        "consumer_auto_offset_reset": "earliest",
        "topic_allow_declare": False,  # topics come from deploy/topics.yaml only
        "topic_disable_leader": True,
        "producer_linger": 0.01,
    }
    credentials = _faust_credentials(settings)
    if credentials is not None:
        profile["broker_credentials"] = credentials
    if settings.embedded_profile:
        # docs/embedded-broker.md: JoinGroup waits the whole rebalance timeout on Tansu.
        profile |= {
            "broker_rebalance_timeout": 3.0,
            "broker_session_timeout": 10.0,
            "broker_heartbeat_interval": 1.0,
        }
    return profile


class _Delivery:
    """Send outputs through confluent-kafka and wait until the broker acknowledged each.

    Agents await this before they take their next batch, so no offset is ever
    committed past a record whose outputs were not delivered. (Faust's own
    ``send_soon`` buffer is not enough: its pre-commit flush gives up after 0.1 s
    when the producer is backed up; nor is a plain ``send`` inside an agent, which
    Faust holds back as an attachment and publishes at commit time without waiting.
    Measured: a SIGKILL then lost 1,231 of 8,000 records.) A delivery error stops
    the worker hard (``on_fatal``): nothing past it is committed, nothing dropped.
    """

    def __init__(self, producer: DeliveringProducer, on_fatal: Callable[[BaseException], None]):
        self._producer = producer
        self._on_fatal = on_fatal

    async def __call__(self, outputs: Sequence[Output]) -> None:
        try:
            await self._producer.deliver(
                [(o.topic, o.key, o.value, o.headers, o.partition) for o in outputs]
            )
        except Exception as exc:
            self._on_fatal(exc)
            raise


class _QuietMonitor(Monitor):
    """Faust's monitor without its per-message bookkeeping (about 5 % of a worker's time).

    The worker's own Prometheus metrics (``streams.adapters.metrics``) count what is
    watched; Faust's per-message, per-send and per-table-access statistics are not
    exported, so their hooks do nothing here. Commit, assignment and rebalance
    hooks keep Faust's behaviour.
    """

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        return None

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None


def record_tracer(settings: Settings, processor: str) -> RecordTracer | None:
    """Build the worker's tracer; None when ``OTEL_TRACES_EXPORTER`` is ``none`` (default)."""
    if not settings.trace_exporters:
        return None
    provider = build_provider(
        settings.trace_exporters,
        service_name=settings.otel_service_name,
        service_instance=processor,
        service_version=_package_version(),
    )
    return RecordTracer(provider, consumer_group=settings.app_id)


def create_app(settings: Settings) -> tuple[faust.App, Runtime]:
    """Build the worker's Faust app and the runtime its agents share."""
    if settings.kafka_bootstrap_servers is None:
        raise ValueError("create_app needs KAFKA_BOOTSTRAP_SERVERS (the CLI starts a broker)")
    metrics = Metrics()
    metrics.declare_topics(events=EVENT_TOPICS, reference=reference.REFERENCE_TOPICS)
    metrics.build_info.labels(version=_package_version(), rule_version=settings.rule_version).set(1)
    processor = f"{settings.app_id}@{socket.gethostname()}"
    rt = Runtime(
        codec=AvroCodec(schema_source(settings)),
        book=ReferenceBook(settings.account_map),
        metrics=metrics,
        rule_version=settings.rule_version,
        topic_prefix=settings.topic_prefix,
        processor=processor,
        tracer=record_tracer(settings, processor),
        on_fatal=_stop_hard,
    )
    app = faust.App(settings.app_id, Monitor=_QuietMonitor, **_faust_settings(settings))
    deliver = _Delivery(DeliveringProducer(settings.kafka_client_config()), _stop_hard)

    def on_reference(topic: str, key: bytes | None, value: bytes | None) -> None:
        if reference.apply_reference(rt, SourceRecord(topic, -1, -1, key, value, ())):
            rt.changes += 1  # parked records may post now

    loader = ReferenceLoader(
        _aiokafka_config(settings),
        [rt.topic(name) for name in reference.REFERENCE_TOPICS],
        on_reference,
        on_ready=lambda: metrics.reference_ready.set(1),
    )

    def on_control(topic: str, key: bytes | None, value: bytes | None) -> None:
        control.apply_control(rt, key, value)

    controls = ReferenceLoader(
        _aiokafka_config(settings), [rt.topic(control.CONTROL_TOPIC)], on_control
    )
    ready = asyncio.Event()  # reference data and control toggles both loaded

    @app.task
    async def load_reference_data() -> None:
        try:
            await loader.run()
        except Exception as exc:
            # Without complete reference data nothing can post: stop the worker
            # hard so no offset is committed past unprocessed records.
            _stop_hard(exc)

    @app.task
    async def load_control_toggles() -> None:
        try:
            await controls.run()
        except Exception as exc:
            # Posting without the kill switch and pilot settings could post what
            # an operator has held back: stop the worker hard, as above.
            _stop_hard(exc)

    @app.task
    async def signal_ready() -> None:
        loop = type(asyncio.get_running_loop())
        _log.info("event loop: %s.%s", loop.__module__, loop.__qualname__)  # uvloop.Loop
        await loader.ready.wait()
        await controls.ready.wait()
        ready.set()

    @app.timer(interval=1.0)
    async def publish_table_sizes() -> None:
        metrics.set_reference_sizes(rt.book.sizes())

    _wire_operations(app, rt, settings)

    partitions = ledger_partitions(settings)
    route.register(
        app,
        rt,
        deliver=deliver,
        ready=ready,
        batch_size=settings.batch_size,
        within=settings.batch_within_seconds,
        partitions=partitions,
    )
    ledger.register(
        app,
        rt,
        deliver=deliver,
        ready=ready,
        batch_size=settings.batch_size,
        within=settings.batch_within_seconds,
        state_topic=settings.state_topic,
        store=StateStore(settings.data_dir / "state" / f"{settings.state_topic}.sqlite"),
        read_state=partial(read_from, _aiokafka_config(settings), settings.state_topic),
        end_offsets=partial(end_offsets, _aiokafka_config(settings), settings.state_topic),
        policy=ledger.ParkingPolicy(
            deadline=timedelta(seconds=settings.park_deadline_seconds),
            first_retry=timedelta(seconds=settings.retry_first_seconds),
            max_retry=timedelta(seconds=settings.retry_max_seconds),
        ),
        retry_interval=settings.retry_check_seconds,
        partitions=partitions,
        checkpoint_interval=settings.state_checkpoint_seconds,
        cache_rows=settings.state_cache_rows,
        summary_cadence=summary_cadence(settings),
    )
    reference.register(app, rt, deliver=deliver)
    # the books' answers (acct.ledger-acks) back to the project system as sync feedback
    acks.register(
        app,
        rt,
        deliver=deliver,
        batch_size=settings.batch_size,
        within=settings.batch_within_seconds,
    )

    @app.page("/metrics")
    async def metrics_page(self: Any, request: Any) -> Any:
        return self.bytes(metrics.exposition(), content_type=CONTENT_TYPE)

    @app.page("/ready")
    async def ready_page(self: Any, request: Any) -> Any:
        body = {
            "ready": ready.is_set(),
            "tables": rt.book.sizes(),
            "toggles": rt.toggles.model_dump(mode="json"),
        }
        return self.json(body, status=200 if ready.is_set() else 503)

    return app, rt


#: Seconds between two flushes of a SUMMARY entity's windows, per cadence.
_CADENCE_SECONDS: Final = {"HOURLY": 3600.0, "DAILY": 86400.0}


def summary_cadence(settings: Settings) -> dict[str, float]:
    """Return the SUMMARY entities and how often their windows are flushed (seconds)."""
    return {
        entity: settings.summary_flush_seconds or _CADENCE_SECONDS[cadence]
        for entity, cadence in settings.sync_cadence.items()
        if cadence != "REALTIME"
    }


def ledger_partitions(settings: Settings) -> int:
    """Partitions of the stage-2 topic, which its table's changelog must match."""
    specs = {spec.name: spec for spec in load_topic_specs(settings.topics_file)}
    return specs[route.LEDGER_TOPIC].partitions


def state_topics(settings: Settings) -> list[TopicSpec]:
    """Return the changelog of the group's posted-records table, compacted."""
    specs = {spec.name: spec for spec in load_topic_specs(settings.topics_file)}
    internal = specs[route.LEDGER_TOPIC]
    return [
        TopicSpec(
            name=settings.state_topic,
            partitions=internal.partitions,
            replication_factor=internal.replication_factor,
            configs={**internal.configs, "cleanup.policy": "compact"},
            key="ledger table key",
        )
    ]


def _package_version() -> str:
    try:
        return version("ledgerstream")
    except PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0+unknown"


def _wire_operations(app: faust.App, rt: Runtime, settings: Settings) -> None:
    """Heartbeat canaries, consumer lag, rebalances and the tracer's flush at shutdown."""
    metrics = rt.metrics
    known_topics = {rt.topic(name) for name in (*EVENT_TOPICS, route.LEDGER_TOPIC)} | {
        rt.topic(name) for name in reference.REFERENCE_TOPICS
    }
    specs = {spec.name: spec for spec in load_topic_specs(settings.topics_file)}
    canary_partitions = range(specs[HEARTBEAT_TOPIC].partitions)
    stage_two = rt.topic(route.LEDGER_TOPIC)

    if settings.heartbeat_interval_seconds > 0:
        partitions = canary_partitions
        canary_topic = app.topic(rt.topic(HEARTBEAT_TOPIC))
        sequence = itertools.count(1)

        @app.timer(interval=settings.heartbeat_interval_seconds)
        async def send_heartbeats() -> None:
            try:
                canaries = heartbeat.canaries(
                    partitions,
                    origin=rt.processor,
                    sequence=next(sequence),
                    now=datetime.now(UTC),
                    interval_seconds=settings.heartbeat_interval_seconds,
                )
                for canary in canaries:
                    headers = canary.headers
                    if rt.tracer is not None:
                        headers = headers + rt.tracer.send_headers(
                            rt.topic(HEARTBEAT_TOPIC), HEARTBEAT_TOPIC, canary.partition
                        )
                    canary_topic.send_soon(
                        key=canary.key,
                        value=rt.codec.encode(HEARTBEAT_TOPIC, canary.value),
                        partition=canary.partition,
                        headers=cast(Any, headers),
                    )
            except Exception:  # the heartbeat age going stale is the signal; keep running
                _log.warning("could not send heartbeat canaries", exc_info=True)
                return
            metrics.heartbeats_sent.inc(len(canaries))

    @app.timer(interval=5.0)
    async def publish_consumer_lag() -> None:
        try:
            lags = await _consumer_lag(app, rt, known_topics)
        except Exception:  # a metric must never stop the worker (e.g. mid-rebalance)
            _log.debug("consumer lag not available yet", exc_info=True)
            return
        metrics.set_consumer_lag(lags)

    async def count_rebalance(_app: Any, *args: Any, **_: Any) -> None:
        assigned = {(tp.topic, tp.partition) for tp in (args[0] if args else ())}
        ours = {(topic, partition) for topic, partition in assigned if topic in known_topics}
        metrics.rebalances.inc()
        metrics.assigned_partitions.set(len(ours))
        # Positions and canary ages of partitions now owned elsewhere are stale.
        for key in set(rt.positions) - ours:
            del rt.positions[key]
        # A canary's age is taken in stage 2, on the partition of its source partition.
        owned = {partition for topic, partition in ours if topic == stage_two}
        count = specs[route.LEDGER_TOPIC].partitions
        metrics.heartbeat_ages.retain(
            {
                (HEARTBEAT_TOPIC, p)
                for p in canary_partitions
                if heartbeat.ledger_partition(p, count) in owned
            }
        )

    # mode's Signal.connect is typed narrower than the receivers it calls.
    app.on_partitions_assigned.connect(cast(Any, count_rebalance))

    if rt.tracer is not None:
        tracer = rt.tracer

        async def flush_spans(_app: Any, *_args: Any, **_: Any) -> None:
            tracer.shutdown()

        app.on_before_shutdown.connect(cast(Any, flush_spans))


async def _consumer_lag(
    app: faust.App, rt: Runtime, known_topics: set[str]
) -> dict[tuple[str, int], int]:
    """Count the records between each assigned partition's high watermark and our position.

    Standard on Apache Kafka; on the embedded broker watermarks under-report, so
    lag does too (docs/embedded-broker.md).
    """
    consumer = app.consumer
    lags: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        if tp.topic not in known_topics:
            continue  # Faust's own internal topics
        highwater = consumer.highwater(tp)
        processed = rt.positions.get((tp.topic, tp.partition))
        position = processed + 1 if processed is not None else await consumer.position(tp)
        if highwater is not None and position is not None:
            lags[(rt.logical(tp.topic), tp.partition)] = max(0, highwater - position)
    return lags


@contextlib.contextmanager
def cluster(settings: Settings) -> Iterator[Settings]:
    """Yield settings pointing at a broker: the configured cluster or a fresh embedded one."""
    if not settings.embedded:
        yield settings
        return
    with EmbeddedBroker(log_dir=settings.data_dir) as broker:
        yield settings.model_copy(
            update={"kafka_bootstrap_servers": broker.bootstrap_servers, "profile": "embedded"}
        )


def run_worker(settings: Settings) -> None:
    """Run one worker until SIGINT/SIGTERM (Faust's own worker loop)."""
    ensure_topics(
        settings.kafka_client_config(),
        state_topics(settings),
        single_node=settings.embedded_profile,
    )
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # before Faust makes its loop
    app, _ = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
