"""`schemas register` against a Confluent-compatible registry DOUBLE over real HTTP.

No real registry can run here (see tests/doubles/schema_registry.py); the double
speaks the REST API confluent-kafka's client uses and enforces compatibility modes
with Apache Avro's checker, like the real one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from streams.adapters.avro import AvroCodec, RegistrySchemaSource, SchemaCatalog, from_json_form
from streams.adapters.contracts.publish import register_subjects
from streams.adapters.contracts.subjects import load_policies
from streams.adapters.exceptions import SchemaNotRegisteredError
from streams.cli import main
from tests.doubles.schema_registry import RegistryState, registry_double
from tests.unit.adapters.avro_support import REPO, SCHEMAS_DIR, fixture_cases

CATALOG = SchemaCatalog.from_directory(SCHEMAS_DIR)
POLICIES = load_policies(SCHEMAS_DIR / "subjects.yaml", CATALOG.subjects())


@pytest.fixture
def registry() -> Iterator[tuple[str, RegistryState]]:
    with registry_double() as running:
        yield running


def client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "max.retries": 0})


def test_every_version_is_registered_with_its_subject_mode_and_ids_are_reported(
    registry: tuple[str, RegistryState],
) -> None:
    url, state = registry

    done = register_subjects(client(url), CATALOG, POLICIES)

    assert [(r.subject, r.version) for r in done] == [
        (sv.subject, sv.version) for sv in CATALOG.all_versions()
    ]
    assert all(r.created for r in done)
    assert sorted(state.subjects) == CATALOG.subjects()
    assert [len(state.subjects[s]) for s in CATALOG.subjects()] == [
        len(CATALOG.versions(s.removesuffix("-value"))) for s in CATALOG.subjects()
    ]
    assert state.modes["pm.time-entries-value"] == "BACKWARD_TRANSITIVE"
    assert state.modes["pm.expenses-value"] == "FULL_TRANSITIVE"
    assert state.modes["acct.ledger-commands-value"] == "BACKWARD"
    ids = {(r.subject, r.version): r.schema_id for r in done}
    assert len(set(ids.values())) == len(ids)
    assert ids[("pm.time-entries-value", 2)] == state.subjects["pm.time-entries-value"][1]


def test_registering_again_changes_nothing_and_reports_the_same_ids(
    registry: tuple[str, RegistryState],
) -> None:
    url, state = registry
    first = register_subjects(client(url), CATALOG, POLICIES)
    schemas_before = list(state.schemas)
    requests_before = len(state.requests)

    second = register_subjects(client(url), CATALOG, POLICIES)  # a new process: new client

    assert [(r.subject, r.version, r.schema_id) for r in second] == [
        (r.subject, r.version, r.schema_id) for r in first
    ]
    assert not any(r.created for r in second)
    assert state.schemas == schemas_before
    methods = {method for method, _ in state.requests[requests_before:]}
    assert methods == {"GET", "POST"}  # lookups only: modes already set, nothing registered
    assert not any(path.endswith("/versions") for _, path in state.requests[requests_before:])


def test_the_registry_rejects_an_incompatible_version_under_the_subject_mode(
    registry: tuple[str, RegistryState], tmp_path: Path
) -> None:
    url, _ = registry
    shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")
    shutil.copy(
        REPO / "tests" / "fixtures" / "contracts" / "pm.expenses.v3.incompatible.avsc",
        tmp_path / "schemas" / "pm.expenses" / "v3.avsc",
    )
    catalog = SchemaCatalog.from_directory(tmp_path / "schemas")

    with pytest.raises(
        SchemaNotRegisteredError,
        match=r"rejected pm\.expenses/v3\.avsc under "
        r"FULL_TRANSITIVE: .*incompatible",
    ):
        register_subjects(client(url), catalog, POLICIES)


def test_producers_and_consumers_use_the_registered_ids(
    registry: tuple[str, RegistryState],
) -> None:
    url, _ = registry
    done = register_subjects(client(url), CATALOG, POLICIES)
    case = next(c for c in fixture_cases() if c.topic == "pm.time-entries" and c.version == 1)
    old = from_json_form(CATALOG.version("pm.time-entries", 1).parsed, case.record)

    data = AvroCodec(RegistrySchemaSource(client(url), CATALOG)).encode("pm.time-entries", old)
    decoded = AvroCodec(RegistrySchemaSource(client(url), CATALOG)).decode("pm.time-entries", data)

    v1_id = next(
        r.schema_id for r in done if (r.subject, r.version) == ("pm.time-entries-value", 1)
    )
    assert int.from_bytes(data[1:5], "big") == v1_id
    assert (decoded.schema_id, decoded.version) == (v1_id, 1)
    assert decoded.record["ended_at"] == old["started_at"] + (
        decoded.record["ended_at"] - decoded.record["started_at"]
    )
    assert "duration_minutes" not in decoded.record


def test_the_cli_registers_and_prints_ids(
    registry: tuple[str, RegistryState], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = registry
    assert main(["schemas", "register", "--registry", url]) == 0
    assert main(["schemas", "register", "--registry", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  registered pm.time-entries-value") for line in out)
    assert any(line.startswith("  unchanged  pm.time-entries-value") for line in out)
    assert out[-1].endswith(
        f"{len(CATALOG.all_versions())} version(s) of {len(CATALOG.subjects())} subject(s), "
        "0 newly registered"
    )
