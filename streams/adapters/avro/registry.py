"""Schema ids from a Confluent-compatible schema registry (production profile).

The processor never auto-registers: the writer id of a topic is the registry's id
for the topic's newest *local* schema, looked up by its exact text under
``<topic>-value``; ``ledgerstream schemas register``
(``streams.adapters.contracts.publish``) puts the texts there first. Decoding
fetches a writer schema by id once and caches it; the reader schema is still the
topic's newest local version. Registry failures are
translated: 404 -> :class:`SchemaNotRegisteredError` / :class:`UnknownSchemaIdError`
(permanent); anything else, including connection errors, ->
:class:`RegistryUnavailableError` (transient).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import fastavro
from confluent_kafka.schema_registry import Schema as RegistrySchema
from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError
from fastavro.schema import to_parsing_canonical_form
from fastavro.types import Schema

from streams.adapters.avro.catalog import (
    SchemaCatalog,
    SchemaVersion,
    same_writer_schema,
    schema_id_of,
)
from streams.adapters.exceptions import (
    AvroDecodeError,
    RegistryUnavailableError,
    SchemaNotRegisteredError,
    UnknownSchemaIdError,
)

__all__ = ["RegistrySchemaSource"]

_NOT_FOUND = 404
_REGISTER_HINT = "run `ledgerstream schemas register` against this registry first"


def _unavailable(action: str, exc: Exception) -> RegistryUnavailableError:
    return RegistryUnavailableError(f"schema registry {action} failed: {type(exc).__name__}: {exc}")


class RegistrySchemaSource:
    """A :class:`SchemaSource` whose ids come from a schema registry, cached per process.

    Args:
        client: A confluent-kafka ``SchemaRegistryClient`` (built by the caller from
            settings; ``SchemaRegistryClient.new_client({"url": "mock://x"})`` in tests).
        catalog: The local catalog: the schemas this process writes and reads into.

    """

    def __init__(self, client: SchemaRegistryClient, catalog: SchemaCatalog) -> None:
        """Wrap a registry client; nothing is fetched until first use."""
        self._client = client
        self._catalog = catalog
        self._writers: dict[str, tuple[int, Schema]] = {}
        self._by_id: dict[int, Schema] = {}

    def writer(self, topic: str, version: int | None = None) -> tuple[int, Schema]:
        """Return the registry id of a local version (default the newest), looked up once.

        Raises:
            UnknownSubjectError: The topic (or that version) has no local schema.
            SchemaNotRegisteredError: The registry has no such subject or version.
            RegistryUnavailableError: The registry could not be asked.

        """
        key = topic if version is None else f"{topic}@{version}"
        cached = self._writers.get(key)
        if cached is not None:
            return cached
        catalog = self._catalog
        latest = catalog.latest(topic) if version is None else catalog.version(topic, version)
        try:
            registered = self._client.lookup_schema(
                latest.subject, RegistrySchema(latest.text, "AVRO")
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == _NOT_FOUND:
                raise SchemaNotRegisteredError(
                    f"{latest.subject} has no version matching local "
                    f"{topic}/v{latest.version}.avsc: {_REGISTER_HINT}"
                ) from exc
            raise _unavailable(f"lookup of {latest.subject}", exc) from exc
        except Exception as exc:  # transport, TLS, auth: the registry is not usable now
            raise _unavailable(f"lookup of {latest.subject}", exc) from exc
        schema_id = registered.schema_id
        if schema_id is None:
            raise RegistryUnavailableError(f"registry lookup of {latest.subject} returned no id")
        self._by_id.setdefault(schema_id, latest.parsed)  # our own output decodes locally
        self._writers[key] = (schema_id, latest.parsed)
        return self._writers[key]

    def history(self, topic: str) -> Sequence[SchemaVersion]:
        """Return every local version of a topic's schema, oldest first."""
        return self._catalog.history(topic)

    def writer_schema_by_id(self, schema_id: int) -> Schema:
        """Return the parsed writer schema of a registry id, fetched and parsed once.

        Raises:
            UnknownSchemaIdError: The registry has no schema with that id.
            AvroDecodeError: The registered schema is not a usable Avro schema.
            RegistryUnavailableError: The registry could not be asked.

        """
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        try:
            registered = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == _NOT_FOUND:
                raise UnknownSchemaIdError(
                    f"schema id {schema_id} is not in the schema registry", schema_id=schema_id
                ) from exc
            raise _unavailable(f"fetch of schema id {schema_id}", exc) from exc
        except Exception as exc:  # transport, TLS, auth: the registry is not usable now
            raise _unavailable(f"fetch of schema id {schema_id}", exc) from exc
        parsed = self._parse(schema_id, registered)
        self._by_id[schema_id] = parsed
        return parsed

    def reader(self, topic: str) -> SchemaVersion:
        """Return the topic's newest local version: every decode resolves into it."""
        return self._catalog.latest(topic)

    def _parse(self, schema_id: int, registered: RegistrySchema) -> Schema:
        if (registered.schema_type or "AVRO") != "AVRO" or registered.schema_str is None:
            raise AvroDecodeError(
                f"schema id {schema_id} is a {registered.schema_type} schema, not Avro",
                schema_id=schema_id,
            )
        try:
            raw = json.loads(registered.schema_str)
            parsed = fastavro.parse_schema(raw)
            canonical = to_parsing_canonical_form(raw)
        except Exception as exc:  # json or fastavro: the registered text is unusable
            raise AvroDecodeError(
                f"schema id {schema_id} from the registry does not parse: {exc}",
                schema_id=schema_id,
            ) from exc
        try:  # reuse the local parsed object when it is the same writer schema
            local = self._catalog.by_id(schema_id_of(canonical))
        except UnknownSchemaIdError:
            return parsed
        return local.parsed if same_writer_schema(local.parsed, parsed) else parsed
