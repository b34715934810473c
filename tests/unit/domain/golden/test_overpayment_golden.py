"""Golden worked examples: overpayments and credits on account (2310 Customer credits).

A payment larger than what is open on its invoice is booked, not refused: the excess
is unapplied cash, a credit the customer holds (Cr 2310), at the invoice's rate, as a
credit memo's excess over what is open is. So a payment and a credit memo on the same
invoice leave the same books in either order. Every amount is computed by hand.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from streams.domain.posted import ar_key, credit_key
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, payment, rows
from tests.unit.domain.builders import book_of, customer, entity, project, spot, standard_book

D = Decimal
FEE: dict[str, Any] = {"kind": "FIXED_FEE"}
EUR: dict[str, Any] = {"customer_id": "C-2", "project_id": "P-EU", "currency": "EUR"}


def test_an_overpayment_books_the_excess_as_a_customer_credit() -> None:
    """Rule: payment: an allocation above what is open: Cr 1100 the open, Cr 2310 the rest."""
    # INV-1 fee 100.00 (AR 100.00). PAY-1 150.00, all to INV-1:
    #   Dr 1000 150.00, Cr 1100 100.00, Cr 2310 50.00 (the customer's credit)
    books = Books(standard_book())
    books.post(invoice(lines=[line(amount=D("100.00"), **FEE)]))
    (command,) = books.post(
        payment(amount=D("150.00"), allocations=[{"invoice_id": "INV-1", "amount": D("150.00")}])
    )
    assert rows(command) == [
        ("1000", "DEBIT", D("150.00"), D("150.00")),
        ("1100", "CREDIT", D("100.00"), D("100.00")),
        ("2310", "CREDIT", D("50.00"), D("50.00")),
    ]
    assert books.ledger.balance(ar_key("INV-1")) is None
    credit = books.ledger.balance(credit_key("US", "C-1", "USD"))
    assert credit is not None
    assert (credit.amount, credit.base) == (D("50.00"), D("50.00"))


def _two_fees(books: Books, **extra: Any) -> None:
    books.post(
        invoice(
            lines=[line(1, amount=D("600.00"), **FEE), line(2, amount=D("400.00"), **FEE)],
            **extra,
        )
    )


def test_memo_then_payment_leaves_the_books_of_payment_then_memo() -> None:
    """Rule: payment and credit memo in either order: same books (2310 takes the excess)."""
    # INV-1: fees 600.00 + 400.00, AR 1000.00; PAY-1 1000.00 to INV-1; CM-1 credits line 2.
    # Payment first: Cr 1100 1000.00; memo: Dr 4000 400.00, Cr 2310 400.00 (nothing open).
    # Memo first: Dr 4000 400.00, Cr 1100 400.00; payment: Cr 1100 600.00 (all that is
    #   open), Cr 2310 400.00 (refused before as BALANCE_EXCEEDED: the cash never booked).
    # Either way: 1000 1000.00, 1100 0, 4000 -600.00, 2310 -400.00.
    pay = payment(
        amount=D("1000.00"), allocations=[{"invoice_id": "INV-1", "amount": D("1000.00")}]
    )
    memo = credit_memo(credited_line_nos=[2])
    paid_first = Books(standard_book())
    _two_fees(paid_first)
    paid_first.post(pay)
    (memo_after,) = paid_first.post(memo)
    assert rows(memo_after) == [
        ("4000", "DEBIT", D("400.00"), D("400.00")),
        ("2310", "CREDIT", D("400.00"), D("400.00")),
    ]
    credited_first = Books(standard_book())
    _two_fees(credited_first)
    credited_first.post(memo)
    (pay_after,) = credited_first.post(pay)
    assert rows(pay_after) == [
        ("1000", "DEBIT", D("1000.00"), D("1000.00")),
        ("1100", "CREDIT", D("600.00"), D("600.00")),
        ("2310", "CREDIT", D("400.00"), D("400.00")),
    ]
    assert paid_first.net() == credited_first.net()
    assert credited_first.net() == {
        ("US", "1000", "USD"): (D("1000.00"), D("1000.00")),
        ("US", "4000", "USD"): (D("-600.00"), D("-600.00")),
        ("US", "2310", "USD"): (D("-400.00"), D("-400.00")),
    }


def test_a_foreign_overpayment_keeps_the_credit_at_the_invoice_rate_and_realises_fx() -> None:
    """Rule: the excess is credited at the invoice's rate; FX is realised on the whole cash."""

    # US entity; INV-1 EUR 1000.00 (600.00 + 400.00) at 1.10 (04-30): AR 1100.00.
    # CM-1 credits line 2 at 1.10: Dr 4000 400.00 / 440.00, Cr 1100 400.00 / 440.00.
    # PAY-1 EUR 1000.00 at 1.12 (05-15), all to INV-1: Dr 1000 1120.00; Cr 1100 600.00
    #   at what is left, 660.00; Cr 2310 400.00 at the invoice's 1.10 = 440.00;
    #   Cr 7900 1120.00 - 660.00 - 440.00 = 20.00 (gain on the EUR received).
    # Paid first instead: Cr 1100 1000.00 / 1100.00, Cr 7900 20.00; then the memo:
    #   Dr 4000 400.00 / 440.00, Cr 2310 400.00 / 440.00. Same books.
    def books() -> Books:
        made = Books(
            book_of(
                entity(),
                customer(customer_id="C-2", currency="EUR"),
                project(project_id="P-EU", customer_id="C-2", billing_currency="EUR"),
                spot("EUR", "USD", "1.1000", date(2026, 4, 30)),
                spot("EUR", "USD", "1.1200", date(2026, 5, 15)),
            )
        )
        _two_fees(made, **EUR)
        return made

    pay = payment(
        customer_id="C-2",
        currency="EUR",
        amount=D("1000.00"),
        allocations=[{"invoice_id": "INV-1", "amount": D("1000.00")}],
    )
    memo = credit_memo(credited_line_nos=[2], **EUR)
    credited_first = books()
    credited_first.post(memo)
    (pay_after,) = credited_first.post(pay)
    assert rows(pay_after) == [
        ("1000", "DEBIT", D("1000.00"), D("1120.00")),
        ("1100", "CREDIT", D("600.00"), D("660.00")),
        ("2310", "CREDIT", D("400.00"), D("440.00")),
        ("7900", "CREDIT", D("0.00"), D("20.00")),
    ]
    paid_first = books()
    paid_first.post(pay)
    paid_first.post(memo)
    assert paid_first.net() == credited_first.net()
    assert credited_first.balance("7900") == (D("0.00"), D("-20.00"))
    assert credited_first.balance("2310") == (D("-400.00"), D("-440.00"))
