"""The books under test: the same tests on a SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streams.books.tables import database_url, open_books
from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def books(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Freshly created books, on SQLite and on PostgreSQL (one database per test)."""
    if request.param == "sqlite":
        url = database_url(None, tmp_path)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = database_url(server.new_database(), tmp_path)
    engine = open_books(url)
    yield engine
    engine.dispose()
