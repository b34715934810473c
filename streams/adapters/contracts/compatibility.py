"""Can one schema version read what another wrote? Apache Avro's checker, then a round trip.

:func:`check_pair` asks two independent questions of a (reader, writer) pair:

1. Apache Avro's ``ReaderWriterCompatibilityChecker``, field by field
   (:mod:`streams.adapters.avro.resolution`, which the codec shares).
2. A fastavro round trip: every fixture record of the writer version is written
   with the writer schema and read with the reader schema; plain values that both
   versions carry must come back equal. This catches what the checker ignores,
   such as a decimal whose scale changed.

Every problem says which direction broke, the field, the rule and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Final

import avro.schema
from fastavro import schemaless_reader, schemaless_writer

from streams.adapters.avro.catalog import SchemaVersion
from streams.adapters.avro.jsonform import from_json_form
from streams.adapters.avro.resolution import field_problems, readable, record_schema
from streams.adapters.exceptions import JsonFormError

__all__ = [
    "LOGICAL_TYPE",
    "ROUND_TRIP",
    "Incompatibility",
    "avro_schema",
    "check_pair",
    "compatible",
]

ROUND_TRIP: Final = "round_trip"
LOGICAL_TYPE: Final = "logical_type_changed"
_LOGICAL_KEYS: Final = ("logicalType", "precision", "scale")
_FASTAVRO_FIELD: Final = re.compile(r"field (\w+)")
_ADVICE: Final = {
    "reader_field_missing_default_value": (
        "field added without a default (give it one, or an alias naming the old field)",
        "field removed although it had no default (keep it, or it needed a default)",
    ),
    "type_mismatch": ("type changed incompatibly", "type changed incompatibly"),
    "missing_union_branch": (
        "the reader's type lacks a branch the writer may send (e.g. a nullable field "
        "made required: keep the null branch, require it in the canonical model)",
    )
    * 2,
    "missing_enum_symbols": (
        "the writer may send enum symbols the reader lacks, and the reader's enum has "
        "no default symbol",
    )
    * 2,
    "name_mismatch": ("named type renamed (add its old full name to aliases)",) * 2,
    "fixed_size_mismatch": ("fixed size changed",) * 2,
    ROUND_TRIP: ("fixture round trip failed",) * 2,
    LOGICAL_TYPE: (
        "logical type changed: Avro's checker ignores it, but the same bytes now mean "
        "another value (a decimal's scale, a timestamp's unit)",
    )
    * 2,
}


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One way a reader version fails to read what a writer version wrote."""

    subject: str
    reader: int
    writer: int
    field: str | None
    rule: str
    detail: str

    def __str__(self) -> str:
        if self.reader > self.writer:
            direction = f"backward: v{self.reader} cannot read records written with v{self.writer}"
        else:
            direction = f"forward: v{self.reader} readers cannot read v{self.writer} records"
        advice = _ADVICE.get(self.rule, (self.rule, self.rule))[self.reader < self.writer]
        where = f"field {self.field}" if self.field else "record"
        return f"{self.subject} {direction}: {where}: rule {self.rule}: {advice} ({self.detail})"


def avro_schema(sv: SchemaVersion) -> avro.schema.RecordSchema:
    """Parse a version with Apache Avro (the checker's own schema objects)."""
    return record_schema(sv.text)


def check_pair(
    reader: SchemaVersion, writer: SchemaVersion, fixtures: Sequence[Mapping[str, Any]]
) -> list[Incompatibility]:
    """Return every way ``reader`` fails to read what ``writer`` wrote (empty: compatible).

    Args:
        reader: The version that reads.
        writer: The version that wrote.
        fixtures: The writer version's fixture records, in JSON form.

    """
    found = [
        Incompatibility(reader.subject, reader.version, writer.version, field, rule, detail)
        for field, rule, detail in field_problems(avro_schema(reader), avro_schema(writer))
    ]
    found += [
        Incompatibility(reader.subject, reader.version, writer.version, field, LOGICAL_TYPE, detail)
        for field, detail in _logical_problems(reader, writer)
    ]
    # Resolution errors of the round trip only repeat what the checker said, if it said no.
    found += [
        Incompatibility(reader.subject, reader.version, writer.version, field, ROUND_TRIP, detail)
        for field, detail in _round_trip(reader, writer, fixtures, resolution_errors=not found)
    ]
    return found


