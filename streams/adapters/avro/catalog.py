"""The local schema catalog: every ``schemas/<topic>/v<N>.avsc``, parsed once.

Schema ids are content-addressed so that every process agrees on them with no
coordination: the first 4 bytes of the SHA-256 of the schema's Parsing Canonical
Form, big-endian, masked to a positive 31-bit int. Two versions with the same
canonical form *and* the same logical types are the same writer schema and share
an id; any other collision fails at load time (the canonical form drops logical
types, so a version that only changes a decimal's scale is such a collision).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import fastavro
from fastavro.schema import to_parsing_canonical_form
from fastavro.types import Schema

from streams.adapters.exceptions import (
    SchemaCatalogError,
    UnknownSchemaIdError,
    UnknownSubjectError,
)

__all__ = [
    "SchemaCatalog",
    "SchemaSource",
    "SchemaVersion",
    "same_writer_schema",
    "schema_id_of",
]

_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
_ID_MASK = 0x7FFF_FFFF
# Attributes that change neither the bytes nor their meaning for a writer schema
# (plus fastavro's bookkeeping keys in a parsed schema).
_NON_WIRE_KEYS = frozenset(
    {"doc", "default", "aliases", "order", "__fastavro_parsed", "__named_schemas"}
)


def schema_id_of(canonical_form: str) -> int:
    """Return the content-addressed schema id of a Parsing Canonical Form."""
    digest = hashlib.sha256(canonical_form.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & _ID_MASK


@dataclass(frozen=True, slots=True, eq=False)
class SchemaVersion:
    """One version of one topic's value schema.

    Attributes:
        topic: Logical topic name, e.g. ``pm.time-entries``.
        subject: Registry subject (TopicNameStrategy), ``<topic>-value``.
        version: The N of ``v<N>.avsc``.
        schema_id: Content-addressed id (see module docstring).
        parsed: The fastavro-parsed schema (parse once, reuse everywhere).
        raw: The schema as read from the file.
        text: Compact JSON of ``raw``: what is registered and looked up in a registry.
        canonical_form: The Parsing Canonical Form the id is derived from.

    """

    topic: str
    subject: str
    version: int
    schema_id: int
    parsed: Schema = field(repr=False)
    raw: dict[str, Any] = field(repr=False)
    text: str = field(repr=False)
    canonical_form: str = field(repr=False)


class SchemaSource(Protocol):
    """Where the codec gets writer ids, writer schemas and reader schemas."""

    def writer(self, topic: str, version: int | None = None) -> tuple[int, Schema]:
        """Return the schema id and parsed schema to encode with (default: the newest)."""
        ...

    def history(self, topic: str) -> Sequence[SchemaVersion]:
        """Return every local version of a topic's schema, oldest first."""
        ...

    def writer_schema_by_id(self, schema_id: int) -> Schema:
        """Return the parsed writer schema of an id read from the wire."""
        ...

    def reader(self, topic: str) -> SchemaVersion:
        """Return the schema a topic's values are decoded into (the newest local one)."""
        ...


def _wire_form(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _wire_form(v) for k, v in node.items() if k not in _NON_WIRE_KEYS}
    if isinstance(node, list):
        return [_wire_form(item) for item in node]
    return node


def same_writer_schema(a: Schema, b: Schema) -> bool:
    """Return True if two parsed schemas read and write the same bytes the same way.

    Unlike the Parsing Canonical Form this keeps logical types (a decimal's scale
    changes what the bytes mean) and ignores docs, defaults, aliases and order.
    """
    return bool(_wire_form(a) == _wire_form(b))


def _load_version(topic: str, version: int, path: Path) -> SchemaVersion:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaCatalogError(f"cannot read schema JSON: {exc}", path=path) from exc
    if not isinstance(raw, dict) or raw.get("type") != "record":
        raise SchemaCatalogError("top-level schema must be an Avro record", path=path)
    try:
        parsed = fastavro.parse_schema(raw)
        canonical = to_parsing_canonical_form(raw)
    except Exception as exc:  # fastavro raises many kinds (SchemaParseException, KeyError...)
        raise SchemaCatalogError(
            f"invalid Avro schema: {type(exc).__name__}: {exc}", path=path
        ) from exc
    schema_id = schema_id_of(canonical)
    if schema_id == 0:
        raise SchemaCatalogError(
            "schema id hashes to 0 (invalid); rename a type or field", path=path
        )
    return SchemaVersion(
        topic=topic,
        subject=f"{topic}-value",
        version=version,
        schema_id=schema_id,
        parsed=parsed,
        raw=raw,
        text=json.dumps(raw, separators=(",", ":"), ensure_ascii=False),
        canonical_form=canonical,
    )


def _load_topic(directory: Path) -> list[SchemaVersion]:
    found: dict[int, Path] = {}
    for path in directory.glob("*.avsc"):
        match = _VERSION_FILE.fullmatch(path.name)
        if match is None:
            raise SchemaCatalogError("schema files must be named v<N>.avsc", path=path)
        found[int(match.group(1))] = path
    if sorted(found) != list(range(1, len(found) + 1)):
        raise SchemaCatalogError(
            f"versions must run from v1 without gaps, found {sorted(found)}", path=directory
        )
    return [_load_version(directory.name, n, found[n]) for n in sorted(found)]


