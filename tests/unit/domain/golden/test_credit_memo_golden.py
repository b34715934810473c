"""Golden worked examples: credit memos. Every amount is computed by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from streams.domain.exceptions import BalanceExceededError, UnpostedSourceError
from streams.domain.feedback import FeedbackStatus
from streams.domain.posted import ar_key, credit_key, deposit_key, wip_key
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, payment, rows
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
EUR = {"customer_id": "C-2", "project_id": "P-EU", "currency": "EUR"}


def eur_books() -> Books:
    """US entity (USD); P-EU billed in EUR 120/h; EUR/USD 1.083725 (03-30), 1.10 (04-30)."""
    return Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(
                project_id="P-EU", customer_id="C-2", billing_currency="EUR", rate=D("120.0000")
            ),
            employee(),
            spot("EUR", "USD", "1.083725", date(2026, 3, 30)),
            spot("EUR", "USD", "1.1000", date(2026, 4, 30)),
        )
    )


def test_credit_memo_on_part_of_a_eur_invoice_restores_wip_and_releases_the_entry() -> None:
    """Rule: credit memo on part of an invoice (mirrored legs, RELEASED feedback, 7900)."""
    # WIP: 100 min x EUR 120 = 200.00 x 1.083725 = 216.745 -> USD 216.75
    # INV-1 at 1.10: TIME 200.00 - 20.00, FIXED_FEE 1000.00, 19 % per invoice =
    #   1180.00 x 0.19 = 224.20; AR 1404.20 / 1544.62; 7900 gain 220.00 - 216.75 = 3.25
    # CM-1 credits line 1 at the invoice's rate 1.10:
    #   Dr 1150 200.00 / 216.75 (WIP back at its accrued base); Cr 4900 20.00 / 22.00;
    #   tax share of line 1: 224.20 x 180 / 1180 = 34.20 -> Dr 2200 34.20 / 37.62;
    #   Cr 1100 180.00 + 34.20 = 214.20 at 1544.62 x 214.20 / 1404.20 = 235.62;
    #   Dr 7900 3.25 (the gain on the WIP goes back): 216.75 + 37.62 + 3.25 = 22.00 + 235.62
    books = eur_books()
    books.post(time_entry(project_id="P-EU", duration_minutes=100))
    de19 = {"tax_code": "DE-19", "tax_rate": D("0.19")}
    books.post(
        invoice(
            lines=[
                line(1, amount=D("200.00"), discount=D("20.00"), time_entry_ids=["TE-1"], **de19),
                line(2, kind="FIXED_FEE", amount=D("1000.00"), **de19),
            ],
            **EUR,
        )
    )
    (memo,) = books.post(credit_memo(**EUR))
    assert rows(memo) == [
        ("1150", "DEBIT", D("200.00"), D("216.75")),
        ("4900", "CREDIT", D("20.00"), D("22.00")),
        ("2200", "DEBIT", D("34.20"), D("37.62")),
        ("1100", "CREDIT", D("214.20"), D("235.62")),
        ("7900", "DEBIT", D("0.00"), D("3.25")),
    ]
    assert (memo.effective_date, memo.fx.rate) == (date(2026, 5, 10), D("1.1000"))
    wip = books.ledger.balance(wip_key("time_entry", "TE-1"))
    assert wip is not None
    assert (wip.amount, wip.base) == (D("200.00"), D("216.75"))
    receivable = books.ledger.balance(ar_key("INV-1"))
    assert receivable is not None
    assert (receivable.amount, receivable.base) == (D("1190.00"), D("1309.00"))
    assert books.balance("7900") == (D("0.00"), D("0.00"))
    assert wip_key("time_entry", "TE-1") not in books.ledger.billed
    released = [f for f in books.feedback if f.status is FeedbackStatus.RELEASED]
    assert [(f.source_type, f.source_id, f.version, f.related_id, f.reason) for f in released] == [
        ("time_entry", "TE-1", 1, "CM-1", "credited by CM-1 on invoice INV-1")
    ]


def test_credit_memos_on_every_line_of_a_per_invoice_taxed_invoice_give_back_its_tax() -> None:
    """Rule: credit memo tax = the credited lines' shares of the invoice's tax."""
    # INV-1: three fees of 10.05 at 7.5 %, PER_INVOICE: 30.15 x 0.075 = 2.26125 -> 2.26;
    # AR 32.41. Shares by largest remainder: 226 cents x 1/3 = 75.33 each; floors 225,
    # the cent left goes to line 1 (tie: the earlier line): 0.76, 0.75, 0.75.
    # Memos on line 2, then 3, then 1: 0.75 + 0.75 + 0.76 = 2.26; AR 10.80 + 10.80 + 10.81
    # (rounding each memo's tax on its own would give 0.75 x 3 = 2.25 and leave 0.01 open)
    books = Books(book_of(entity(tax_rounding="PER_INVOICE"), customer(), project(), employee()))
    fee = {"kind": "FIXED_FEE", "amount": D("10.05"), "tax_code": "ST", "tax_rate": D("0.075")}
    books.post(invoice(lines=[line(n, **fee) for n in (1, 2, 3)]))
    assert books.balance("2200") == (D("-2.26"), D("-2.26"))
    credited = {}
    for memo_id, line_no in (("CM-2", 2), ("CM-3", 3), ("CM-1", 1)):
        (memo,) = books.post(credit_memo(invoice_id=memo_id, credited_line_nos=[line_no]))
        credited[line_no] = rows(memo)
    assert credited[2] == [
        ("4000", "DEBIT", D("10.05"), D("10.05")),
        ("2200", "DEBIT", D("0.75"), D("0.75")),
        ("1100", "CREDIT", D("10.80"), D("10.80")),
    ]
    assert credited[3] == credited[2]
    assert credited[1] == [
        ("4000", "DEBIT", D("10.05"), D("10.05")),
        ("2200", "DEBIT", D("0.76"), D("0.76")),
        ("1100", "CREDIT", D("10.81"), D("10.81")),
    ]
    assert books.net() == {}
    assert books.ledger.balance(ar_key("INV-1")) is None


def test_credit_memo_cancelling_a_retainer_invoice_returns_its_deposits() -> None:
    """Rule: credit memo on a retainer invoice (its deposit leaves the deposits held)."""
    # RET-1: deposit 3000.00 + 10 % tax: Dr 1100 3300.00 / Cr 2300 3000.00 / Cr 2200 300.00
    # CM-1 on line 1: Dr 2300 3000.00, Dr 2200 300.00, Cr 1100 3300.00; deposits held 0,
    # so a later invoice drawing the retainer parks: nothing is held
    books = Books(standard_book())
    books.post(
        invoice(
            invoice_id="RET-1",
            kind="RETAINER",
            lines=[line(kind="DEPOSIT", amount=D("3000.00"), tax_code="T", tax_rate=D("0.10"))],
        )
    )
    (memo,) = books.post(credit_memo(credited_invoice_id="RET-1"))
    assert rows(memo) == [
        ("2300", "DEBIT", D("3000.00"), D("3000.00")),
        ("2200", "DEBIT", D("300.00"), D("300.00")),
        ("1100", "CREDIT", D("3300.00"), D("3300.00")),
    ]
    assert books.net() == {}
    assert books.ledger.balance(deposit_key("US", "C-1", "USD")) is None
    with pytest.raises(UnpostedSourceError) as info:
        books.post(
            invoice(
                invoice_id="A",
                lines=[line(kind="FIXED_FEE", amount=D("2000.00"))],
                retainer_applied=D("2000.00"),
            )
        )
    assert (info.value.kind, info.value.key) == ("deposit", "deposit/US/C-1/USD")


def test_credit_memo_on_one_of_two_eur_retainers_returns_it_at_the_pooled_base() -> None:
    """Rule: credit memo on a retainer: Dr 2300 at the deposits' carried base, 7900 the rest."""
    # RET-1 EUR 1000.00 at 1.08 = 1080.00; RET-2 EUR 1000.00 at 1.10 = 1100.00;
    # deposits held 2000.00 / 2180.00.
    # CM-1 credits RET-1 at RET-1's rate 1.08: Dr 2300 1000.00 at 2180.00 x 1000 / 2000
    #   = 1090.00; Cr 1100 1000.00 at its carried 1080.00; Cr 7900 1090.00 - 1080.00 = 10.00
    # deposits left: 1000.00 / 1090.00
    books = Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(project_id="P-EU", customer_id="C-2", billing_currency="EUR"),
            spot("EUR", "USD", "1.0800", date(2026, 4, 1)),
            spot("EUR", "USD", "1.1000", date(2026, 4, 30)),
        )
    )
    deposit = [line(kind="DEPOSIT", amount=D("1000.00"))]
    books.post(
        invoice(
            invoice_id="RET-1", kind="RETAINER", issued_on=date(2026, 4, 1), lines=deposit, **EUR
        )
    )
    books.post(invoice(invoice_id="RET-2", kind="RETAINER", lines=deposit, **EUR))
    (memo,) = books.post(credit_memo(credited_invoice_id="RET-1", **EUR))
    assert rows(memo) == [
        ("2300", "DEBIT", D("1000.00"), D("1090.00")),
        ("1100", "CREDIT", D("1000.00"), D("1080.00")),
        ("7900", "CREDIT", D("0.00"), D("10.00")),
    ]
    assert memo.fx.rate == D("1.0800")
    held = books.ledger.balance(deposit_key("US", "C-2", "EUR"))
    assert held is not None
    assert (held.amount, held.base) == (D("1000.00"), D("1090.00"))
    assert books.balance("2300") == (D("-1000.00"), D("-1090.00"))


