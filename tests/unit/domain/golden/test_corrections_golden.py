"""Golden worked examples: corrections, edits and deletions. Amounts computed by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from streams.domain.commands import CommandAction, PostLedgerEntry, Side
from streams.domain.exceptions import AlreadyBilledError
from streams.domain.posted import wip_key
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, rows
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    standard_book,
    time_entry,
)

D = Decimal


def by_period(commands: list[PostLedgerEntry], account: str) -> dict[str, Decimal]:
    """Net debit of an account per period, over every command sent."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for command in commands:
        for ln in command.lines:
            if ln.account == account:
                totals[command.period] += ln.amount if ln.side is Side.DEBIT else -ln.amount
    return dict(totals)


def test_edit_moving_an_entry_across_month_end_reverses_in_the_old_period() -> None:
    """Rule: corrections (the REVERSE keeps the original date and period; the new POST its own)."""
    # v1: 2026-04-01 03:30 UTC = 03-31 23:30 New York, 30 min: revenue 0.5 x 150 = 75.00,
    #   cost 0.5 x 80 = 40.00, period 2026-03.
    # v2: moved to 04-01 09:00 New York (13:00 UTC), 45 min: revenue 0.75 x 150 = 112.50,
    #   cost 0.75 x 80 = 60.00, period 2026-04. March nets to 0, April has 112.50.
    books = Books(standard_book())
    books.post(time_entry(started_at=datetime(2026, 4, 1, 3, 30, tzinfo=UTC), duration_minutes=30))
    undo_revenue, undo_cost, revenue, cost = books.post(
        time_entry(
            version=2,
            started_at=datetime(2026, 4, 1, 13, 0, tzinfo=UTC),
            duration_minutes=45,
        )
    )
    assert (undo_revenue.action, undo_revenue.period) == (CommandAction.REVERSE, "2026-03")
    assert undo_revenue.effective_date == date(2026, 3, 31)
    assert rows(undo_revenue) == [
        ("1150", "CREDIT", D("75.00"), D("75.00")),
        ("4000", "DEBIT", D("75.00"), D("75.00")),
    ]
    assert rows(undo_cost)[0] == ("5000", "CREDIT", D("40.00"), D("40.00"))
    assert (revenue.action, revenue.period, revenue.effective_date) == (
        CommandAction.POST,
        "2026-04",
        date(2026, 4, 1),
    )
    assert rows(revenue)[1] == ("4000", "CREDIT", D("112.50"), D("112.50"))
    assert rows(cost)[0] == ("5000", "DEBIT", D("60.00"), D("60.00"))
    assert by_period(books.commands, "4000") == {"2026-03": D("0.00"), "2026-04": D("-112.50")}
    assert by_period(books.commands, "5000") == {"2026-03": D("0.00"), "2026-04": D("60.00")}


def test_edit_to_a_billed_entry_leaves_the_difference_in_wip_until_credited() -> None:
    """Rule: edits to a billed entry (the revenue difference stays in 1150)."""
    # TE-1 v1 75 min = 187.50 billed on INV-1 at 187.50 (WIP 0).
    # v2 60 min: REVERSE 187.50 / 100.00, POST 150.00 / 80.00 -> 1150 = -187.50 + 150.00
    #   = -37.50 (over-relieved by the invoice)
    # CM-1 credits INV-1 line 1: Dr 1150 187.50 -> 1150 = 150.00 = v2's accrual
    # INV-2 bills TE-1 at 150.00: Cr 1150 150.00 -> 1150 = 0
    books = Books(standard_book())
    books.post(time_entry())
    books.post(invoice(lines=[line(amount=D("187.50"), time_entry_ids=["TE-1"])]))
    commands = books.post(time_entry(version=2, duration_minutes=60))
    assert [(c.action, rows(c)[0]) for c in commands] == [
        (CommandAction.REVERSE, ("1150", "CREDIT", D("187.50"), D("187.50"))),
        (CommandAction.REVERSE, ("5000", "CREDIT", D("100.00"), D("100.00"))),
        (CommandAction.POST, ("1150", "DEBIT", D("150.00"), D("150.00"))),
        (CommandAction.POST, ("5000", "DEBIT", D("80.00"), D("80.00"))),
    ]
    assert books.balance("1150") == (D("-37.50"), D("-37.50"))
    (memo,) = books.post(credit_memo())
    assert rows(memo) == [
        ("1150", "DEBIT", D("187.50"), D("187.50")),
        ("1100", "CREDIT", D("187.50"), D("187.50")),
    ]
    assert books.balance("1150") == (D("150.00"), D("150.00"))
    (rebill,) = books.post(
        invoice(invoice_id="INV-2", lines=[line(amount=D("150.00"), time_entry_ids=["TE-1"])])
    )
    assert rows(rebill) == [
        ("1100", "DEBIT", D("150.00"), D("150.00")),
        ("1150", "CREDIT", D("150.00"), D("150.00")),
    ]
    assert books.balance("1150") == (D("0.00"), D("0.00"))
    assert books.balance("1100") == (D("150.00"), D("150.00"))