class SchemaCatalog:
    """Every local schema version, indexed by topic, subject and content id.

    It is itself a :class:`SchemaSource`: the writer and reader of a topic are both
    its newest version, and ids resolve against every version on disk.
    """

    def __init__(self, versions: list[SchemaVersion]) -> None:
        """Index already-loaded versions; prefer :meth:`from_directory`."""
        self._by_topic: dict[str, list[SchemaVersion]] = {}
        self._by_id: dict[int, SchemaVersion] = {}
        self._writers: dict[str, tuple[int, Schema]] = {}
        for sv in sorted(versions, key=lambda v: (v.topic, v.version)):
            self._by_topic.setdefault(sv.topic, []).append(sv)
            other = self._by_id.get(sv.schema_id)
            if other is not None and not same_writer_schema(other.parsed, sv.parsed):
                raise SchemaCatalogError(
                    f"schema id {sv.schema_id} of {sv.topic} v{sv.version} collides with "
                    f"{other.topic} v{other.version}; change either schema"
                )
            self._by_id[sv.schema_id] = sv  # the newest of identical writer schemas wins
        for topic, svs in self._by_topic.items():
            self._writers[topic] = (svs[-1].schema_id, svs[-1].parsed)

    @classmethod
    def from_directory(cls, path: Path) -> SchemaCatalog:
        """Load and parse every ``<topic>/v<N>.avsc`` under a directory, once.

        Args:
            path: The ``schemas/`` directory.

        Returns:
            The catalog of every topic's versions.

        Raises:
            SchemaCatalogError: A file is unreadable, misnamed, not a valid Avro
                record schema, or its id collides with a different schema.

        """
        if not path.is_dir():
            raise SchemaCatalogError("schema directory not found", path=path)
        versions: list[SchemaVersion] = []
        for directory in sorted(p for p in path.iterdir() if p.is_dir()):
            versions.extend(_load_topic(directory))
        return cls(versions)

    def subjects(self) -> list[str]:
        """Return every subject (``<topic>-value``) the catalog holds, sorted."""
        return [f"{topic}-value" for topic in sorted(self._by_topic)]

    def topics(self) -> list[str]:
        """Return every logical topic the catalog holds a schema for, sorted."""
        return sorted(self._by_topic)

    def all_versions(self) -> list[SchemaVersion]:
        """Return every version of every topic, by topic then version (for registering)."""
        return [sv for topic in sorted(self._by_topic) for sv in self._by_topic[topic]]

    def versions(self, topic: str) -> list[int]:
        """Return the version numbers of a topic's schema, oldest first."""
        return [sv.version for sv in self._history(topic)]

    def latest(self, topic: str) -> SchemaVersion:
        """Return the newest version of a topic's schema (its reader schema)."""
        return self._history(topic)[-1]

    def version(self, topic: str, n: int) -> SchemaVersion:
        """Return version ``n`` of a topic's schema.

        Raises:
            UnknownSubjectError: The topic or that version does not exist locally.

        """
        history = self._history(topic)
        if not 1 <= n <= len(history):
            raise UnknownSubjectError(f"no version {n} of {topic}-value (have 1..{len(history)})")
        return history[n - 1]

    def by_id(self, schema_id: int) -> SchemaVersion:
        """Return the version whose content id is ``schema_id``.

        Raises:
            UnknownSchemaIdError: No local schema has that id.

        """
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise UnknownSchemaIdError(
                f"schema id {schema_id} is not in the local schema catalog", schema_id=schema_id
            ) from None

    def writer(self, topic: str, version: int | None = None) -> tuple[int, Schema]:
        """Return the id and parsed schema to encode with: the newest, or version ``version``.

        Raises:
            UnknownSubjectError: The topic or that version does not exist locally.

        """
        if version is not None:
            sv = self.version(topic, version)
            return sv.schema_id, sv.parsed
        try:
            return self._writers[topic]
        except KeyError:
            self._history(topic)  # raises UnknownSubjectError
            raise

    def history(self, topic: str) -> Sequence[SchemaVersion]:
        """Return every version of a topic's schema, oldest first.

        Raises:
            UnknownSubjectError: The topic has no local schema.

        """
        return tuple(self._history(topic))

    def writer_schema_by_id(self, schema_id: int) -> Schema:
        """Return the parsed schema of a content id read from the wire."""
        return self.by_id(schema_id).parsed

    def reader(self, topic: str) -> SchemaVersion:
        """Return a topic's newest version, which every decode resolves into."""
        return self.latest(topic)

    def _history(self, topic: str) -> list[SchemaVersion]:
        try:
            return self._by_topic[topic]
        except KeyError:
            raise UnknownSubjectError(
                f"no local schema for topic {topic!r} (subject {topic}-value)"
            ) from None
