"""The schema catalog: content-addressed ids every process agrees on, clear load errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastavro.schema import to_parsing_canonical_form
from streams.adapters.avro import SchemaCatalog
from streams.adapters.avro import catalog as catalog_module
from streams.adapters.exceptions import (
    SchemaCatalogError,
    UnknownSchemaIdError,
    UnknownSubjectError,
)
from tests.unit.adapters.avro_support import SCHEMAS_DIR, tiny_schema, write_schema


def independent_id(path: Path) -> int:
    """The id scheme, computed from the file without the catalog's code."""
    canonical = to_parsing_canonical_form(json.loads(path.read_text()))
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big") & 0x7FFFFFFF


def test_schema_ids_are_the_sha256_of_the_parsing_canonical_form(catalog: SchemaCatalog) -> None:
    for sv in catalog.all_versions():
        path = SCHEMAS_DIR / sv.topic / f"v{sv.version}.avsc"
        assert sv.schema_id == independent_id(path)
        assert 0 < sv.schema_id < 2**31


def test_two_catalogs_loaded_independently_agree_on_every_id() -> None:
    first = SchemaCatalog.from_directory(SCHEMAS_DIR)
    second = SchemaCatalog.from_directory(SCHEMAS_DIR)
    assert [(v.subject, v.version, v.schema_id) for v in first.all_versions()] == [
        (v.subject, v.version, v.schema_id) for v in second.all_versions()
    ]
    for sv in first.all_versions():
        assert second.by_id(sv.schema_id).subject == sv.subject


def test_every_topic_directory_is_a_subject_with_its_versions(catalog: SchemaCatalog) -> None:
    topics = sorted(p.name for p in SCHEMAS_DIR.iterdir() if p.is_dir())
    assert catalog.subjects() == [f"{t}-value" for t in topics]
    for topic in topics:
        files = sorted((SCHEMAS_DIR / topic).glob("v*.avsc"))
        assert catalog.versions(topic) == list(range(1, len(files) + 1))
        latest = catalog.latest(topic)
        assert latest is catalog.version(topic, len(files))
        assert catalog.writer(topic) == (latest.schema_id, latest.parsed)
        assert catalog.reader(topic) is latest


def test_ids_differ_between_topics(catalog: SchemaCatalog) -> None:
    ids = [sv.schema_id for sv in catalog.all_versions()]
    assert len(ids) == len(set(ids))


def test_unknown_topic_version_and_id_raise_adapter_errors(catalog: SchemaCatalog) -> None:
    with pytest.raises(UnknownSubjectError) as topic_error:
        catalog.latest("pm.nope")
    assert topic_error.value.code == "UNKNOWN_SUBJECT"
    with pytest.raises(UnknownSubjectError, match="no version 99"):
        catalog.version("pm.time-entries", 99)
    with pytest.raises(UnknownSchemaIdError) as id_error:
        catalog.by_id(7)
    assert (id_error.value.code, id_error.value.schema_id) == ("UNKNOWN_SCHEMA_ID", 7)


def test_malformed_json_names_the_file_and_the_position(tmp_path: Path) -> None:
    bad = tmp_path / "pm.broken" / "v1.avsc"
    bad.parent.mkdir()
    bad.write_text('{"type": "record",\n  "name": }')
    with pytest.raises(SchemaCatalogError, match=r"pm\.broken/v1\.avsc.*line 2") as error:
        SchemaCatalog.from_directory(tmp_path)
    assert error.value.path == bad


def test_invalid_avro_names_the_file_and_the_problem(tmp_path: Path) -> None:
    schema = tiny_schema({"name": "x", "type": "Nowhere", "doc": "Unknown type."})
    write_schema(tmp_path, "pm.bad", 1, schema)
    with pytest.raises(SchemaCatalogError, match=r"v1\.avsc: invalid Avro schema.*Nowhere"):
        SchemaCatalog.from_directory(tmp_path)


@pytest.mark.parametrize("name", ["schema.avsc", "v01.avsc", "v1.json.avsc"])
def test_misnamed_schema_file_is_rejected(tmp_path: Path, name: str) -> None:
    (tmp_path / "pm.x").mkdir()
    (tmp_path / "pm.x" / name).write_text(json.dumps(tiny_schema()))
    with pytest.raises(SchemaCatalogError, match=r"v<N>\.avsc"):
        SchemaCatalog.from_directory(tmp_path)


def test_a_gap_between_versions_is_rejected(tmp_path: Path) -> None:
    write_schema(tmp_path, "pm.x", 1, tiny_schema())
    write_schema(tmp_path, "pm.x", 3, tiny_schema())
    with pytest.raises(SchemaCatalogError, match="without gaps"):
        SchemaCatalog.from_directory(tmp_path)


def test_a_doc_only_change_is_the_same_writer_schema_and_shares_its_id(tmp_path: Path) -> None:
    write_schema(tmp_path, "pm.x", 1, tiny_schema())
    write_schema(tmp_path, "pm.x", 2, tiny_schema(doc="A better explained tiny record."))
    loaded = SchemaCatalog.from_directory(tmp_path)
    v1, v2 = loaded.version("pm.x", 1), loaded.version("pm.x", 2)
    assert v1.schema_id == v2.schema_id
    assert loaded.by_id(v1.schema_id) is v2


def test_same_canonical_form_with_another_decimal_scale_is_a_collision(tmp_path: Path) -> None:
    # The Parsing Canonical Form drops logicalType: scale 4 and scale 2 hash the same.
    v2 = tiny_schema()
    v2["fields"][1]["type"]["scale"] = 2
    write_schema(tmp_path, "pm.x", 1, tiny_schema())
    write_schema(tmp_path, "pm.x", 2, v2)
    with pytest.raises(SchemaCatalogError, match="collides"):
        SchemaCatalog.from_directory(tmp_path)


def test_a_hash_collision_between_different_schemas_fails_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_schema(tmp_path, "pm.a", 1, tiny_schema())
    write_schema(tmp_path, "pm.b", 1, tiny_schema({"name": "n", "type": "int", "doc": "N."}))
    monkeypatch.setattr(catalog_module, "schema_id_of", lambda _canonical: 42)
    with pytest.raises(
        SchemaCatalogError, match=r"schema id 42 of pm\.b v1 collides with pm\.a v1"
    ):
        SchemaCatalog.from_directory(tmp_path)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaCatalogError, match="not found"):
        SchemaCatalog.from_directory(tmp_path / "absent")