def test_deleting_a_billed_entry_is_refused_until_its_line_is_credited() -> None:
    """Rule: deletions (refused while billed on a live invoice; then everything reverses)."""
    # TE-1 187.50 / 100.00 billed at 187.50; deletion refused; CM-1 credits the line
    # (Dr 1150 / Cr 1100 187.50); deletion then reverses 187.50 and 100.00: all accounts 0
    books = Books(standard_book())
    books.post(time_entry())
    books.post(invoice(lines=[line(amount=D("187.50"), time_entry_ids=["TE-1"])]))
    with pytest.raises(AlreadyBilledError) as info:
        books.delete("time_entry", "TE-1")
    assert "credit that line first" in str(info.value)
    books.post(credit_memo())
    undo_revenue, undo_cost = books.delete("time_entry", "TE-1")
    assert rows(undo_revenue) == [
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "DEBIT", D("187.50"), D("187.50")),
    ]
    assert rows(undo_cost) == [
        ("5000", "CREDIT", D("100.00"), D("100.00")),
        ("2150", "DEBIT", D("100.00"), D("100.00")),
    ]
    assert books.net() == {}
    assert books.ledger.balance(wip_key("time_entry", "TE-1")) is None


def test_reissued_eur_invoice_reverses_at_the_old_rate_and_relieves_the_same_wip() -> None:
    """Rule: corrections of an invoice (the WIP is relieved again at its accrued base)."""
    # WIP: EUR 200.00 x 1.083725 = 216.745 -> USD 216.75
    # v1 04-30 at 1.10: Dr 1100 200.00 / 220.00, Cr 1150 200.00 / 216.75, Cr 7900 3.25
    # v2 05-15 at 1.12, billed 210.00: REVERSE v1 as posted; Dr 1100 210.00 x 1.12 = 235.20,
    #   Cr 1150 200.00 / 216.75, Cr 4000 10.00 x 1.12 = 11.20 (write-up),
    #   Cr 7900 200.00 x 1.12 - 216.75 = 224.00 - 216.75 = 7.25
    books = Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(
                project_id="P-EU", customer_id="C-2", billing_currency="EUR", rate=D("120.0000")
            ),
            employee(),
            spot("EUR", "USD", "1.083725", date(2026, 3, 30)),
            spot("EUR", "USD", "1.1000", date(2026, 4, 30)),
            spot("EUR", "USD", "1.1200", date(2026, 5, 15)),
        )
    )
    books.post(time_entry(project_id="P-EU", duration_minutes=100))
    eur = {"customer_id": "C-2", "project_id": "P-EU", "currency": "EUR"}
    (v1,) = books.post(invoice(lines=[line(amount=D("200.00"), time_entry_ids=["TE-1"])], **eur))
    assert rows(v1) == [
        ("1100", "DEBIT", D("200.00"), D("220.00")),
        ("1150", "CREDIT", D("200.00"), D("216.75")),
        ("7900", "CREDIT", D("0.00"), D("3.25")),
    ]
    reverse, v2 = books.post(
        invoice(
            version=2,
            issued_on=date(2026, 5, 15),
            lines=[line(amount=D("210.00"), time_entry_ids=["TE-1"])],
            **eur,
        )
    )
    assert (reverse.reverses, reverse.effective_date, reverse.fx.rate) == (
        v1.command_id,
        date(2026, 4, 30),
        D("1.1000"),
    )
    assert rows(v2) == [
        ("1100", "DEBIT", D("210.00"), D("235.20")),
        ("1150", "CREDIT", D("200.00"), D("216.75")),
        ("4000", "CREDIT", D("10.00"), D("11.20")),
        ("7900", "CREDIT", D("0.00"), D("7.25")),
    ]
    assert books.balance("1150") == (D("0.00"), D("0.00"))
    assert books.balance("7900") == (D("0.00"), D("-7.25"))
