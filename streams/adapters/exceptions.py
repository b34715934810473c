"""Adapter errors: foreign failures (fastavro, confluent-kafka, struct) in our terms.

Every class keeps the domain's contract: a stable ``code`` (metrics label, DLQ
``error_code``), a ``retryable`` flag and the dotted ``field`` path when known.
Decode errors also carry the writer ``schema_id`` when the header could be read.
The Avro modules translate foreign exceptions into these with ``raise ... from
exc``; nothing outside ``streams.adapters`` ever catches a fastavro or
confluent-kafka error::

    LedgerstreamError                          (streams.domain.exceptions)
     +-- PermanentError                                       -> dead letter
     |    +-- DecodeError                   AVRO_DECODE_FAILED  (schema_id)
     |    |    +-- BadMagicByteError        BAD_MAGIC_BYTE
     |    |    +-- UnknownSchemaIdError     UNKNOWN_SCHEMA_ID
     |    |    +-- AvroDecodeError          AVRO_DECODE_FAILED
     |    +-- AvroEncodeError               AVRO_ENCODE_FAILED  (field)
     |    +-- SchemaNotRegisteredError      SCHEMA_NOT_REGISTERED
     |    +-- UnknownSubjectError           UNKNOWN_SUBJECT
     |    +-- SchemaCatalogError            INVALID_SCHEMA_FILE (path)
     |    +-- JsonFormError                 INVALID_JSON_FORM   (field)
     |    +-- BrokerStartError              BROKER_START_FAILED
     |    +-- TopicMismatchError            TOPIC_MISMATCH
     |    +-- TopicsFileError               INVALID_TOPICS_FILE (field)
     |    +-- SyntheticMarkError            INVALID_SYNTHETIC_MARK (field)
     |    +-- HeartbeatError                HEARTBEAT_FAILED (a canary, never dead-lettered)
     +-- TransientError                                       -> retry, then DLQ
          +-- RegistryUnavailableError      SCHEMA_REGISTRY_UNAVAILABLE
          +-- KafkaAdminError               KAFKA_ERROR         (kafka_code)
          |    +-- BrokerUnreachableError   BROKER_UNREACHABLE  (kafka_code)
          +-- ProduceError                  PRODUCE_FAILED
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from confluent_kafka import KafkaError

from streams.domain.exceptions import PermanentError, TransientError

__all__ = [
    "AvroDecodeError",
    "AvroEncodeError",
    "BadMagicByteError",
    "BrokerStartError",
    "BrokerUnreachableError",
    "DecodeError",
    "HeartbeatError",
    "JsonFormError",
    "KafkaAdminError",
    "ProduceError",
    "RegistryUnavailableError",
    "SchemaCatalogError",
    "SchemaNotRegisteredError",
    "SyntheticMarkError",
    "TopicMismatchError",
    "TopicsFileError",
    "UnknownSchemaIdError",
    "UnknownSubjectError",
]


class DecodeError(PermanentError):
    """A record value could not be turned into a record: dead-lettered as it was.

    Attributes:
        schema_id: The writer schema id from the wire header, or None if unread.

    """

    code: ClassVar[str] = "AVRO_DECODE_FAILED"

    def __init__(
        self, message: str, *, schema_id: int | None = None, field: str | None = None
    ) -> None:
        """Keep the writer schema id next to the message and field."""
        super().__init__(message, field=field)
        self.schema_id = schema_id


class BadMagicByteError(DecodeError):
    """The value is not in Confluent wire format (empty, or first byte is not 0)."""

    code: ClassVar[str] = "BAD_MAGIC_BYTE"


class UnknownSchemaIdError(DecodeError):
    """The writer schema id is known neither to the catalog nor to the registry."""

    code: ClassVar[str] = "UNKNOWN_SCHEMA_ID"


class AvroDecodeError(DecodeError):
    """The Avro body is truncated, has trailing bytes or does not match its schema."""

    code: ClassVar[str] = "AVRO_DECODE_FAILED"


class AvroEncodeError(PermanentError):
    """A record does not fit its topic's schema (``field`` names the culprit if known)."""

    code: ClassVar[str] = "AVRO_ENCODE_FAILED"


class SchemaNotRegisteredError(PermanentError):
    """The local schema of a topic is not registered under its subject in the registry."""

    code: ClassVar[str] = "SCHEMA_NOT_REGISTERED"


class UnknownSubjectError(PermanentError):
    """No schema (or no such version) exists locally for a topic."""

    code: ClassVar[str] = "UNKNOWN_SUBJECT"


class SchemaCatalogError(PermanentError):
    """A schema file is malformed, misnamed or collides with another: fails at load.

    Attributes:
        path: The offending file or directory, if any.

    """

    code: ClassVar[str] = "INVALID_SCHEMA_FILE"

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        """Prefix the message with the offending path, if any."""
        super().__init__(f"{path}: {message}" if path is not None else message)
        self.path = path


class JsonFormError(PermanentError):
    """A value in JSON form (or a Python value) does not fit its schema at ``field``."""

    code: ClassVar[str] = "INVALID_JSON_FORM"


class RegistryUnavailableError(TransientError):
    """The schema registry could not be reached or answered with a server error."""

    code: ClassVar[str] = "SCHEMA_REGISTRY_UNAVAILABLE"


class BrokerStartError(PermanentError):
    """The embedded broker could not be started (missing extra, port races, crash)."""

    code: ClassVar[str] = "BROKER_START_FAILED"


class KafkaAdminError(TransientError):
    """The cluster refused or failed an admin or client operation.

    Attributes:
        kafka_code: The broker's error name (e.g. ``TOPIC_AUTHORIZATION_FAILED``), if any.

    """

    code: ClassVar[str] = "KAFKA_ERROR"

    def __init__(self, message: str, *, kafka_code: str | None = None) -> None:
        super().__init__(message)
        self.kafka_code = kafka_code

    @classmethod
    def from_kafka(cls, exc: Exception, operation: str) -> KafkaAdminError:
        """Translate a confluent-kafka exception, keeping the broker's error code."""
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError):
            kind = BrokerUnreachableError if error.code() in _UNREACHABLE else cls
            return kind(f"{operation}: {error.name()}: {error.str()}", kafka_code=error.name())
        return cls(f"{operation}: {exc}")


class BrokerUnreachableError(KafkaAdminError):
    """No broker of the bootstrap list answered (down, wrong address, TLS or firewall)."""

    code: ClassVar[str] = "BROKER_UNREACHABLE"


#: librdkafka's local errors for "no broker could be reached at all".
_UNREACHABLE: frozenset[int] = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
)


class TopicMismatchError(PermanentError):
    """A topic exists with another shape than ``deploy/topics.yaml`` declares."""

    code: ClassVar[str] = "TOPIC_MISMATCH"


class TopicsFileError(PermanentError):
    """``deploy/topics.yaml`` is unreadable or malformed (the entry is named)."""

    code: ClassVar[str] = "INVALID_TOPICS_FILE"


class SyntheticMarkError(PermanentError):
    """A record carries one mark of a heartbeat canary but not the other (header, key prefix)."""

    code: ClassVar[str] = "INVALID_SYNTHETIC_MARK"


class HeartbeatError(PermanentError):
    """A heartbeat canary did not post (counted in ``ledgerstream_heartbeat_failures_total``)."""

    code: ClassVar[str] = "HEARTBEAT_FAILED"


class ProduceError(TransientError):
    """Records could not be delivered: the producer never drops them silently."""

    code: ClassVar[str] = "PRODUCE_FAILED"
