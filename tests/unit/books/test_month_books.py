"""The mixed month booked: every command books once, and the books balance as the dry run does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from streams.adapters.avro import SchemaCatalog
from streams.books.booking import Incoming, book_batch
from streams.books.reports import trial_balance
from streams.domain.acks import AckStatus
from streams.domain.trial_balance import trial_balance as dry_run_balance
from streams.dryrun import dry_run

REPO = Path(__file__).resolve().parents[3]
MONTH = REPO / "examples" / "month"


def test_the_month_books_once_and_balances_like_the_dry_run(books: Engine) -> None:
    run = dry_run(
        MONTH / "reference.jsonl",
        MONTH / "events.jsonl",
        catalog=SchemaCatalog.from_directory(REPO / "schemas"),
        rule_version="test/1",
    )
    commands = [c.model_dump() for c in run.commands]
    assert len(commands) == 191
    batch = [Incoming(0, i, c) for i, c in enumerate(commands)]
    now = datetime(2026, 10, 1, tzinfo=UTC)
    first = book_batch(books, batch[:100], now=now) + book_batch(books, batch[100:], now=now)
    assert {a.status for a in first} == {AckStatus.BOOKED}
    again = book_batch(books, batch, now=now)
    assert {a.status for a in again} == {AckStatus.EXISTS}
    periods = {(c.entity_id, c.period) for c in run.commands}
    for entity, period in sorted(periods):
        expected = [
            r for r in dry_run_balance(run.commands, period=period) if r.entity_id == entity
        ]
        assert trial_balance(books, entity, period) == expected, (entity, period)
