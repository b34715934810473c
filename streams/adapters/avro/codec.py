"""Avro values in Confluent wire format: what every ledgerstream topic carries.

Wire format: magic byte ``0``, the writer schema id as a 4-byte big-endian
unsigned int, then the Avro binary body (no container header). Decoding reads the
writer schema by id and resolves it into the topic's newest local schema, so old
versions decode into the current shape. Every failure is raised as one of the
:mod:`streams.adapters.exceptions` decode/encode errors, never as a fastavro one.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.types import Schema

from streams.adapters.avro.catalog import SchemaSource
from streams.adapters.avro.jsonform import to_json_form
from streams.adapters.exceptions import (
    AvroDecodeError,
    AvroEncodeError,
    BadMagicByteError,
    JsonFormError,
)

__all__ = ["MAGIC_BYTE", "AvroCodec", "DecodedRecord"]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">BI")
_FASTAVRO_FIELD = re.compile(r"on field (\w+)")


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A decoded value in the topic's newest schema, and the id it was written with."""

    record: dict[str, Any]
    schema_id: int


class AvroCodec:
    """Encodes records to, and decodes them from, Confluent-framed Avro bytes.

    The schema source decides the ids: content ids from the local catalog, or
    registry ids. Per topic the codec keeps the ready-made wire header, so the hot
    path is one dict lookup plus fastavro's own work.
    """

    def __init__(self, source: SchemaSource) -> None:
        """Bind the codec to the source of schema ids it will use for every topic."""
        self._source = source
        self._writers: dict[str, tuple[bytes, Schema]] = {}

    @property
    def source(self) -> SchemaSource:
        """The schema source this codec resolves ids with."""
        return self._source

    def encode(self, topic: str, record: Mapping[str, Any]) -> bytes:
        """Serialise a record with the topic's writer schema, framed for Kafka.

        Args:
            topic: Logical topic name (the schema's directory name).
            record: Python values (``Decimal``, aware ``datetime``, ``date``, ...).

        Returns:
            Magic byte, 4-byte schema id, Avro binary body.

        Raises:
            AvroEncodeError: The record does not fit the schema (``field`` says where).
            UnknownSubjectError: The topic has no local schema.
            SchemaNotRegisteredError: The registry does not know the topic's schema.
            RegistryUnavailableError: The registry could not be asked.

        """
        writer = self._writers.get(topic)
        if writer is None:
            schema_id, parsed = self._source.writer(topic)
            writer = self._writers[topic] = (_HEADER.pack(MAGIC_BYTE, schema_id), parsed)
        header, parsed = writer
        out = BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, parsed, record)
        except Exception as exc:  # fastavro raises TypeError, ValueError, KeyError...
            raise _encode_error(topic, parsed, record, exc) from exc
        return out.getvalue()

    def decode(self, topic: str, data: bytes | None) -> DecodedRecord:
        """Deserialise a Kafka value into the topic's newest schema.

        Args:
            topic: Logical topic name; its newest local schema is the reader.
            data: The raw Kafka record value.

        Returns:
            The record as Python values and the writer schema id.

        Raises:
            BadMagicByteError: Empty or None value, or first byte is not ``0``.
            UnknownSchemaIdError: The writer id is unknown to the schema source.
            AvroDecodeError: Header or body truncated, trailing bytes, or a body
                that does not match the writer schema or resolve to the reader.
            RegistryUnavailableError: The registry could not be asked.

        """
        if not data:
            raise BadMagicByteError(
                f"{topic}: value is {'empty' if data is not None else 'null (tombstone)'}, "
                "not a Confluent-framed Avro record"
            )
        if data[0] != MAGIC_BYTE:
            raise BadMagicByteError(f"{topic}: magic byte is 0x{data[0]:02x}, expected 0x00")
        if len(data) < _HEADER.size:
            raise AvroDecodeError(
                f"{topic}: {len(data)} bytes is shorter than the 5-byte wire header"
            )
        _, schema_id = _HEADER.unpack_from(data)
        writer = self._source.writer_schema_by_id(schema_id)
        reader = self._source.reader(topic).parsed
        body = BytesIO(data)
        body.seek(_HEADER.size)
        try:
            # Same parsed object: no schema resolution needed (the common case).
            record = schemaless_reader(body, writer, None if writer is reader else reader)
        except Exception as exc:  # garbage bytes make fastavro raise almost anything
            raise AvroDecodeError(
                f"{topic}: cannot decode body with schema id {schema_id}: "
                f"{type(exc).__name__}: {exc}",
                schema_id=schema_id,
            ) from exc
        if body.tell() != len(data):
            raise AvroDecodeError(
                f"{topic}: {len(data) - body.tell()} trailing bytes after the record "
                f"(schema id {schema_id})",
                schema_id=schema_id,
            )
        if not isinstance(record, dict):
            raise AvroDecodeError(
                f"{topic}: schema id {schema_id} is not a record schema", schema_id=schema_id
            )
        return DecodedRecord(record, schema_id)


def _encode_error(
    topic: str, parsed: Schema, record: Mapping[str, Any], exc: Exception
) -> AvroEncodeError:
    """Name the offending field: re-walk the record with the schema (error path only)."""
    try:
        to_json_form(parsed, record)
    except JsonFormError as precise:
        return AvroEncodeError(f"{topic}: {precise.message}", field=precise.field)
    match = _FASTAVRO_FIELD.search(str(exc))
    return AvroEncodeError(
        f"{topic}: record does not fit the schema: {type(exc).__name__}: {exc}",
        field=match.group(1) if match else None,
    )
