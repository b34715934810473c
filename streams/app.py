"""Wiring: one Faust app with its agents, the reference loader and the HTTP pages.

``create_app`` turns :class:`Settings` into a ready-to-run Faust app; nothing
else builds clients. Outputs go through Faust's buffered producer
(``send_soon``): Faust flushes it before every offset commit, so a committed
offset never runs ahead of the commands and dead letters it produced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from typing import Any, cast

import faust
from confluent_kafka.schema_registry import SchemaRegistryClient

from streams.adapters.avro import AvroCodec, RegistrySchemaSource, SchemaCatalog, SchemaSource
from streams.adapters.broker import EmbeddedBroker
from streams.adapters.dlq import SourceRecord
from streams.adapters.metrics import CONTENT_TYPE, Metrics
from streams.adapters.reference_loader import ReferenceLoader
from streams.agents import reference, time_entries
from streams.agents.runtime import Output, Runtime
from streams.domain.reference import ReferenceBook
from streams.settings import Settings

_log = logging.getLogger(__name__)

EXIT_FATAL = 70


def schema_source(settings: Settings) -> SchemaSource:
    """Registry-backed schema ids when a registry is configured, else the embedded catalog."""
    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    if settings.schema_registry_url is None:
        return catalog
    config: dict[str, str] = {"url": settings.schema_registry_url}
    if settings.schema_registry_basic_auth is not None:
        config["basic.auth.user.info"] = settings.schema_registry_basic_auth.get_secret_value()
    return RegistrySchemaSource(SchemaRegistryClient(config), catalog)


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
    return config


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
    if settings.embedded_profile:
        # BROKER.md: JoinGroup waits the whole rebalance timeout on Tansu.
        profile |= {
            "broker_rebalance_timeout": 3.0,
            "broker_session_timeout": 10.0,
            "broker_heartbeat_interval": 1.0,
        }
    return profile


class _Sender:
    """Queue an output on Faust's producer buffer (flushed before each commit)."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, Any] = {}

    def __call__(self, output: Output) -> None:
        topic = self._topics.get(output.topic)
        if topic is None:
            topic = self._topics[output.topic] = self._app.topic(output.topic)
        topic.send_soon(key=output.key, value=output.value, headers=cast(Any, output.headers))


def create_app(settings: Settings) -> tuple[faust.App, Runtime]:
    """Build the worker's Faust app and the runtime its agents share."""
    if settings.kafka_bootstrap_servers is None:
        raise ValueError("create_app needs KAFKA_BOOTSTRAP_SERVERS (the CLI starts a broker)")
    metrics = Metrics()
    rt = Runtime(
        codec=AvroCodec(schema_source(settings)),
        book=ReferenceBook(),
        metrics=metrics,
        rule_version=settings.rule_version,
        topic_prefix=settings.topic_prefix,
        processor=f"{settings.app_id}@{socket.gethostname()}",
    )
    app = faust.App(settings.app_id, **_faust_settings(settings))
    send = _Sender(app)

    def on_reference(topic: str, key: bytes | None, value: bytes | None) -> None:
        reference.apply_reference(rt, SourceRecord(topic, -1, -1, key, value, ()))

    loader = ReferenceLoader(
        _aiokafka_config(settings),
        [rt.topic(name) for name in reference.REFERENCE_TOPICS],
        on_reference,
        on_ready=lambda: metrics.reference_ready.set(1),
    )

    @app.task
    async def load_reference_data() -> None:
        try:
            await loader.run()
        except Exception:
            # Without complete reference data nothing can post: stop the worker
            # hard so no offset is committed past unprocessed records.
            _log.exception("reference loader failed; stopping the worker")
            os._exit(EXIT_FATAL)

    @app.timer(interval=1.0)
    async def publish_table_sizes() -> None:
        metrics.set_reference_sizes(rt.book.sizes())

    time_entries.register(
        app,
        rt,
        send=send,
        ready=loader.ready,
        batch_size=settings.batch_size,
        within=settings.batch_within_seconds,
    )
    reference.register(app, rt, send=send)

    @app.page("/metrics")
    async def metrics_page(self: Any, request: Any) -> Any:
        return self.bytes(metrics.exposition(), content_type=CONTENT_TYPE)

    @app.page("/ready")
    async def ready_page(self: Any, request: Any) -> Any:
        ready = loader.ready.is_set()
        return self.json({"ready": ready, "tables": rt.book.sizes()}, status=200 if ready else 503)

    return app, rt


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
    app, _ = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
