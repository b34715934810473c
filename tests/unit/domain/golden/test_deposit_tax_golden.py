"""Golden worked examples: tax on retainer deposits is charged once; customer credit applied.

Under VAT (``tax_regime`` GB-VAT here) the retainer invoice taxes its deposit; the
invoice that applies the deposit taxes its full lines and takes the tax already
charged on the part applied off again (Dr 2200), so the customer pays the tax once.
Under a sales tax (``*-SALES``) a deposit is not a sale: it carries no tax, and a
taxed DEPOSIT line is refused. Every amount is computed by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.exceptions import BalanceExceededError, InvalidEventError
from streams.domain.posted import credit_key, deposit_key, deposit_tax_key
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, payment, rows
from tests.unit.domain.builders import book_of, customer, employee, entity, project

D = Decimal
FEE: dict[str, Any] = {"kind": "FIXED_FEE"}
LATER = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def vat_books(regime: str = "GB-VAT") -> Books:
    return Books(book_of(entity(tax_regime=regime), customer(), project(), employee()))


def retainer(amount: str, rate: str, **extra: Any) -> Any:
    tax = {"tax_code": "VAT", "tax_rate": D(rate)}
    data = {"invoice_id": "RET-1", "kind": "RETAINER", "issued_on": date(2026, 4, 1)}
    return invoice(**(data | {"lines": [line(kind="DEPOSIT", amount=D(amount), **tax)]} | extra))


def test_a_taxed_deposit_applied_in_full_is_not_taxed_again() -> None:
    """Rule: invoice applying a VAT-taxed deposit: Dr 2200 the tax charged on it."""
    # RET-1: deposit 1000.00 + 20 % VAT: Dr 1100 1200.00 / Cr 2300 1000.00 / Cr 2200 200.00
    # INV-1: work 1000.00 + 20 % = 200.00, applies the 1000.00 deposit and its 200.00 VAT:
    #   Dr 2300 1000.00, Cr 4000 1000.00, Cr 2200 200.00, Dr 2200 200.00; nothing more due
    # Output tax 200.00 (not 400.00); the customer is billed 1200.00 in all (not 1400.00).
    books = vat_books()
    (ret,) = books.post(retainer("1000.00", "0.20"))
    assert rows(ret) == [
        ("1100", "DEBIT", D("1200.00"), D("1200.00")),
        ("2300", "CREDIT", D("1000.00"), D("1000.00")),
        ("2200", "CREDIT", D("200.00"), D("200.00")),
    ]
    vat = {"tax_code": "VAT", "tax_rate": D("0.20")}
    (final,) = books.post(
        invoice(lines=[line(amount=D("1000.00"), **FEE, **vat)], retainer_applied=D("1000.00"))
    )
    assert rows(final) == [
        ("2300", "DEBIT", D("1000.00"), D("1000.00")),
        ("4000", "CREDIT", D("1000.00"), D("1000.00")),
        ("2200", "CREDIT", D("200.00"), D("200.00")),
        ("2200", "DEBIT", D("200.00"), D("200.00")),
    ]
    assert books.balance("2200") == (D("-200.00"), D("-200.00"))
    assert books.balance("1100") == (D("1200.00"), D("1200.00"))
    assert books.ledger.balance(deposit_tax_key("US", "C-1", "USD", "VAT")) is None


def test_a_deposit_applied_in_parts_takes_its_tax_off_pro_rata() -> None:
    """Rule: the tax taken off is the applied share of the tax held (the last part: the rest)."""
    # RET-1: 3000.00 + 10 % = 300.00 held with the deposit.
    # A: fee 2000.00 + 10 % = 200.00, applies 2000.00: tax 300.00 x 2000 / 3000 = 200.00
    #   off; AR 2000.00 + 200.00 - 2000.00 - 200.00 = 0.
    # B: fee 1500.00 + 150.00, applies the last 1000.00 and the last 100.00 of tax:
    #   Dr 1100 1500.00 + 150.00 - 1000.00 - 100.00 = 550.00.
    # Output tax 300.00 - 200.00 + 200.00 - 150.00 + 100.00... net 350.00 = 10 % of 3500.00
    books = vat_books()
    books.post(retainer("3000.00", "0.10"))
    tax = {"tax_code": "VAT", "tax_rate": D("0.10")}
    (a,) = books.post(
        invoice(
            invoice_id="A", lines=[line(amount=D("2000.00"), **FEE, **tax)],
            retainer_applied=D("2000.00"),
        )
    )  # fmt: skip
    assert rows(a) == [
        ("2300", "DEBIT", D("2000.00"), D("2000.00")),
        ("4000", "CREDIT", D("2000.00"), D("2000.00")),
        ("2200", "CREDIT", D("200.00"), D("200.00")),
        ("2200", "DEBIT", D("200.00"), D("200.00")),
    ]
    (b,) = books.post(
        invoice(
            invoice_id="B", lines=[line(amount=D("1500.00"), **FEE, **tax)],
            retainer_applied=D("1000.00"), recorded_at=LATER,
        )
    )  # fmt: skip
    assert rows(b) == [
        ("1100", "DEBIT", D("550.00"), D("550.00")),
        ("2300", "DEBIT", D("1000.00"), D("1000.00")),
        ("4000", "CREDIT", D("1500.00"), D("1500.00")),
        ("2200", "CREDIT", D("150.00"), D("150.00")),
        ("2200", "DEBIT", D("100.00"), D("100.00")),
    ]
    assert books.balance("2200") == (D("-350.00"), D("-350.00"))
    assert books.ledger.balance(deposit_key("US", "C-1", "USD")) is None
    assert books.ledger.balance(deposit_tax_key("US", "C-1", "USD", "VAT")) is None


def test_a_sales_tax_entity_refuses_a_taxed_deposit() -> None:
    """Rule: under a sales tax (US-SALES) a deposit is not a sale and carries no tax."""
    with pytest.raises(InvalidEventError) as info:
        vat_books("US-SALES").post(retainer("1000.00", "0.0625"))
    assert info.value.field == "lines.0.tax_code"
    books = vat_books("US-SALES")
    (ret,) = books.post(
        invoice(
            invoice_id="RET-1",
            kind="RETAINER",
            lines=[line(kind="DEPOSIT", amount=D("1000.00"))],
        )
    )
    assert rows(ret) == [
        ("1100", "DEBIT", D("1000.00"), D("1000.00")),
        ("2300", "CREDIT", D("1000.00"), D("1000.00")),
    ]


def test_crediting_a_taxed_retainer_takes_its_tax_off_what_is_held() -> None:
    # RET-1 1000.00 + 200.00 VAT, credited in full: Dr 2300 1000.00, Dr 2200 200.00,
    #   Cr 1100 1200.00; no deposit and no tax on it is held any more, so a later
    #   untaxed deposit applied takes no tax off.
    books = vat_books()
    books.post(retainer("1000.00", "0.20"))
    books.post(credit_memo(credited_invoice_id="RET-1"))
    assert books.ledger.balance(deposit_tax_key("US", "C-1", "USD", "VAT")) is None
    books.post(
        invoice(
            invoice_id="RET-2",
            kind="RETAINER",
            lines=[line(kind="DEPOSIT", amount=D("500.00"))],
            recorded_at=LATER,
        )
    )
    vat = {"tax_code": "VAT", "tax_rate": D("0.20")}
    (final,) = books.post(
        invoice(lines=[line(amount=D("500.00"), **FEE, **vat)], retainer_applied=D("500.00"))
    )
    assert ("2200", "DEBIT") not in {(r[0], r[1]) for r in rows(final)}


def test_a_customer_credit_is_applied_by_the_next_invoice() -> None:
    """Rule: credit_applied draws the customer credit (Dr 2310) off the receivable."""
    # PAY-1 150.00 on INV-1 (100.00): 50.00 customer credit. INV-2 fee 120.00 applies it:
    #   Dr 1100 70.00, Dr 2310 50.00, Cr 4000 120.00. Applying more than is held: refused.
    books = vat_books()
    books.post(invoice(lines=[line(amount=D("100.00"), **FEE)]))
    books.post(
        payment(amount=D("150.00"), allocations=[{"invoice_id": "INV-1", "amount": D("150.00")}])
    )
    (inv2,) = books.post(
        invoice(
            invoice_id="INV-2", lines=[line(amount=D("120.00"), **FEE)],
            credit_applied=D("50.00"),
        )
    )  # fmt: skip
    assert rows(inv2) == [
        ("1100", "DEBIT", D("70.00"), D("70.00")),
        ("2310", "DEBIT", D("50.00"), D("50.00")),
        ("4000", "CREDIT", D("120.00"), D("120.00")),
    ]
    assert books.ledger.balance(credit_key("US", "C-1", "USD")) is None
    with pytest.raises(BalanceExceededError) as info:
        books.post(
            invoice(
                invoice_id="INV-2", version=2, lines=[line(amount=D("120.00"), **FEE)],
                credit_applied=D("50.01"),
            )
        )  # fmt: skip
    assert info.value.field == "credit_applied"
