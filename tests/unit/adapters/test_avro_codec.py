"""The codec: Confluent wire format, old versions into the newest reader, precise errors."""

from __future__ import annotations

import io
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st
from streams.adapters.avro import AvroCodec, SchemaCatalog, from_json_form
from streams.adapters.exceptions import (
    AvroDecodeError,
    AvroEncodeError,
    BadMagicByteError,
    DecodeError,
    UnknownSchemaIdError,
    UnknownSubjectError,
)
from streams.domain.exceptions import PermanentError
from tests.unit.adapters.avro_support import (
    FixtureCase,
    PinnedSource,
    latest_case,
    tiny_schema,
    upgraded_fixture,
    write_schema,
)

TIME_ENTRIES = "pm.time-entries"


def python_record(catalog: SchemaCatalog, topic: str, index: int = 0) -> dict[str, Any]:
    case = latest_case(topic, index)
    record = from_json_form(catalog.version(topic, case.version).parsed, case.record)
    assert isinstance(record, dict)
    return record


def test_every_fixture_encodes_with_its_version_and_decodes_with_the_newest_reader(
    catalog: SchemaCatalog, fixture_case: FixtureCase
) -> None:
    written = catalog.version(fixture_case.topic, fixture_case.version)
    codec = AvroCodec(PinnedSource(catalog, fixture_case.topic, fixture_case.version))
    latest = catalog.latest(fixture_case.topic)
    reader_fields = {f["name"] for f in latest.raw["fields"]}
    upgraded = upgraded_fixture(fixture_case.topic, fixture_case.version)
    # What the newest reader should see: the hand-written translation where the topic
    # has translators, else the old record's surviving fields plus defaults.
    expected = from_json_form(
        latest.parsed,
        upgraded[fixture_case.index]
        if upgraded is not None
        else {k: v for k, v in fixture_case.record.items() if k in reader_fields},
    )

    data = codec.encode(fixture_case.topic, from_json_form(written.parsed, fixture_case.record))
    decoded = AvroCodec(catalog).decode(fixture_case.topic, data)

    assert decoded.schema_id == written.schema_id
    assert decoded.version == fixture_case.version
    assert decoded.record == expected


def test_wire_format_is_magic_zero_then_big_endian_id_then_avro_body(
    catalog: SchemaCatalog,
) -> None:
    record = python_record(catalog, TIME_ENTRIES)
    latest = catalog.latest(TIME_ENTRIES)
    body = io.BytesIO()
    schemaless_writer(body, latest.parsed, record)

    data = AvroCodec(catalog).encode(TIME_ENTRIES, record)

    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == latest.schema_id
    assert data[5:] == body.getvalue()


def test_old_version_bytes_decode_into_the_newer_shape_with_defaults(tmp_path: Path) -> None:
    write_schema(tmp_path, "pm.tiny", 1, tiny_schema())
    note = {"name": "note", "type": ["null", "string"], "default": None, "doc": "A note."}
    write_schema(tmp_path, "pm.tiny", 2, tiny_schema(note))
    catalog = SchemaCatalog.from_directory(tmp_path)
    old_producer = AvroCodec(PinnedSource(catalog, "pm.tiny", 1))
    record = from_json_form(catalog.version("pm.tiny", 1).parsed, {"id": "a", "amount": "1.50"})

    decoded = AvroCodec(catalog).decode("pm.tiny", old_producer.encode("pm.tiny", record))

    assert decoded.schema_id == catalog.version("pm.tiny", 1).schema_id
    assert decoded.record == {**record, "note": None}


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (None, BadMagicByteError, "BAD_MAGIC_BYTE"),
        (b"", BadMagicByteError, "BAD_MAGIC_BYTE"),
        (b"\x01\x00\x00\x00\x07\x02", BadMagicByteError, "BAD_MAGIC_BYTE"),
        (b'{"entry_id": 1}', BadMagicByteError, "BAD_MAGIC_BYTE"),
        (b"\x00\x00\x00\x01", AvroDecodeError, "AVRO_DECODE_FAILED"),
    ],
    ids=["none", "empty", "magic-1", "json", "4-bytes"],
)
def test_unframed_values_raise_precise_errors_without_schema_id(
    catalog: SchemaCatalog, data: bytes | None, error: type[DecodeError], code: str
) -> None:
    with pytest.raises(error) as raised:
        AvroCodec(catalog).decode(TIME_ENTRIES, data)
    assert raised.value.code == code
    assert raised.value.schema_id is None
    assert not raised.value.retryable


def test_unknown_schema_id_raises_with_the_id(catalog: SchemaCatalog) -> None:
    known = {sv.schema_id for sv in catalog.all_versions()}
    unknown = next(i for i in range(1, 100) if i not in known)
    with pytest.raises(UnknownSchemaIdError) as raised:
        AvroCodec(catalog).decode(TIME_ENTRIES, struct.pack(">bI", 0, unknown) + b"\x02")
    assert (raised.value.code, raised.value.schema_id) == ("UNKNOWN_SCHEMA_ID", unknown)


