"""Avro values in Confluent wire format: what every ledgerstream topic carries.

Wire format: magic byte ``0``, the writer schema id as a 4-byte big-endian
unsigned int, then the Avro binary body (no container header). Every failure is
raised as one of the :mod:`streams.adapters.exceptions` decode/encode errors, never
as a fastavro one.

Decoding always yields the topic's newest shape, by one of three read plans chosen
once per (topic, writer id) and cached:

* the writer is the newest local version: read as is (the hot path);
* the writer is an older local version of a topic with translators: read with the
  writer's own schema, then translate step by step (:mod:`.translate`);
* anything else (a topic without translators, or a version newer than ours that
  the registry knows): Avro schema resolution into the newest local version.

Encoding uses the newest version, except that a record shaped like an older
version (it carries a field the newest version no longer has, and every one of
its fields exists in that older version) is written with that version, as an old
producer would; ``version=`` forces a version.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.types import Schema

from streams.adapters.avro.catalog import SchemaSource
from streams.adapters.avro.jsonform import to_json_form
from streams.adapters.avro.resolution import field_problems, record_schema
from streams.adapters.avro.translate import TRANSLATORS, Translator, Translators
from streams.adapters.exceptions import (
    AvroDecodeError,
    AvroEncodeError,
    BadMagicByteError,
    JsonFormError,
)
from streams.domain.exceptions import LedgerstreamError

__all__ = ["MAGIC_BYTE", "AvroCodec", "DecodedRecord"]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">BI")
_FASTAVRO_FIELD = re.compile(r"on field (\w+)")


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A decoded value in the topic's newest shape, and the id it was written with.

    ``version`` is the local schema version of the writer id (None when the id is
    not a local version, e.g. a newer version known only to the registry).
    """

    record: dict[str, Any]
    schema_id: int
    version: int | None = None


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """How to read bodies of one writer id on one topic (see the module docstring)."""

    writer: Schema
    reader: Schema | None  # None: read with the writer's own schema, no resolution
    upgrade: Translator | None
    version: int | None


@dataclass(slots=True)
class _WritePlan:
    """A topic's newest writer, and the field sets of its older versions (newest first)."""

    header: bytes
    parsed: Schema
    fields: frozenset[str]
    older: tuple[tuple[int, frozenset[str]], ...]
    pinned: dict[int, tuple[bytes, Schema]]

    def version_for(self, keys: Any) -> int | None:
        """Return the newest older version whose fields include every key, if any."""
        for version, fields in self.older:
            if keys <= fields:
                return version
        return None


