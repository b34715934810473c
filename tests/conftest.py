"""Session fixtures every test directory may use: a throwaway PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session, stopped at its end (tests/support/postgres.py)."""
    yield from start_postgres()
