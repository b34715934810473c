"""A record's JSON form <-> the Python values fastavro reads and writes.

JSON form (fixtures, dry-run input, the producer CLI): decimals as strings
(``"150.00"``), dates ``"YYYY-MM-DD"``, timestamp-millis as ISO-8601 with an offset,
bytes as base64, a ``["null", T]`` union as null or the plain value, enums as their
symbol. Python form (what the codec takes and returns): ``Decimal``, ``date``, aware
UTC ``datetime``, ``bytes``. Converters are compiled once per schema; errors name the
dotted path and the expected type: ``lines[0].amount: expected decimal string, got 'x'``.
A missing record field takes its schema default, read as a JSON-form value.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NoReturn

import fastavro
from fastavro.types import Schema

from streams.adapters.exceptions import JsonFormError

__all__ = ["from_json_form", "to_json_form"]

Converter = Callable[[Any, str], Any]
_MISSING = object()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


def _is_number(v: Any) -> bool:
    return type(v) is not bool and isinstance(v, int | float) and math.isfinite(v)


_PRIMITIVES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "null": (lambda v: v is None, "null"),
    "boolean": (lambda v: type(v) is bool, "boolean"),
    "string": (lambda v: isinstance(v, str), "string"),
    "int": (lambda v: type(v) is int and -(2**31) <= v < 2**31, "int"),
    "long": (lambda v: type(v) is int and -(2**63) <= v < 2**63, "long"),
    "float": (_is_number, "float number"),
    "double": (_is_number, "double number"),
}
# Keyed by id(schema); the entry holds the schema so that id is never reused.
_CACHE: dict[tuple[int, bool], tuple[Schema, Converter]] = {}


def from_json_form(schema: Schema, value: Any) -> Any:
    """Convert a JSON-form value into the Decimal/date/datetime/bytes values the codec encodes.

    Args:
        schema: The (preferably parsed) Avro schema the value follows.
        value: The value as loaded from JSON.

    Raises:
        JsonFormError: The value does not fit the schema; ``field`` is the dotted path.

    """
    return _compiled(schema, to_json=False)(value, "")


def to_json_form(schema: Schema, value: Any) -> Any:
    """Convert a Python value (decoded, or a ``model_dump()``) into plain JSON-ready values.

    Args:
        schema: The (preferably parsed) Avro schema the value follows.
        value: The Python value.

    Raises:
        JsonFormError: The value does not fit the schema; ``field`` is the dotted path.

    """
    return _compiled(schema, to_json=True)(value, "")


def _compiled(schema: Schema, *, to_json: bool) -> Converter:
    key = (id(schema), to_json)
    entry = _CACHE.get(key)
    if entry is not None and entry[0] is schema:
        return entry[1]
    is_parsed = isinstance(schema, dict) and "__fastavro_parsed" in schema
    parsed = schema if is_parsed else fastavro.parse_schema(schema)
    named = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
    converter = _Builder(named, to_json=to_json).build(parsed)[0]
    _CACHE[key] = (schema, converter)
    return converter


def json_text(value: Any, *, limit: int = 80) -> str:
    """Write a value as JSON for a message (``null``, ``true``, ``"x"``), cut at ``limit``."""
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = str(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _fail(path: str, expected: str, value: Any) -> NoReturn:
    shown = json_text(value)
    raise JsonFormError(
        f"{path or '(record)'}: expected {expected}, got {shown}", field=path or None
    )


Leaf = tuple[Converter, Converter, str]  # from JSON form, to JSON form, what is expected


def _primitive(kind: str) -> Leaf:
    if kind not in _PRIMITIVES:
        raise JsonFormError(f"unsupported Avro type {kind!r}")
    accepts, label = _PRIMITIVES[kind]
    as_float = kind in ("float", "double")

    def primitive(v: Any, p: str) -> Any:
        if not accepts(v):
            _fail(p, label, v)
        return float(v) if as_float else v

    return primitive, primitive, label


def _bytes() -> Leaf:
    def from_json(v: Any, p: str) -> Any:
        try:
            return base64.b64decode(v, validate=True)
        except (TypeError, binascii.Error):
            _fail(p, "base64 string", v)

    def to_json(v: Any, p: str) -> Any:
        if not isinstance(v, bytes | bytearray | memoryview):
            _fail(p, "bytes", v)
        return base64.b64encode(v).decode("ascii")

    return from_json, to_json, "base64 string"


def _decimal(precision: int, scale: int) -> Leaf:
    limit = Decimal(10) ** (precision - scale)
    label = f"decimal of at most {precision} digits, {scale} after the point"

    def checked(d: Decimal, v: Any, p: str) -> Decimal:
        exponent = d.as_tuple().exponent
        if not isinstance(exponent, int) or -exponent > scale or abs(d) >= limit:
            _fail(p, label, v)
        return d

    def from_json(v: Any, p: str) -> Any:
        if not isinstance(v, str) or not _DECIMAL.fullmatch(v):
            _fail(p, "decimal string", v)
        return checked(Decimal(v), v, p)

    def to_json(v: Any, p: str) -> Any:
        if type(v) is bool or not isinstance(v, Decimal | int):
            _fail(p, "Decimal", v)
        return format(checked(Decimal(v), v, p), "f")

    return from_json, to_json, "decimal string"


def _date() -> Leaf:
    label = "date string YYYY-MM-DD"

    def from_json(v: Any, p: str) -> Any:
        try:
            return date.fromisoformat(v) if _DATE.fullmatch(v) else _fail(p, label, v)
        except (TypeError, ValueError):
            _fail(p, label, v)

    def to_json(v: Any, p: str) -> Any:
        if not isinstance(v, date) or isinstance(v, datetime):  # a datetime is a date too
            _fail(p, "date", v)
        return v.isoformat()

    return from_json, to_json, label


def _timestamp() -> Leaf:
    label = "ISO-8601 timestamp with offset"

    def from_json(v: Any, p: str) -> Any:
        try:
            out = datetime.fromisoformat(v)
        except (TypeError, ValueError):
            _fail(p, label, v)
        if out.tzinfo is None or out.microsecond % 1000:
            _fail(p, f"{label}, to the millisecond", v)
        return out.astimezone(UTC)

    def to_json(v: Any, p: str) -> Any:
        if not isinstance(v, datetime) or v.tzinfo is None:
            _fail(p, "timezone-aware datetime", v)
        return v.astimezone(UTC).isoformat(timespec="milliseconds")

    return from_json, to_json, label


def _enum(symbols: list[str]) -> Leaf:
    known, label = frozenset(symbols), "one of " + ", ".join(symbols)

    def enum(v: Any, p: str) -> Any:
        if not isinstance(v, str) or v not in known:
            _fail(p, label, v)
        return str(v)  # a StrEnum member becomes its plain symbol

    return enum, enum, label


def _leaf(schema: Mapping[str, Any]) -> Leaf | None:
    kind, logical = schema["type"], schema.get("logicalType")
    if logical == "decimal" and kind == "bytes":
        return _decimal(int(schema["precision"]), int(schema.get("scale", 0)))
    if logical == "date" and kind == "int":
        return _date()
    if logical == "timestamp-millis" and kind == "long":
        return _timestamp()
    return _enum(schema["symbols"]) if kind == "enum" else None


class _Builder:
    """Compiles a schema into a converter for one direction (named types built once)."""

    def __init__(self, named: Mapping[str, Any], *, to_json: bool) -> None:
        self._named = named
        self._to_json = to_json
        self._memo: dict[str, tuple[Converter, str]] = {}

    def build(self, schema: Any) -> tuple[Converter, str]:
        """Return the converter of a schema node and a description of what it expects."""
        if isinstance(schema, list):
            return self._union([self.build(branch) for branch in schema])
        if isinstance(schema, str):
            if schema in self._memo:
                return self._memo[schema]
            if schema in self._named:
                return self.build(self._named[schema])
            return self._pick(_bytes() if schema == "bytes" else _primitive(schema))
        if (leaf := _leaf(schema)) is not None:
            built = self._pick(leaf)
        elif schema["type"] in ("record", "error"):
            built = self._record(schema)
        elif schema["type"] in ("array", "map"):
            built = self._container(schema)
        else:
            return self.build(schema["type"])
        if "name" in schema:
            self._memo[schema["name"]] = built
        return built

    def _pick(self, leaf: Leaf) -> tuple[Converter, str]:
        return (leaf[1] if self._to_json else leaf[0]), leaf[2]

    def _record(self, schema: Mapping[str, Any]) -> tuple[Converter, str]:
        fields: dict[str, tuple[Converter, Any]] = {}

        def record(v: Any, p: str) -> Any:
            if not isinstance(v, Mapping):
                _fail(p, "object", v)
            prefix = f"{p}." if p else ""
            if not self._to_json and (unknown := [k for k in v if k not in fields]):
                where = f"{prefix}{unknown[0]}"
                raise JsonFormError(f"{where}: unknown field, not in the schema", field=where)
            out: dict[str, Any] = {}
            for name, (convert, default) in fields.items():
                value = v.get(name, default)  # a default is read as a JSON-form value
                if value is _MISSING:
                    _fail(f"{prefix}{name}", "a value (required field)", None)
                out[name] = convert(value, f"{prefix}{name}")
            return out

        self._memo[schema["name"]] = (record, "object")  # before its fields: recursive types
        for f in schema["fields"]:
            fields[f["name"]] = (self.build(f["type"])[0], f.get("default", _MISSING))
        return record, "object"

    def _container(self, schema: Mapping[str, Any]) -> tuple[Converter, str]:
        if schema["type"] == "array":
            item = self.build(schema["items"])[0]

            def array(v: Any, p: str) -> Any:
                if not isinstance(v, list | tuple):
                    _fail(p, "array", v)
                return [item(x, f"{p}[{i}]") for i, x in enumerate(v)]

            return array, "array"
        value = self.build(schema["values"])[0]

        def mapping(v: Any, p: str) -> Any:
            if not isinstance(v, Mapping) or not all(isinstance(k, str) for k in v):
                _fail(p, "object with string keys", v)
            return {k: value(x, f"{p}[{k}]") for k, x in v.items()}

        return mapping, "object"

    def _union(self, branches: list[tuple[Converter, str]]) -> tuple[Converter, str]:
        # JSON form writes a union as the plain value or null: only ["null", T] is unambiguous.
        others = [convert for convert, desc in branches if desc != "null"]
        if len(others) != 1:
            raise JsonFormError("only unions of null and one other type have a JSON form")
        other, nullable = others[0], len(branches) == 2

        def union(v: Any, p: str) -> Any:
            return None if v is None and nullable else other(v, p)

        return union, " or ".join(desc for _, desc in branches)
