"""Sync cadence SUMMARY: a summary window and its correction, computed by hand.

Entity US, project P-100, USD, 2026-03-31 (``standard_book``: bill 150/h, cost 80/h):
TE-1 75 min (revenue 187.50, cost 100.00) and TE-2 60 min (150.00, 80.00).

Summary 1 = Dr 1150 337.50 / Cr 2150 180.00 / Cr 4000 337.50 / Dr 5000 180.00.
TE-1 v2 (60 min) then reverses v1 and posts 150.00 / 80.00: summary 2 = 1150 300.00,
2150 160.00, 4000 300.00, 5000 160.00, sent as REVERSE of summary 1, then POST.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from streams.domain.commands import (
    LEDGERSTREAM_NAMESPACE,
    CommandAction,
    PostingLine,
    PostLedgerEntry,
    Side,
)
from streams.domain.summary import SUMMARY_JOURNAL, SummaryBook, window_of
from tests.unit.domain.billing_builders import Books, rows
from tests.unit.domain.builders import standard_book, time_entry

D = Decimal
RULES = "r1"


def _posted() -> tuple[Books, SummaryBook]:
    books = Books(standard_book())
    summaries = SummaryBook()
    summaries = summaries.add(books.post(time_entry()))
    summaries = summaries.add(books.post(time_entry(entry_id="TE-2", duration_minutes=60)))
    return books, summaries


def test_golden_one_summary_per_project_currency_and_day_carrying_its_sources() -> None:
    books, summaries = _posted()
    assert len({window_of(c) for c in books.commands}) == 1  # one window

    after, sent = summaries.flush(RULES)

    (summary,) = sent
    assert (summary.action, summary.journal) == (CommandAction.POST, SUMMARY_JOURNAL)
    assert (summary.entity_id, summary.effective_date, summary.period) == (
        "US",
        date(2026, 3, 31),
        "2026-03",
    )
    assert rows(summary) == [
        ("1150", "DEBIT", D("337.50"), D("337.50")),
        ("2150", "CREDIT", D("180.00"), D("180.00")),
        ("4000", "CREDIT", D("337.50"), D("337.50")),
        ("5000", "DEBIT", D("180.00"), D("180.00")),
    ]
    assert summary.related_source_ids == ("TE-1", "TE-2")
    dims = summary.lines[0].dimensions
    assert (dims.project_id, dims.customer_id, dims.employee_id) == ("P-100", "C-1", None)
    member_ids = ",".join(sorted(c.command_id for c in books.commands))
    expected = uuid.uuid5(
        LEDGERSTREAM_NAMESPACE, f"summary:{window_of(books.commands[0]).name()}:{member_ids}"
    )
    assert summary.command_id == str(expected)
    # nothing changed since: a second flush sends nothing
    assert after.flush(RULES)[1] == ()


def test_golden_a_correction_reverses_the_summary_sent_and_posts_a_new_one() -> None:
    books, summaries = _posted()
    summaries, (first,) = summaries.flush(RULES)

    correction = books.post(time_entry(version=2, duration_minutes=60))
    assert [c.action for c in correction] == [CommandAction.REVERSE] * 2 + [CommandAction.POST] * 2
    summaries, sent = summaries.add(correction).flush(RULES)

    reversal, second = sent
    assert (reversal.action, reversal.reverses) == (CommandAction.REVERSE, first.command_id)
    assert rows(reversal) == [
        ("1150", "CREDIT", D("337.50"), D("337.50")),
        ("2150", "DEBIT", D("180.00"), D("180.00")),
        ("4000", "DEBIT", D("337.50"), D("337.50")),
        ("5000", "CREDIT", D("180.00"), D("180.00")),
    ]
    assert second.action is CommandAction.POST
    assert rows(second) == [
        ("1150", "DEBIT", D("300.00"), D("300.00")),
        ("2150", "CREDIT", D("160.00"), D("160.00")),
        ("4000", "CREDIT", D("300.00"), D("300.00")),
        ("5000", "DEBIT", D("160.00"), D("160.00")),
    ]
    assert second.command_id != first.command_id
    assert second.related_source_ids == ("TE-1", "TE-2")


def test_same_records_same_summary_ids_whatever_the_flush_timing() -> None:
    books, summaries = _posted()
    _, once = summaries.flush(RULES)
    # flushed after each record instead: the last summary is the same command
    step = SummaryBook().add(books.commands[:2])
    step, _ = step.flush(RULES)
    step, last = step.add(books.commands[2:]).flush(RULES)
    assert last[-1].command_id == once[0].command_id
    assert last[-1].lines == once[0].lines


def test_a_window_emptied_by_deletions_is_reversed_and_forgotten() -> None:
    books = Books(standard_book())
    summaries, (sent,) = SummaryBook().add(books.post(time_entry())).flush(RULES)
    summaries, out = summaries.add(books.delete("time_entry", "TE-1")).flush(RULES)
    assert [(c.action, c.reverses) for c in out] == [(CommandAction.REVERSE, sent.command_id)]
    assert summaries.groups == {}


def test_opposite_transaction_and_base_nets_get_a_line_each_and_balance() -> None:
    # EUR lines booked in USD: two entries that net to -0.01 EUR / +0.01 USD on 1150
    (template, _) = Books(standard_book()).post(time_entry())

    def entry(command_id: str, side_1150: Side, amount: str, base: str) -> PostLedgerEntry:
        other = Side.CREDIT if side_1150 is Side.DEBIT else Side.DEBIT
        lines = tuple(
            PostingLine(
                line_no=n,
                account=account,
                side=side,
                amount=D(amount),
                base_amount=D(base),
                dimensions=template.lines[0].dimensions,
            )
            for n, (account, side) in enumerate([("1150", side_1150), ("4000", other)], 1)
        )
        return template.model_copy(
            update={"command_id": command_id, "transaction_currency": "EUR", "lines": lines}
        )

    book = SummaryBook().add(
        [entry("a", Side.DEBIT, "10.00", "11.00"), entry("b", Side.CREDIT, "10.01", "10.99")]
    )
    _, (summary,) = book.flush(RULES)
    assert rows(summary) == [
        ("1150", "CREDIT", D("0.01"), D("0.00")),
        ("1150", "DEBIT", D("0.00"), D("0.01")),
        ("4000", "DEBIT", D("0.01"), D("0.00")),
        ("4000", "CREDIT", D("0.00"), D("0.01")),
    ]
