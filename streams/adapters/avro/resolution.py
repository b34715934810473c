"""Why one Avro schema cannot read what another wrote, named field by field.

Apache Avro's ``ReaderWriterCompatibilityChecker`` (the rules a Confluent registry
applies). When it says no, each top-level field is checked on its own so the
problem names the field (the checker's own locations get lost in unions). The
schema gate asks before a version is published; the codec asks when a record's
writer schema does not resolve into ours, so its dead letter names the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    lookup_writer_field,
)

__all__ = ["field_problems", "readable", "record_schema"]

_CHECKER: Any = ReaderWriterCompatibilityChecker  # its __init__ is unannotated


def record_schema(schema: Any) -> avro.schema.RecordSchema:
    """Parse a record schema with Apache Avro: its JSON text, or a (fastavro-parsed) dict."""
    text = schema if isinstance(schema, str) else json.dumps(_plain(schema))
    parsed = avro.schema.parse(text)
    if not isinstance(parsed, avro.schema.RecordSchema):
        raise TypeError(f"{text[:80]} is not a record schema")
    return parsed


def readable(reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
    """Return True if ``reader`` can read what ``writer`` wrote."""
    result = _CHECKER().get_compatibility(reader, writer)
    return result.compatibility is not SchemaCompatibilityType.incompatible


def field_problems(
    reader: avro.schema.RecordSchema, writer: avro.schema.RecordSchema
) -> list[tuple[str | None, str, str]]:
    """Return (field or None, rule, detail) for each way ``reader`` fails to read ``writer``."""
    if readable(reader, writer):
        return []
    problems: list[tuple[str | None, str, str]] = []
    aliases: Any = reader.props.get("aliases") or []
    if reader.fullname != writer.fullname and writer.fullname not in aliases:
        problems.append((None, "name_mismatch", f"{writer.fullname} -> {reader.fullname}"))
    for reader_field in reader.fields:
        writer_field = lookup_writer_field(writer_schema=writer, reader_field=reader_field)
        if writer_field is None:
            if not reader_field.has_default:
                problems.append(
                    (reader_field.name, "reader_field_missing_default_value", "no default")
                )
            continue
        result = _CHECKER().get_compatibility(reader_field.type, writer_field.type)
        if result.compatibility is SchemaCompatibilityType.incompatible:
            kinds = sorted({kind.value for kind in result.incompatibilities})
            rule = kinds[0] if kinds else "type_mismatch"
            if isinstance(writer_field.type, avro.schema.UnionSchema):
                rule = "missing_union_branch"  # a branch the writer may send has no match
            detail = "; ".join(sorted(result.messages)) or "incompatible types"
            problems.append((reader_field.name, rule, detail))
    return problems or [(None, "type_mismatch", "incompatible (no single field to blame)")]


def _plain(node: Any) -> Any:
    """Return a schema without fastavro's bookkeeping keys (``__fastavro_parsed``...)."""
    if isinstance(node, Mapping):
        return {k: _plain(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