@pytest.mark.parametrize("cut", [1, 10, 30])
def test_truncated_body_raises_avro_decode_error_with_schema_id(
    catalog: SchemaCatalog, cut: int
) -> None:
    codec = AvroCodec(catalog)
    data = codec.encode(TIME_ENTRIES, python_record(catalog, TIME_ENTRIES))
    with pytest.raises(AvroDecodeError) as raised:
        codec.decode(TIME_ENTRIES, data[:-cut])
    assert raised.value.code == "AVRO_DECODE_FAILED"
    assert raised.value.schema_id == catalog.latest(TIME_ENTRIES).schema_id
    assert raised.value.__cause__ is not None  # the fastavro error is kept as the cause


def test_trailing_bytes_are_a_decode_error(catalog: SchemaCatalog) -> None:
    codec = AvroCodec(catalog)
    data = codec.encode(TIME_ENTRIES, python_record(catalog, TIME_ENTRIES))
    with pytest.raises(AvroDecodeError, match="1 trailing bytes"):
        codec.decode(TIME_ENTRIES, data + b"\x00")


def test_bytes_of_another_topic_do_not_resolve_into_this_topic(catalog: SchemaCatalog) -> None:
    codec = AvroCodec(catalog)
    data = codec.encode("pm.customers", python_record(catalog, "pm.customers"))
    with pytest.raises(AvroDecodeError) as raised:
        codec.decode(TIME_ENTRIES, data)
    assert raised.value.schema_id == catalog.latest("pm.customers").schema_id
    assert raised.value.field == "entry_id"  # the first field a customer cannot fill
    # reading only the routing fields (stage 1) names the same field
    with pytest.raises(AvroDecodeError) as routed:
        codec.decode_fields(TIME_ENTRIES, data, frozenset({"project_id", "employee_id"}))
    assert (routed.value.field, routed.value.schema_id) == ("entry_id", raised.value.schema_id)


def test_a_field_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    count = {"name": "count", "type": "string", "doc": "A count, written as text."}
    write_schema(tmp_path, "pm.tiny", 1, tiny_schema(count))
    write_schema(tmp_path, "pm.tiny", 2, tiny_schema(count | {"type": "int"}))
    catalog = SchemaCatalog.from_directory(tmp_path)
    writer = catalog.version("pm.tiny", 1)
    record = from_json_form(writer.parsed, {"id": "a", "amount": "1.50", "count": "three"})
    data = AvroCodec(PinnedSource(catalog, "pm.tiny", 1)).encode("pm.tiny", record)

    with pytest.raises(AvroDecodeError) as raised:
        AvroCodec(catalog).decode("pm.tiny", data)

    assert raised.value.field == "count"
    assert (
        "field 'count': type_mismatch: reader type: int not compatible with writer type: string"
        in str(raised.value)
    )
    assert raised.value.schema_id == writer.schema_id


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=120))
def test_garbage_bodies_decode_or_raise_decode_error_never_a_foreign_error(
    catalog: SchemaCatalog, body: bytes
) -> None:
    for topic in (TIME_ENTRIES, "acct.ledger-commands", "ledgerstream.dlq"):
        header = struct.pack(">bI", 0, catalog.latest(topic).schema_id)
        try:
            outcome: object = AvroCodec(catalog).decode(topic, header + body).record
        except DecodeError as exc:  # anything else (a fastavro error) fails the test
            outcome = exc.schema_id
        assert isinstance(outcome, dict) or outcome == catalog.latest(topic).schema_id


def test_encode_of_a_wrong_type_names_the_field(catalog: SchemaCatalog) -> None:
    record = {**python_record(catalog, TIME_ENTRIES), "version": "95"}
    with pytest.raises(AvroEncodeError) as raised:
        AvroCodec(catalog).encode(TIME_ENTRIES, record)
    assert raised.value.code == "AVRO_ENCODE_FAILED"
    assert raised.value.field == "version"
    assert 'version: expected int, got "95"' in str(raised.value)
    assert isinstance(raised.value, PermanentError)


def test_encode_names_a_nested_field_and_a_missing_one(catalog: SchemaCatalog) -> None:
    command = python_record(catalog, "acct.ledger-commands")
    command["lines"][1]["dimensions"]["cost_class"] = "OTHER"
    with pytest.raises(AvroEncodeError) as nested:
        AvroCodec(catalog).encode("acct.ledger-commands", command)
    assert nested.value.field == "lines[1].dimensions.cost_class"

    entry = python_record(catalog, TIME_ENTRIES)
    del entry["recorded_at"]
    with pytest.raises(AvroEncodeError) as missing:
        AvroCodec(catalog).encode(TIME_ENTRIES, entry)
    assert missing.value.field == "recorded_at"


def test_encode_rejects_a_decimal_finer_than_the_schema_scale(catalog: SchemaCatalog) -> None:
    record = {**python_record(catalog, TIME_ENTRIES), "rate_override": Decimal("1.23456")}
    with pytest.raises(AvroEncodeError) as raised:
        AvroCodec(catalog).encode(TIME_ENTRIES, record)
    assert raised.value.field == "rate_override"


def test_encode_to_an_unknown_topic_is_an_unknown_subject(catalog: SchemaCatalog) -> None:
    with pytest.raises(UnknownSubjectError):
        AvroCodec(catalog).encode("pm.nope", {})
