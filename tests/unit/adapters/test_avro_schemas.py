"""The schema files themselves: documented, formatted, money never float."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.adapters.avro_support import FIXTURES_DIR, SCHEMAS_DIR

SCHEMA_FILES = sorted(SCHEMAS_DIR.glob("*/v*.avsc"))
REQUIRED_TOPICS = {
    "ref.entities",
    "ref.fx-rates",
    "pm.customers",
    "pm.projects",
    "pm.employees",
    "pm.time-entries",
    "acct.ledger-commands",
    "ledgerstream.dlq",
}
DECIMAL_KINDS = {(20, 4), (24, 12), (5, 4), (12, 8)}  # MONEY/RATE, FXRATE, FRACTION, TAXRATE


def walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every dict type definition and field in a raw schema, with its path."""
    if isinstance(node, list):
        for branch in node:
            yield from walk(branch, path)
    elif isinstance(node, dict):
        yield path, node
        if node.get("type") in ("record", "error"):
            for field in node["fields"]:
                yield f"{path}.{field['name']}", field
                yield from walk(field["type"], f"{path}.{field['name']}")
        elif node.get("type") == "array":
            yield from walk(node["items"], f"{path}[]")
        elif node.get("type") == "map":
            yield from walk(node["values"], f"{path}{{}}")


def load(path: Path) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    assert isinstance(raw, dict)
    return raw


def test_every_required_topic_has_a_v1_schema() -> None:
    assert {p.parent.name for p in SCHEMA_FILES} >= REQUIRED_TOPICS
    assert all((SCHEMAS_DIR / topic / "v1.avsc").is_file() for topic in REQUIRED_TOPICS)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_record_enum_and_field_has_a_doc(path: Path) -> None:
    undocumented = [
        where
        for where, node in walk(load(path), path.parent.name)
        if ("fields" in node or "symbols" in node or "name" in node)
        and not str(node.get("doc", "")).strip()
    ]
    assert undocumented == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_file_is_pretty_printed_json_with_two_space_indent(path: Path) -> None:
    raw = load(path)
    assert path.read_text() == json.dumps(raw, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_named_types_are_defined_once_and_money_is_never_float(path: Path) -> None:
    raw = load(path)
    assert raw["namespace"].startswith("io.ledgerstream.")
    definitions: list[str] = []
    for where, node in walk(raw, path.parent.name):
        if node.get("type") in ("record", "enum", "fixed"):
            definitions.append(node["name"])
        assert node.get("type") not in ("float", "double"), where
        if node.get("logicalType") == "decimal":
            assert node["type"] == "bytes", where
            assert (node["precision"], node["scale"]) in DECIMAL_KINDS, where
    assert len(definitions) == len(set(definitions))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_schema_version_has_two_or_three_fixture_records(path: Path) -> None:
    fixture = FIXTURES_DIR / path.parent.name / f"{path.stem}.json"
    records = json.loads(fixture.read_text())
    assert 2 <= len(records) <= 3


def test_optional_fields_default_to_null() -> None:
    for path in SCHEMA_FILES:
        for where, node in walk(load(path), path.parent.name):
            if "name" in node and isinstance(node.get("type"), list):
                assert node["type"][0] == "null", where
                assert "default" in node, where
                assert node["default"] is None, where
