"""The books' tables (SQLAlchemy Core) and the engine that opens them.

One schema for SQLite and PostgreSQL. Amounts are stored as integers of 1/10,000
(``*_e4``): the commands' Avro decimals have scale 4, and an integer sums exactly
in SQL on both databases (SQLite has no exact decimal type).

* ``books_entries``: one row per booked command (the id is the idempotency key),
  with the hash of its body and the body itself (canonical JSON);
* ``books_lines``: its posting lines, denormalised for the reports;
* ``books_accounts``: the chart of accounts (entity ``*``: every entity);
* ``books_periods``: closed periods per entity;
* ``books_outbox``: acks decided in a booking transaction and not yet delivered
  to ``acct.ledger-acks`` (the transactional outbox: an ack is never lost).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from streams.books.exceptions import BooksDatabaseError, BooksError, driver_reason
from streams.domain.accounts import Account
from streams.domain.trial_balance import account_name

__all__ = [
    "ALL_ENTITIES",
    "E4",
    "accounts",
    "database_url",
    "entries",
    "from_e4",
    "lines",
    "metadata",
    "open_books",
    "outbox",
    "periods",
    "to_e4",
]

#: The entity of a chart row that every entity has.
ALL_ENTITIES: Final = "*"
#: Amounts are stored in units of 1/10,000.
E4: Final = Decimal(10_000)

metadata = MetaData()

entries = Table(
    "books_entries",
    metadata,
    Column("command_id", String(64), primary_key=True),
    Column("action", String(8), nullable=False),
    Column("reverses", String(64)),
    Column("reversed_by", String(64)),
    Column("entity_id", String(64), nullable=False),
    Column("journal", String(32), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("period", String(7), nullable=False),
    Column("transaction_currency", String(3), nullable=False),
    Column("base_currency", String(3), nullable=False),
    Column("fx_rate", String(40), nullable=False),
    Column("source_type", String(32), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("source_version", Integer, nullable=False),
    Column("rule_version", String(64), nullable=False),
    Column("memo", Text, nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("booked_at", String(32), nullable=False),
    Column("command_partition", Integer, nullable=False),
    Column("command_offset", BigInteger, nullable=False),
    Index("books_entries_entity_period", "entity_id", "period"),
)

lines = Table(
    "books_lines",
    metadata,
    Column("command_id", String(64), ForeignKey(entries.c.command_id), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("entity_id", String(64), nullable=False),
    Column("period", String(7), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("account", String(32), nullable=False),
    Column("side", String(6), nullable=False),
    Column("amount_e4", BigInteger, nullable=False),
    Column("base_amount_e4", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("base_currency", String(3), nullable=False),
    Column("project_id", String(200)),
    Column("customer_id", String(200)),
    Column("source_type", String(32), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("memo", Text, nullable=False),
    Index("books_lines_entity_period", "entity_id", "period", "account"),
    Index("books_lines_account", "entity_id", "account"),
)

accounts = Table(
    "books_accounts",
    metadata,
    Column("entity_id", String(64), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
)

periods = Table(
    "books_periods",
    metadata,
    Column("entity_id", String(64), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("closed_at", String(32), nullable=False),
    Column("closed_by", String(200), nullable=False),
)

outbox = Table(
    "books_outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("command_id", String(64), nullable=False),
    Column("payload", Text, nullable=False),
)


def to_e4(amount: Decimal) -> int:
    """Store an amount of at most 4 decimals as an integer of 1/10,000."""
    return int(amount * E4)


def from_e4(stored: int | None) -> Decimal:
    """Read an amount stored in 1/10,000 back as a ``Decimal`` with 4 decimals."""
    return Decimal(stored or 0).scaleb(-4)


def database_url(url: str | None, data_dir: Path) -> str:
    """Return the books' SQLAlchemy URL: ``url`` (``postgresql://`` uses psycopg 3), else SQLite.

    Args:
        url: ``LEDGERSTREAM_BOOKS_URL``; unset means the SQLite file ``books.sqlite``
            in ``data_dir``.
        data_dir: ``LEDGERSTREAM_DATA_DIR``.

    """
    if url is None:
        return f"sqlite:///{data_dir / 'books.sqlite'}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def open_books(url: str) -> Engine:
    """Open (and create if new) the books at ``url``: tables and the default chart.

    Raises:
        BooksError: The URL names no database SQLAlchemy knows.
        BooksDatabaseError: The database cannot be reached or refused the schema.

    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BooksError(f"LEDGERSTREAM_BOOKS_URL: not a database URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise BooksError(f"LEDGERSTREAM_BOOKS_URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            known = set(
                conn.execute(
                    select(accounts.c.code).where(accounts.c.entity_id == ALL_ENTITIES)
                ).scalars()
            )
            missing = [
                {"entity_id": ALL_ENTITIES, "code": str(a), "name": account_name(str(a))}
                for a in Account
                if str(a) not in known
            ]
            if missing:
                conn.execute(insert(accounts), missing)
    except SQLAlchemyError as exc:
        raise BooksDatabaseError(
            f"books at {parsed.render_as_string()}: {driver_reason(exc)}"
        ) from exc
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL and foreign keys: a reader (a report) never blocks the booking loop."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
