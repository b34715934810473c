"""The books' ledger semantics, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from streams.books import booking
from streams.books.booking import book_batch
from streams.books.chart import open_account
from streams.books.exceptions import BooksDatabaseError
from streams.books.periods import close_period, reopen_period
from streams.books.reports import trial_balance
from streams.books.tables import entries, lines, outbox
from streams.domain.acks import AckStatus, LedgerAck
from tests.unit.books.builders import command, incoming, line, reversal

NOW = datetime(2026, 10, 1, 9, tzinfo=UTC)


def _time_entry(**kwargs: object) -> dict[str, object]:
    return command(
        [line("1150", "DEBIT", "150.00"), line("4000", "CREDIT", "150.00")],
        **kwargs,  # type: ignore[arg-type]
    )


def _book(books: Engine, *commands: dict[str, object]) -> list[LedgerAck]:
    return book_batch(books, incoming(*commands), now=NOW)


def _count(books: Engine, table: object) -> int:
    with books.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_new_command_is_booked_with_its_lines(books: Engine) -> None:
    (ack,) = _book(books, _time_entry())
    assert ack.status is AckStatus.BOOKED
    assert (_count(books, entries), _count(books, lines)) == (1, 2)
    (wip, revenue) = trial_balance(books, "US", "2026-09")
    assert (wip.account, wip.debit, wip.credit) == ("1150", Decimal("150.00"), 0)
    assert (revenue.account, revenue.net, revenue.base_net) == ("4000", -150, -150)


def test_the_same_id_and_body_answers_exists_and_books_nothing_twice(books: Engine) -> None:
    first = _time_entry()
    # read again from another position, with other trace ids: the same body
    again = {**first, "trace_id": "ab" * 16, "source": {**first["source"], "offset": 99}}  # type: ignore[dict-item]
    acks = _book(books, first)
    acks += _book(books, again)
    acks += _book(books, first)
    assert [a.status for a in acks] == [AckStatus.BOOKED, AckStatus.EXISTS, AckStatus.EXISTS]
    assert (_count(books, entries), _count(books, lines)) == (1, 2)


def test_the_same_id_twice_in_one_batch_books_once(books: Engine) -> None:
    first = _time_entry()
    acks = _book(books, first, first)
    assert [a.status for a in acks] == [AckStatus.BOOKED, AckStatus.EXISTS]
    assert _count(books, lines) == 2


def test_the_same_id_with_another_body_is_rejected(books: Engine) -> None:
    first = _time_entry()
    other = command(
        [line("1150", "DEBIT", "151.00"), line("4000", "CREDIT", "151.00")],
        command_id=first["command_id"],  # type: ignore[arg-type]
    )
    _book(books, first)
    (ack,) = _book(books, other)
    assert ack.status is AckStatus.REJECTED_EXISTS_WITH_DIFFERENT_BODY
    assert ack.reason_code == "DIFFERENT_BODY"
    assert trial_balance(books, "US", "2026-09")[0].debit == Decimal("150.00")


def test_an_unbalanced_command_is_rejected_with_the_difference(books: Engine) -> None:
    bad = command([line("1150", "DEBIT", "150.00"), line("4000", "CREDIT", "149.99")])
    (ack,) = _book(books, bad)
    assert (ack.status, ack.reason_code) == (AckStatus.REJECTED, "UNBALANCED")
    assert "150.00" in ack.reason
    assert "149.99" in ack.reason
    assert _count(books, entries) == 0


def test_an_unbalanced_base_side_is_rejected(books: Engine) -> None:
    bad = command(
        [line("1100", "DEBIT", "100.00", base="110.00"), line("4000", "CREDIT", "100.00")],
        currency="EUR",
        rate="1.1",
    )
    (ack,) = _book(books, bad)
    assert (ack.status, ack.reason_code) == (AckStatus.REJECTED, "UNBALANCED")
    assert "base" in ack.reason


def test_an_unknown_account_is_rejected_naming_it(books: Engine) -> None:
    (ack,) = _book(books, command([line("1150", "DEBIT", "5.00"), line("4999", "CREDIT", "5.00")]))
    assert (ack.status, ack.reason_code) == (AckStatus.REJECTED, "UNKNOWN_ACCOUNT")
    assert ack.reason == "lines.1.account: 4999 is not in the chart of accounts of US"


def test_a_closed_period_rejects_until_reopened(books: Engine) -> None:
    entry = _time_entry()
    assert close_period(books, "US", "2026-09", operator="controller")
    assert not close_period(books, "US", "2026-09", operator="controller")
    (ack,) = _book(books, entry)
    assert (ack.status, ack.reason_code) == (AckStatus.REJECTED, "CLOSED_PERIOD")
    assert ack.reason == "period 2026-09 of US is closed (by controller)"
    # another entity's period stays open
    assert _book(books, _time_entry(entity="UK"))[0].status is AckStatus.BOOKED
    assert reopen_period(books, "US", "2026-09")
    # a rejection is not remembered: the same command, sent again, books
    assert _book(books, entry)[0].status is AckStatus.BOOKED


def test_a_reversal_books_once_and_only_of_something_booked(books: Engine) -> None:
    original = _time_entry()
    undo = reversal(original)
    never = reversal(_time_entry())
    acks = _book(books, never, original, undo, reversal(original))
    assert [(a.status, a.reason_code) for a in acks] == [
        (AckStatus.REJECTED, "REVERSES_UNKNOWN"),
        (AckStatus.BOOKED, ""),
        (AckStatus.BOOKED, ""),
        (AckStatus.REJECTED, "ALREADY_REVERSED"),
    ]
    assert all(row.net == 0 for row in trial_balance(books, "US", "2026-09"))


def test_a_reversal_must_mirror_what_it_reverses(books: Engine) -> None:
    original = _time_entry()
    wrong = reversal(original)
    wrong["lines"] = [
        {**ln, "amount": Decimal("100.00"), "base_amount": Decimal("100.00")}
        for ln in wrong["lines"]
    ]
    acks = _book(books, original, wrong)
    assert (acks[1].status, acks[1].reason_code) == (AckStatus.REJECTED, "REVERSAL_MISMATCH")


def test_every_answer_waits_in_the_outbox_with_the_source(books: Engine) -> None:
    acks = _book(
        books, _time_entry(source_id="TE-42", version=3), command([line("1", "DEBIT", "1")])
    )
    assert _count(books, outbox) == 2
    assert (acks[0].source_type, acks[0].source_id, acks[0].source_version) == (
        "time_entry",
        "TE-42",
        3,
    )
    assert (acks[1].status, acks[1].reason_code) == (AckStatus.REJECTED, "UNBALANCED")


def test_a_failed_batch_books_nothing_of_it(books: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    real = booking._insert
    calls = []

    def fail_second(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(booking, "_insert", fail_second)
    with pytest.raises(BooksDatabaseError, match="disk I/O error"):
        _book(books, _time_entry(), _time_entry())
    assert (_count(books, entries), _count(books, lines), _count(books, outbox)) == (0, 0, 0)


def test_an_entity_s_own_account_books_there_only(books: Engine) -> None:
    own = [line("1150", "DEBIT", "5.00"), line("4010", "CREDIT", "5.00")]
    assert open_account(books, "4010", "Consulting revenue", entity_id="DE01")
    assert not open_account(books, "4010", "Consulting revenue", entity_id="DE01")
    acks = _book(books, command(own, entity="DE01"), command(own, entity="US"))
    assert [(a.status, a.reason_code) for a in acks] == [
        (AckStatus.BOOKED, ""),
        (AckStatus.REJECTED, "UNKNOWN_ACCOUNT"),
    ]