def _field_names(raw: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(f["name"] for f in raw.get("fields", ()))


class AvroCodec:
    """Encodes records to, and decodes them from, Confluent-framed Avro bytes.

    The schema source decides the ids: content ids from the local catalog, or
    registry ids. Per topic the codec keeps the ready-made wire header and, per
    writer id, a read plan, so the hot path is two dict lookups plus fastavro's
    own work.
    """

    def __init__(self, source: SchemaSource, translators: Translators = TRANSLATORS) -> None:
        """Bind the codec to its source of schema ids and the translators of old versions."""
        self._source = source
        self._translators = translators
        self._writers: dict[str, _WritePlan] = {}
        self._plans: dict[tuple[str, int], _ReadPlan] = {}
        #: Per (topic, writer id) that does not resolve: the field to blame, and why.
        self._unresolvable: dict[tuple[str, int], tuple[str, str] | None] = {}
        #: Per (topic, fields): the newest schema cut down to those fields.
        self._projections: dict[tuple[str, frozenset[str]], Schema] = {}

    @property
    def source(self) -> SchemaSource:
        """The schema source this codec resolves ids with."""
        return self._source

    def encode(self, topic: str, record: Mapping[str, Any], *, version: int | None = None) -> bytes:
        """Serialise a record with the topic's writer schema, framed for Kafka.

        Args:
            topic: Logical topic name (the schema's directory name).
            record: Python values (``Decimal``, aware ``datetime``, ``date``, ...).
            version: Write with this local version; default: the newest, or the
                older version the record is shaped like (module docstring).

        Returns:
            Magic byte, 4-byte schema id, Avro binary body.

        Raises:
            AvroEncodeError: The record does not fit the schema (``field`` says where).
            UnknownSubjectError: The topic (or that version) has no local schema.
            SchemaNotRegisteredError: The registry does not know the topic's schema.
            RegistryUnavailableError: The registry could not be asked.

        """
        plan = self._writers.get(topic) or self._write_plan(topic)
        if version is None and plan.older and not record.keys() <= plan.fields:
            version = plan.version_for(record.keys())
        if version is None:
            header, parsed = plan.header, plan.parsed
        else:
            pinned = plan.pinned.get(version)
            if pinned is None:
                schema_id, schema = self._source.writer(topic, version)
                pinned = plan.pinned[version] = (_HEADER.pack(MAGIC_BYTE, schema_id), schema)
            header, parsed = pinned
        out = BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, parsed, record)
        except Exception as exc:  # fastavro raises TypeError, ValueError, KeyError...
            raise _encode_error(topic, parsed, record, exc) from exc
        return out.getvalue()

    def _write_plan(self, topic: str) -> _WritePlan:
        schema_id, parsed = self._source.writer(topic)
        history = self._source.history(topic)
        newest = history[-1]
        older = tuple((sv.version, _field_names(sv.raw)) for sv in reversed(history[:-1]))
        plan = _WritePlan(
            _HEADER.pack(MAGIC_BYTE, schema_id), parsed, _field_names(newest.raw), older, {}
        )
        self._writers[topic] = plan
        return plan

    def decode(self, topic: str, data: bytes | None) -> DecodedRecord:
        """Deserialise a Kafka value into the topic's newest shape (old versions translated).

        Args:
            topic: Logical topic name; its newest local schema is the shape returned.
            data: The raw Kafka record value.

        Returns:
            The record as Python values, the writer schema id and its local version.

        Raises:
            BadMagicByteError: Empty or None value, or first byte is not ``0``.
            UnknownSchemaIdError: The writer id is unknown to the schema source.
            AvroDecodeError: Header or body truncated, trailing bytes, a body that
                does not match the writer schema or resolve to the reader, or a
                record its translator cannot handle.
            InvalidEventError: A translator rejected a value the old version allowed
                (``field`` as the producer wrote it; ``schema_id`` set).
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
        plan = self._plans.get((topic, schema_id)) or self._read_plan(topic, schema_id)
        body = BytesIO(data)
        body.seek(_HEADER.size)
        try:
            record = schemaless_reader(body, plan.writer, plan.reader)
        except SchemaResolutionError as exc:  # fastavro says only "string is not int"
            field, why = self._unresolved(topic, schema_id, plan) or (None, str(exc))
            raise AvroDecodeError(
                f"{topic}: cannot decode body with schema id {schema_id}: {why}",
                schema_id=schema_id,
                field=field,
            ) from exc
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
        if plan.upgrade is not None:
            record = _upgrade(topic, plan.upgrade, plan.version, record, schema_id)
        return DecodedRecord(record, schema_id, plan.version)

    def decode_fields(
        self, topic: str, data: bytes | None, fields: frozenset[str]
    ) -> dict[str, Any]:
        """Read only some fields of a Kafka value (a router needs a few ids, not the record).

        Avro schema resolution reads the writer's body into the topic's newest schema
        cut down to ``fields`` (those it has): the other fields are skipped, not
        built, and nothing is validated beyond Avro types. Whoever needs the record
        whole decodes and validates it with :meth:`decode`.

        Raises:
            BadMagicByteError: Empty or None value, or first byte is not ``0``.
            UnknownSchemaIdError: The writer id is unknown to the schema source.
            AvroDecodeError: Header or body truncated, trailing bytes, or a body
                that does not match the writer schema or does not resolve.
            RegistryUnavailableError: The registry could not be asked.

        """
        if not data or data[0] != MAGIC_BYTE or len(data) < _HEADER.size:
            return self.decode(topic, data).record  # raises the precise error
        _, schema_id = _HEADER.unpack_from(data)
        writer = self._source.writer_schema_by_id(schema_id)
        reader = self._projections.get((topic, fields)) or self._projection(topic, fields)
        body = BytesIO(data)
        body.seek(_HEADER.size)
        try:
            record = schemaless_reader(body, writer, reader)
            read = isinstance(record, dict) and body.tell() == len(data)
        except Exception:  # garbage bytes make fastavro raise almost anything
            read = False
        if not read:  # the whole decode names the field and the reason
            return self.decode(topic, data).record
        return cast(dict[str, Any], record)

    def _projection(self, topic: str, fields: frozenset[str]) -> Schema:
        raw = dict(self._source.reader(topic).raw)
        raw["fields"] = [f for f in raw.get("fields", ()) if f["name"] in fields]
        projection = self._projections[(topic, fields)] = parse_schema(raw)
        return projection

    def _unresolved(self, topic: str, schema_id: int, plan: _ReadPlan) -> tuple[str, str] | None:
        """Name the first field the writer's schema cannot fill (cached per writer id)."""
        key = (topic, schema_id)
        if key not in self._unresolvable and plan.reader is not None:
            problems = field_problems(record_schema(plan.reader), record_schema(plan.writer))
            self._unresolvable[key] = next(
                ((f, f"field {f!r}: {rule}: {detail}") for f, rule, detail in problems if f),
                None,
            )
        return self._unresolvable.get(key)

    def _read_plan(self, topic: str, schema_id: int) -> _ReadPlan:
        writer = self._source.writer_schema_by_id(schema_id)
        newest = self._source.reader(topic)
        if writer is newest.parsed:
            plan = _ReadPlan(writer, None, None, newest.version)
        else:
            local = next((sv for sv in self._source.history(topic) if sv.parsed is writer), None)
            version = None if local is None else local.version
            try:
                upgrade = (
                    None
                    if local is None
                    else self._translators.chain(topic, local.version, newest.version)
                )
            except LookupError as exc:  # a gap in the translators: a bug, not the record's
                raise AvroDecodeError(f"{exc}", schema_id=schema_id) from exc
            reader = newest.parsed if upgrade is None else None
            plan = _ReadPlan(writer, reader, upgrade, version)
        self._plans[(topic, schema_id)] = plan
        return plan


def _upgrade(
    topic: str, upgrade: Translator, version: int | None, record: dict[str, Any], schema_id: int
) -> dict[str, Any]:
    """Translate an older version's record, keeping the writer id on any error."""
    try:
        return upgrade(record)
    except LedgerstreamError as exc:  # e.g. an invalid value only the old version allowed
        exc.schema_id = schema_id
        raise
    except Exception as exc:  # a record the translator did not foresee
        raise AvroDecodeError(
            f"{topic}: cannot translate v{version} record (schema id {schema_id}): "
            f"{type(exc).__name__}: {exc}",
            schema_id=schema_id,
        ) from exc


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