def test_crediting_a_retainer_already_drawn_down_is_refused() -> None:
    # deposit 3000.00, 2000.00 drawn by invoice A: only 1000.00 held, the line billed 3000.00
    books = Books(standard_book())
    books.post(
        invoice(
            invoice_id="RET-1", kind="RETAINER", lines=[line(kind="DEPOSIT", amount=D("3000.00"))]
        )
    )
    books.post(
        invoice(
            invoice_id="A",
            lines=[line(kind="FIXED_FEE", amount=D("2000.00"))],
            retainer_applied=D("2000.00"),
        )
    )
    with pytest.raises(BalanceExceededError) as info:
        books.post(credit_memo(credited_invoice_id="RET-1"))
    assert info.value.field == "credited_line_nos.0"
    assert "only 1000.00 is still held" in str(info.value)


def test_credit_after_a_partial_payment_splits_between_receivable_and_account() -> None:
    """Rule: credit memo: Cr 1100 up to what is open, the excess Cr 2310 (credit on account)."""
    # INV-1: TE-1 (WIP 187.50) billed 200.00 + fee 300.00, tax 10 % = 50.00; AR 550.00
    # paid 400.00 -> 150.00 open. CM-1 credits line 2: fee 300.00 + tax share
    # 50.00 x 300 / 500 = 30.00 = 330.00: Cr 1100 150.00 (all that is open), Cr 2310 180.00
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
    books.post(
        payment(amount=D("400.00"), allocations=[{"invoice_id": "INV-1", "amount": D("400.00")}])
    )
    (memo,) = books.post(credit_memo(credited_line_nos=[2]))
    assert rows(memo) == [
        ("4000", "DEBIT", D("300.00"), D("300.00")),
        ("2200", "DEBIT", D("30.00"), D("30.00")),
        ("1100", "CREDIT", D("150.00"), D("150.00")),
        ("2310", "CREDIT", D("180.00"), D("180.00")),
    ]
    assert books.ledger.balance(ar_key("INV-1")) is None
    held = books.ledger.balance(credit_key("US", "C-1", "USD"))
    assert held is not None
    assert (held.amount, held.base) == (D("180.00"), D("180.00"))
    assert not [f for f in books.feedback if f.status is FeedbackStatus.RELEASED]
