"""The registry-backed schema source, against confluent-kafka's in-memory mock registry."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from streams.adapters.avro import AvroCodec, RegistrySchemaSource, SchemaCatalog, from_json_form
from streams.adapters.exceptions import (
    AvroDecodeError,
    RegistryUnavailableError,
    SchemaNotRegisteredError,
    UnknownSchemaIdError,
)
from tests.unit.adapters.avro_support import latest_case

TIME_ENTRIES = "pm.time-entries"


def mock_registry() -> SchemaRegistryClient:
    # In confluent-kafka 2.16 only new_client() turns a mock:// url into the mock client.
    return SchemaRegistryClient.new_client({"url": "mock://ledgerstream-tests"})


def time_entry(catalog: SchemaCatalog) -> dict[str, Any]:
    case = latest_case(TIME_ENTRIES)
    record = from_json_form(catalog.latest(TIME_ENTRIES).parsed, case.record)
    assert isinstance(record, dict)
    return record


def test_unregistered_subject_says_to_run_schemas_register(catalog: SchemaCatalog) -> None:
    codec = AvroCodec(RegistrySchemaSource(mock_registry(), catalog))
    with pytest.raises(SchemaNotRegisteredError, match="ledgerstream schemas register") as error:
        codec.encode(TIME_ENTRIES, time_entry(catalog))
    assert error.value.code == "SCHEMA_NOT_REGISTERED"
    assert not error.value.retryable


def test_encode_uses_the_registry_id_and_decodes_through_it(catalog: SchemaCatalog) -> None:
    client = mock_registry()
    registry_id = client.register_schema(
        f"{TIME_ENTRIES}-value", Schema(catalog.latest(TIME_ENTRIES).text, "AVRO")
    )
    codec = AvroCodec(RegistrySchemaSource(client, catalog))
    record = time_entry(catalog)

    data = codec.encode(TIME_ENTRIES, record)

    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == registry_id
    # Another process (a new source) fetches the writer schema by id from the registry.
    consumer = RegistrySchemaSource(client, catalog)
    decoded = AvroCodec(consumer).decode(TIME_ENTRIES, data)
    assert decoded.schema_id == registry_id
    assert decoded.record == record
    # Same writer schema as the local newest one: reused, so decode skips resolution.
    assert consumer.writer_schema_by_id(registry_id) is catalog.latest(TIME_ENTRIES).parsed


def test_writer_id_is_looked_up_once_and_writer_schemas_fetched_once(
    catalog: SchemaCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mock_registry()
    client.register_schema(
        f"{TIME_ENTRIES}-value", Schema(catalog.latest(TIME_ENTRIES).text, "AVRO")
    )
    calls: list[str] = []
    for name in ("lookup_schema", "get_schema"):
        original = getattr(client, name)

        def counting(*args: Any, _original: Any = original, _name: str = name) -> Any:
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(client, name, counting)
    producer = AvroCodec(RegistrySchemaSource(client, catalog))
    consumer = AvroCodec(RegistrySchemaSource(client, catalog))

    for _ in range(3):
        consumer.decode(TIME_ENTRIES, producer.encode(TIME_ENTRIES, time_entry(catalog)))

    assert calls == ["lookup_schema", "get_schema"]


def test_unknown_id_in_the_registry_is_an_unknown_schema_id(catalog: SchemaCatalog) -> None:
    codec = AvroCodec(RegistrySchemaSource(mock_registry(), catalog))
    with pytest.raises(UnknownSchemaIdError) as error:
        codec.decode(TIME_ENTRIES, struct.pack(">bI", 0, 4242) + b"\x02")
    assert (error.value.code, error.value.schema_id) == ("UNKNOWN_SCHEMA_ID", 4242)


def test_a_non_avro_schema_id_is_a_decode_error(catalog: SchemaCatalog) -> None:
    client = mock_registry()
    json_id = client.register_schema("other-value", Schema('{"type": "object"}', "JSON"))
    codec = AvroCodec(RegistrySchemaSource(client, catalog))
    with pytest.raises(AvroDecodeError, match="not Avro") as error:
        codec.decode(TIME_ENTRIES, struct.pack(">bI", 0, json_id) + b"\x02")
    assert error.value.schema_id == json_id


def test_an_unreachable_registry_is_a_transient_error(catalog: SchemaCatalog) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SchemaRegistryClient({"url": f"http://127.0.0.1:{port}", "max.retries": 0})
    source = RegistrySchemaSource(client, catalog)
    try:
        with pytest.raises(RegistryUnavailableError) as lookup:
            source.writer(TIME_ENTRIES)
        with pytest.raises(RegistryUnavailableError):
            source.writer_schema_by_id(12345)
    finally:
        client.close()
    assert lookup.value.code == "SCHEMA_REGISTRY_UNAVAILABLE"
    assert lookup.value.retryable
    assert lookup.value.__cause__ is not None


@pytest.mark.parametrize("status", [500, 503, 401])
def test_registry_server_errors_are_transient(
    catalog: SchemaCatalog, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    client = mock_registry()

    def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise SchemaRegistryError(status, status * 100, "registry says no")

    monkeypatch.setattr(client, "lookup_schema", failing)
    monkeypatch.setattr(client, "get_schema", failing)
    source = RegistrySchemaSource(client, catalog)
    with pytest.raises(RegistryUnavailableError, match="registry says no"):
        source.writer(TIME_ENTRIES)
    with pytest.raises(RegistryUnavailableError):
        source.writer_schema_by_id(1)


def test_reader_is_the_newest_local_version(catalog: SchemaCatalog) -> None:
    source = RegistrySchemaSource(mock_registry(), catalog)
    assert source.reader(TIME_ENTRIES) is catalog.latest(TIME_ENTRIES)
