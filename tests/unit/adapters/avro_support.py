"""Helpers shared by the Avro adapter tests: where schemas and fixtures live."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.types import Schema
from streams.adapters.avro import SchemaCatalog, SchemaVersion

REPO = Path(__file__).resolve().parents[3]
SCHEMAS_DIR = REPO / "schemas"
FIXTURES_DIR = REPO / "tests" / "fixtures" / "avro"


@dataclass(frozen=True)
class FixtureCase:
    """One record of ``tests/fixtures/avro/<topic>/v<N>.json``, in JSON form."""

    topic: str
    version: int
    index: int
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.topic}-v{self.version}-{self.index}"


def latest_case(topic: str, index: int = 0) -> FixtureCase:
    """The ``index``-th fixture record of a topic's newest version."""
    newest = max(c.version for c in fixture_cases() if c.topic == topic)
    return next(
        c for c in fixture_cases() if (c.topic, c.version, c.index) == (topic, newest, index)
    )


def upgraded_fixture(topic: str, version: int) -> list[dict[str, Any]] | None:
    """Hand-written ``v<N>.latest.json``: version N's fixtures as the newest version reads them."""
    path = FIXTURES_DIR / topic / f"v{version}.latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def fixture_cases() -> list[FixtureCase]:
    cases = []
    for schema_file in sorted(SCHEMAS_DIR.glob("*/v*.avsc")):
        version = int(schema_file.stem[1:])
        fixture_file = FIXTURES_DIR / schema_file.parent.name / f"v{version}.json"
        records = json.loads(fixture_file.read_text()) if fixture_file.exists() else []
        cases += [
            FixtureCase(schema_file.parent.name, version, i, record)
            for i, record in enumerate(records)
        ]
    return cases


class PinnedSource:
    """A SchemaSource that writes one topic with an older version (as an old producer)."""

    def __init__(self, catalog: SchemaCatalog, topic: str, version: int) -> None:
        self._catalog = catalog
        self._pinned = catalog.version(topic, version)

    def writer(self, topic: str, version: int | None = None) -> tuple[int, Schema]:
        if topic == self._pinned.topic and version is None:
            return self._pinned.schema_id, self._pinned.parsed
        return self._catalog.writer(topic, version)

    def history(self, topic: str) -> Sequence[SchemaVersion]:
        return self._catalog.history(topic)

    def writer_schema_by_id(self, schema_id: int) -> Schema:
        return self._catalog.writer_schema_by_id(schema_id)

    def reader(self, topic: str) -> SchemaVersion:
        return self._catalog.reader(topic)


def is_subset(part: Any, whole: Any) -> bool:
    """True if every key of ``part`` (recursively, in lists too) is in ``whole``, equal."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and is_subset(v, whole[k]) for k, v in part.items()
        )
    if isinstance(part, list):
        return (
            isinstance(whole, list)
            and len(part) == len(whole)
            and all(is_subset(p, w) for p, w in zip(part, whole, strict=True))
        )
    return bool(part == whole)


def write_schema(root: Path, topic: str, version: int, schema: dict[str, Any]) -> Path:
    """Write ``<root>/<topic>/v<version>.avsc`` (for catalogs built in a test)."""
    path = root / topic / f"v{version}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n")
    return path


def tiny_schema(*extra_fields: dict[str, Any], doc: str = "A tiny record.") -> dict[str, Any]:
    """A small documented record schema; ``extra_fields`` are appended."""
    return {
        "type": "record",
        "name": "Tiny",
        "namespace": "io.ledgerstream.test",
        "doc": doc,
        "fields": [
            {"name": "id", "type": "string", "doc": "Identifier."},
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 4},
                "doc": "An amount.",
            },
            *extra_fields,
        ],
    }
