"""The operator audit trail: one record per operator action on ``ledgerstream.audit``.

Replays, redrives and toggle changes each leave one record saying who did
what, when, from where, with which arguments and what came of it. The topic is
not compacted and keeps records for years (``deploy/topics.yaml``); records are
keyed by the action's id.

The value is JSON (``content-type: application/json``, ``"format": 1``), not
Avro: these are operator events read by people and log pipelines, not by the
accounting sink, and they carry free-form arguments. A schema under
``schemas/ledgerstream.audit/`` can replace it as ``format`` 2 without changing
the key or the topic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.adapters.exceptions import KafkaAdminError
from streams.adapters.kafka_io import RecordProducer

__all__ = ["AUDIT_TOPIC", "AuditEvent", "AuditLog"]

_log = logging.getLogger(__name__)

AUDIT_TOPIC: Final = "ledgerstream.audit"
FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One operator action: who, what, with which arguments, what came of it, when.

    Attributes:
        action_id: Unique id of this action (the record's key).
        action: e.g. ``replay`` or ``dlq.redrive``.
        operator: Who ran it (``--operator``, else the OS user).
        host: Where it ran from.
        arguments: The action's arguments as given (JSON values).
        counts: What it counted (partitions moved, records re-driven ...).
        outcome: ``applied``, ``dry-run``, ``refused`` or ``failed``.
        started_at: When it started (aware).
        finished_at: When it finished (aware).
        error: Why it was refused or failed, if it was.

    """

    action_id: str
    action: str
    operator: str
    host: str
    arguments: Mapping[str, Any]
    counts: Mapping[str, int]
    outcome: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Serialise as the topic's JSON value (format 1, keys sorted)."""
        return json.dumps(
            {
                "format": FORMAT,
                "action_id": self.action_id,
                "action": self.action,
                "operator": self.operator,
                "host": self.host,
                "arguments": dict(self.arguments),
                "counts": dict(self.counts),
                "outcome": self.outcome,
                "error": self.error,
                "details": dict(self.details),
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(),
            },
            sort_keys=True,
            default=str,
        ).encode()


class AuditLog:
    """Writes audit events to the (physical) audit topic; every write is flushed."""

    def __init__(self, client_config: Mapping[str, str], topic: str) -> None:
        self._client = dict(client_config)
        self.topic = topic

    def check(self, timeout: float = 30.0) -> None:
        """Fail before an action if its audit record could not be written.

        Raises:
            KafkaAdminError: The audit topic does not exist (``ledgerstream topics create``).

        """
        config: dict[str, Any] = {**self._client, "logger": _log}
        admin = AdminClient(config)
        try:
            topics = admin.list_topics(timeout=timeout).topics
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, "list topics") from exc
        if self.topic not in topics:
            raise KafkaAdminError(
                f"audit topic {self.topic} does not exist: run `ledgerstream topics create` "
                "first (operator actions are not run unaudited)"
            )

    def write(self, event: AuditEvent) -> None:
        """Publish one audit record and wait for it to be delivered.

        Raises:
            ProduceError: The record was not delivered.

        """
        producer = RecordProducer(self._client, linger_ms=0)
        producer.send(
            self.topic,
            event.action_id.encode(),
            event.to_json(),
            [("content-type", b"application/json")],
        )
        producer.flush()
