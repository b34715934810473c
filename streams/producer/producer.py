"""Send validated events to Kafka: Confluent wire format, a stable key, a ``traceparent``.

The key is the event's own id (``entry_id``, ``expense_id``...), so every version of
one record lands on the same partition, in order. Values are written with the
topic's newest schema version; with a registry its id must already be registered
(``ledgerstream schemas register``): producers never auto-register.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from streams.adapters.avro import AvroCodec, SchemaCatalog, SchemaSource
from streams.adapters.kafka_io import RecordProducer
from streams.producer.events import EVENT_TOPICS, Event, EventBuilder, default_catalog
from streams.producer.exceptions import EventRejectedError
from streams.producer.tracing import TRACEPARENT, is_traceparent, new_traceparent

__all__ = ["EventProducer", "SentEvent"]


@dataclass(frozen=True, slots=True)
class SentEvent:
    """What was queued: topic (physical), key, writer schema id and trace context."""

    topic: str
    key: str
    schema_id: int
    traceparent: str


class EventProducer:
    """Validate, serialise and send events; use as a context manager to flush on exit.

    Args:
        client_config: confluent-kafka settings (``bootstrap.servers``, security...).
        source: Where schema ids come from: a registry source, or the local catalog
            (content ids) by default.
        catalog: The schemas events are validated against (default: the shipped ones).
        topic_prefix: Prefix of physical topic names.

    Example::

        with EventProducer({"bootstrap.servers": "kafka:9092"}) as producer:
            producer.send("pm.time-entries", {"entry_id": "TE-1", ...})

    """

    def __init__(
        self,
        client_config: Mapping[str, str],
        *,
        source: SchemaSource | None = None,
        catalog: SchemaCatalog | None = None,
        topic_prefix: str = "",
    ) -> None:
        """Connect the producer; nothing is sent until :meth:`send`."""
        catalog = catalog or default_catalog()
        self._builder = EventBuilder(catalog)
        self._codec = AvroCodec(source or catalog)
        self._producer = RecordProducer(client_config)
        self._prefix = topic_prefix

    def build(
        self, topic: str, data: BaseModel | Mapping[str, Any], *, json_form: bool = False
    ) -> Event:
        """Validate an event without sending it (see :func:`streams.producer.build_event`)."""
        return self._builder.build(topic, data, json_form=json_form)

    def serialize(self, event: Event) -> bytes:
        """Return the event's value in the Confluent wire format (newest schema version)."""
        return self._codec.encode(event.topic, event.record, version=event.version)

    def send(
        self,
        topic: str,
        data: BaseModel | Mapping[str, Any] | Event,
        *,
        json_form: bool = False,
        traceparent: str | None = None,
    ) -> SentEvent:
        """Validate, serialise and queue one event (delivery is confirmed by :meth:`flush`).

        Args:
            topic: Logical topic, e.g. ``pm.expenses``.
            data: An :class:`Event`, the topic's pydantic model, or a dict of fields.
            json_form: ``data`` is a dict in JSON form.
            traceparent: W3C trace context to attach; default: the current
                OpenTelemetry span's, or a new trace.

        Raises:
            EventRejectedError: The event is invalid (nothing was queued).
            SchemaNotRegisteredError: The registry does not know the newest schema.

        """
        event = data if isinstance(data, Event) else self.build(topic, data, json_form=json_form)
        if event.topic != topic:
            raise EventRejectedError(topic, f"event was built for {event.topic}")
        trace = traceparent or new_traceparent()
        if not is_traceparent(trace):
            raise EventRejectedError(topic, f"not a W3C traceparent: {trace!r}", field=TRACEPARENT)
        value = self.serialize(event)
        physical = f"{self._prefix}{topic}"
        self._producer.send(physical, event.key.encode(), value, [(TRACEPARENT, trace.encode())])
        schema_id = int.from_bytes(value[1:5], "big")
        return SentEvent(physical, event.key, schema_id, trace)

    def delete(self, topic: str, key: str) -> None:
        """Queue a tombstone: the record of ``key`` on ``topic`` is deleted (a null value)."""
        if topic not in EVENT_TOPICS:
            raise EventRejectedError(topic, "not a topic producers write")
        self._producer.send(f"{self._prefix}{topic}", key.encode(), None)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued event is delivered.

        Raises:
            ProduceError: Some events could not be delivered.

        """
        self._producer.flush(timeout)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()