def compatible(reader: SchemaVersion, writer: SchemaVersion) -> bool:
    """Return True if Apache Avro's checker says ``reader`` reads what ``writer`` wrote."""
    return readable(avro_schema(reader), avro_schema(writer))


def _logical(field_type: Any) -> list[tuple[Any, ...]]:
    """Return the logical-type attributes of a field's non-null branches."""
    branches = field_type if isinstance(field_type, list) else [field_type]
    return [
        tuple(b.get(k) for k in _LOGICAL_KEYS)
        for b in branches
        if isinstance(b, Mapping) and "logicalType" in b
    ]


def _logical_problems(reader: SchemaVersion, writer: SchemaVersion) -> list[tuple[str, str]]:
    """Top-level fields both versions carry whose logical type (or decimal shape) differs."""
    written = {f["name"]: f for f in writer.raw["fields"]}
    problems = []
    for field in reader.raw["fields"]:
        names = (field["name"], *field.get("aliases", ()))
        source = next((written[n] for n in names if n in written), None)
        if source is None:
            continue
        now, before = _logical(field["type"]), _logical(source["type"])
        if now != before:
            shown = ", ".join(
                f"{k}={v}" for k, v in zip(_LOGICAL_KEYS, (before or [()])[0], strict=False)
            )
            problems.append((field["name"], f"v{writer.version} has {shown or 'none'}"))
    return problems


def _enum_default(field_type: Any, named: Mapping[str, Any]) -> Any:
    """Return the default symbol of a field whose type is an enum (or nullable enum)."""
    branches = field_type if isinstance(field_type, list) else [field_type]
    for branch in branches:
        node = named.get(branch, branch) if isinstance(branch, str) else branch
        if isinstance(node, Mapping) and node.get("type") == "enum":
            return node.get("default")
    return None


def _round_trip(
    reader: SchemaVersion,
    writer: SchemaVersion,
    fixtures: Sequence[Mapping[str, Any]],
    *,
    resolution_errors: bool,
) -> list[tuple[str | None, str]]:
    problems: list[tuple[str | None, str]] = []
    named = reader.parsed.get("__named_schemas", {}) if isinstance(reader.parsed, dict) else {}
    for number, fixture in enumerate(fixtures, start=1):
        try:
            wrote: dict[str, Any] = from_json_form(writer.parsed, fixture)
        except JsonFormError as exc:
            problems.append((exc.field, f"fixture #{number} does not fit v{writer.version}: {exc}"))
            continue
        body = BytesIO()
        schemaless_writer(body, writer.parsed, wrote)
        body.seek(0)
        try:
            read: Any = schemaless_reader(body, writer.parsed, reader.parsed)
        except Exception as exc:  # fastavro's resolution errors have many types
            if resolution_errors:
                named = _FASTAVRO_FIELD.search(str(exc))
                detail = f"fixture #{number}: {type(exc).__name__}: {exc}"
                problems.append((named.group(1) if named else None, detail))
            continue
        for field in reader.raw["fields"]:
            name = field["name"]
            source = next((n for n in (name, *field.get("aliases", ())) if n in wrote), None)
            if source is None or isinstance(wrote[source], dict | list):
                continue
            got, sent = read[name], wrote[source]
            if got != sent and got != _enum_default(field["type"], named):
                problems.append(
                    (
                        name,
                        f"fixture #{number}: wrote {sent!r} as v{writer.version}, "
                        f"read {got!r} as v{reader.version}",
                    )
                )
    return problems
