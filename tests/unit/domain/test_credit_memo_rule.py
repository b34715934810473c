"""Worked examples for credit memos; every amount below is computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from streams.domain.exceptions import BalanceExceededError, InvalidEventError, UnpostedSourceError
from streams.domain.feedback import FeedbackStatus
from streams.domain.posted import ar_key, wip_key
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, payment, rows
from tests.unit.domain.builders import standard_book, time_entry
from tests.unit.domain.test_invoice_rule import eur_books

D = Decimal


def invoiced() -> Books:
    """TE-1 (WIP 187.50) billed at 200.00 on line 1, a 300.00 fee on line 2, tax 10 %.

    Tax per invoice: 500.00 x 10 % = 50.00; AR 550.00.
    """
    books = Books(standard_book())
    books.post(time_entry())
    tax = {"tax_code": "T10", "tax_rate": D("0.10")}
    books.post(
        invoice(
            lines=[
                line(1, amount=D("200.00"), time_entry_ids=["TE-1"], **tax),
                line(2, kind="FIXED_FEE", amount=D("300.00"), **tax),
            ]
        )
    )
    return books


def test_credit_memo_on_part_of_an_invoice_reverses_the_line_and_releases_its_entry() -> None:
    # line 1: Dr 1150 187.50 (WIP back), Dr 4000 12.50 (write-up undone), Dr 2200 20.00,
    # Cr 1100 220.00; AR left 550.00 - 220.00 = 330.00
    books = invoiced()
    (command,) = books.post(credit_memo())
    assert rows(command) == [
        ("1150", "DEBIT", D("187.50"), D("187.50")),
        ("4000", "DEBIT", D("12.50"), D("12.50")),
        ("2200", "DEBIT", D("20.00"), D("20.00")),
        ("1100", "CREDIT", D("220.00"), D("220.00")),
    ]
    assert command.effective_date == date(2026, 5, 10)
    ledger = books.ledger
    wip = ledger.balance(wip_key("time_entry", "TE-1"))
    assert wip is not None
    assert wip.amount == D("187.50")
    assert wip_key("time_entry", "TE-1") not in ledger.billed
    receivable = ledger.balance(ar_key("INV-1"))
    assert receivable is not None
    assert receivable.amount == D("330.00")
    released = [f for f in books.feedback if f.status is FeedbackStatus.RELEASED]
    assert [(f.source_type, f.source_id, f.related_id) for f in released] == [
        ("time_entry", "TE-1", "CM-1")
    ]


def test_a_released_entry_can_be_billed_again() -> None:
    # re-billed at 187.50: exactly the restored WIP, no write-up
    books = invoiced()
    books.post(credit_memo())
    (command,) = books.post(
        invoice(invoice_id="INV-2", lines=[line(amount=D("187.50"), time_entry_ids=["TE-1"])])
    )
    assert rows(command)[1] == ("1150", "CREDIT", D("187.50"), D("187.50"))
    assert books.balance("1150") == (D("0.00"), D("0.00"))


def test_credit_after_full_payment_becomes_a_credit_on_account() -> None:
    # paid 550.00; crediting line 2 (300.00 + 30.00 tax) leaves nothing open: Cr 2310 330.00
    books = invoiced()
    books.post(
        payment(amount=D("550.00"), allocations=[{"invoice_id": "INV-1", "amount": D("550.00")}])
    )
    (command,) = books.post(credit_memo(credited_line_nos=[2]))
    assert rows(command) == [
        ("4000", "DEBIT", D("300.00"), D("300.00")),
        ("2200", "DEBIT", D("30.00"), D("30.00")),
        ("2310", "CREDIT", D("330.00"), D("330.00")),
    ]


def test_a_line_is_credited_once() -> None:
    books = invoiced()
    books.post(credit_memo())
    with pytest.raises(BalanceExceededError) as info:
        books.post(credit_memo(invoice_id="CM-2"))
    assert info.value.field == "credited_line_nos.0"


def test_credit_memo_before_its_invoice_parks() -> None:
    with pytest.raises(UnpostedSourceError) as info:
        Books(standard_book()).post(credit_memo())
    assert (info.value.kind, info.value.key) == ("invoice", "INV-1")


def test_credit_memo_for_a_line_the_invoice_lacks_is_refused() -> None:
    with pytest.raises(InvalidEventError) as info:
        invoiced().post(credit_memo(credited_line_nos=[7]))
    assert info.value.field == "credited_line_nos.0"


def test_foreign_currency_credit_memo_reverses_at_the_invoice_rate() -> None:
    # invoice EUR 1000.00 fee + 19 % = 1190.00 at 1.10 -> AR 1309.00;
    # memo: Dr 4000 1000.00/1100.00, Dr 2200 190.00/209.00, Cr 1100 1190.00/1309.00
    books = eur_books()
    books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[line(kind="FIXED_FEE", amount=D("1000.00"), tax_code="DE", tax_rate=D("0.19"))],
        )
    )
    (command,) = books.post(credit_memo(customer_id="C-2", project_id="P-EU", currency="EUR"))
    assert rows(command) == [
        ("4000", "DEBIT", D("1000.00"), D("1100.00")),
        ("2200", "DEBIT", D("190.00"), D("209.00")),
        ("1100", "CREDIT", D("1190.00"), D("1309.00")),
    ]
    assert command.fx.rate == D("1.1000")
    assert books.balance("1100") == (D("0.00"), D("0.00"))
