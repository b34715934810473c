"""The ack outbox: an answer decided in a booking transaction is delivered, never lost."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.exceptions import ProduceError
from streams.books.booking import book_batch
from streams.books.sink import deliver_outbox
from streams.books.tables import outbox
from tests.unit.books.builders import command, incoming, line

REPO = Path(__file__).resolve().parents[3]
CODEC = AvroCodec(SchemaCatalog.from_directory(REPO / "schemas"))
NOW = datetime(2026, 10, 1, tzinfo=UTC)


class FakeProducer:
    """Keeps what it was given; ``fail`` makes the next flush fail like a broker outage."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.fail = fail

    def send(self, topic: str, key: bytes | None, value: bytes | None, *_: Any) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float = 30.0) -> None:
        if self.fail:
            raise ProduceError("1 records failed: _MSG_TIMED_OUT")


def _waiting(books: Engine) -> int:
    with books.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_acks_stay_in_the_outbox_until_the_broker_took_them(books: Engine) -> None:
    entry = command([line("1150", "DEBIT", "1.00"), line("4000", "CREDIT", "1.00")])
    bad = command([line("1150", "DEBIT", "1.00"), line("4000", "CREDIT", "2.00")])
    acks = book_batch(books, incoming(entry, bad), now=NOW)
    down = FakeProducer(fail=True)
    with pytest.raises(ProduceError):
        deliver_outbox(books, CODEC, down, "acks")  # type: ignore[arg-type]
    assert _waiting(books) == 2  # the crash or outage loses no answer
    up = FakeProducer()
    assert deliver_outbox(books, CODEC, up, "acks") == 2  # type: ignore[arg-type]
    assert _waiting(books) == 0
    sent = [CODEC.decode("acct.ledger-acks", value).record for _t, _k, value in up.sent]
    assert [(a["command_id"], a["status"]) for a in sent] == [
        (acks[0].command_id, "BOOKED"),
        (acks[1].command_id, "REJECTED"),
    ]
    assert [key for _t, key, _v in up.sent] == [a.command_id.encode() for a in acks]
    assert deliver_outbox(books, CODEC, FakeProducer(), "acks") == 0  # type: ignore[arg-type]
