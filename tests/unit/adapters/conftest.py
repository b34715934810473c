"""Fixtures for the Avro adapter tests: the real catalog, every fixture record."""

from __future__ import annotations

import pytest
from streams.adapters.avro import SchemaCatalog
from tests.unit.adapters.avro_support import SCHEMAS_DIR, fixture_cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fixture_case" in metafunc.fixturenames:
        cases = fixture_cases()
        metafunc.parametrize("fixture_case", cases, ids=[c.id for c in cases])


@pytest.fixture(scope="session")
def catalog() -> SchemaCatalog:
    return SchemaCatalog.from_directory(SCHEMAS_DIR)
