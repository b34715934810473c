"""Golden worked examples: payments and realised FX. Every amount is computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from streams.domain.commands import CommandAction
from streams.domain.posted import ar_key, credit_key
from tests.unit.domain.billing_builders import Books, invoice, line, payment, rows
from tests.unit.domain.builders import book_of, customer, entity, project, spot

D = Decimal
FEE: dict[str, Any] = {"kind": "FIXED_FEE"}


def foreign_books(currency: str, *rates: tuple[str, date]) -> Books:
    """US entity (USD), customer C-F and project P-F billing ``currency``, SPOT rates to USD."""
    return Books(
        book_of(
            entity(),
            customer(customer_id="C-F", currency=currency),
            project(project_id="P-F", customer_id="C-F", billing_currency=currency),
            *(spot(currency, "USD", rate, on) for rate, on in rates),
        )
    )


def pay(payment_id: str, amount: str, on: date, currency: str, **extra: Any) -> Any:
    data: dict[str, Any] = {
        "payment_id": payment_id,
        "customer_id": "C-F",
        "currency": currency,
        "amount": D(amount),
        "received_on": on,
        "allocations": [{"invoice_id": "INV-1", "amount": D(amount)}],
    }
    return payment(**(data | extra))


def test_two_partial_jpy_payments_on_a_usd_entity_realise_fx_in_cents() -> None:
    """Rule: payment (partial, foreign currency): Cr 1100 at its carried base, 7900 the rest."""
    # INV-1 JPY 150,000 at 0.0067 (04-30) -> AR USD 1005.00
    # PAY-1 JPY 60,000 at 0.0069 (05-15): cash 414.00; AR relieved 1005.00 x 60,000 / 150,000
    #   = 402.00; gain 12.00 (Cr 7900)
    # PAY-2 JPY 90,000 at 0.0065 (05-31): cash 585.00; AR relieved what is left,
    #   1005.00 - 402.00 = 603.00; loss 18.00 (Dr 7900). Net 6.00 loss; AR 0 / 0
    books = foreign_books(
        "JPY",
        ("0.0067", date(2026, 4, 30)),
        ("0.0069", date(2026, 5, 15)),
        ("0.0065", date(2026, 5, 31)),
    )
    books.post(
        invoice(
            customer_id="C-F",
            project_id="P-F",
            currency="JPY",
            lines=[line(amount=D("150000"), **FEE)],
        )
    )
    assert books.balance("1100") == (D("150000"), D("1005.00"))
    (first,) = books.post(pay("PAY-1", "60000", date(2026, 5, 15), "JPY"))
    assert rows(first) == [
        ("1000", "DEBIT", D("60000"), D("414.00")),
        ("1100", "CREDIT", D("60000"), D("402.00")),
        ("7900", "CREDIT", D("0"), D("12.00")),
    ]
    (second,) = books.post(pay("PAY-2", "90000", date(2026, 5, 31), "JPY"))
    assert rows(second) == [
        ("1000", "DEBIT", D("90000"), D("585.00")),
        ("1100", "CREDIT", D("90000"), D("603.00")),
        ("7900", "DEBIT", D("0"), D("18.00")),
    ]
    assert books.balance("1100") == (D("0"), D("0.00"))
    assert books.balance("7900") == (D("0"), D("6.00"))
    assert books.ledger.balance(ar_key("INV-1")) is None


def test_eur_overpayment_settles_the_invoice_and_holds_the_rest_on_account() -> None:
    """Rule: payment: what is not allocated is a customer credit (Cr 2310) at today's rate."""
    # INV-1 EUR 100.00 at 1.10 -> AR USD 110.00
    # PAY-1 EUR 150.00 at 1.12 (05-15), 100.00 to INV-1: cash 168.00; Cr 1100 110.00
    #   (carried); Cr 2310 50.00 x 1.12 = 56.00; Cr 7900 112.00 - 110.00 = 2.00 (gain)
    books = foreign_books("EUR", ("1.1000", date(2026, 4, 30)), ("1.1200", date(2026, 5, 15)))
    books.post(
        invoice(
            customer_id="C-F",
            project_id="P-F",
            currency="EUR",
            lines=[line(amount=D("100.00"), **FEE)],
        )
    )
    (command,) = books.post(
        pay(
            "PAY-1",
            "150.00",
            date(2026, 5, 15),
            "EUR",
            allocations=[{"invoice_id": "INV-1", "amount": D("100.00")}],
        )
    )
    assert rows(command) == [
        ("1000", "DEBIT", D("150.00"), D("168.00")),
        ("1100", "CREDIT", D("100.00"), D("110.00")),
        ("2310", "CREDIT", D("50.00"), D("56.00")),
        ("7900", "CREDIT", D("0.00"), D("2.00")),
    ]
    held = books.ledger.balance(credit_key("US", "C-F", "EUR"))
    assert held is not None
    assert (held.amount, held.base) == (D("50.00"), D("56.00"))


def test_corrected_eur_payment_reverses_at_the_old_rate_and_reposts_at_the_new() -> None:
    """Rule: corrections of a payment (REVERSE as posted, then POST the new version)."""
    # INV-1 EUR 1000.00 at 1.10 -> AR 1100.00
    # v1 05-15 at 1.12: EUR 400.00 -> cash 448.00, AR 440.00, gain 8.00
    # v2 says EUR 500.00 received 05-31 at 1.08: REVERSE v1 as posted (date 05-15, 1.12);
    #   POST cash 540.00, AR 1100.00 x 500 / 1000 = 550.00, loss 10.00 (Dr 7900)
    # AR open 500.00 / 550.00; 7900 net 10.00 loss
    books = foreign_books(
        "EUR",
        ("1.1000", date(2026, 4, 30)),
        ("1.1200", date(2026, 5, 15)),
        ("1.0800", date(2026, 5, 31)),
    )
    books.post(
        invoice(
            customer_id="C-F",
            project_id="P-F",
            currency="EUR",
            lines=[line(amount=D("1000.00"), **FEE)],
        )
    )
    (v1,) = books.post(pay("PAY-1", "400.00", date(2026, 5, 15), "EUR"))
    assert rows(v1) == [
        ("1000", "DEBIT", D("400.00"), D("448.00")),
        ("1100", "CREDIT", D("400.00"), D("440.00")),
        ("7900", "CREDIT", D("0.00"), D("8.00")),
    ]
    reverse, v2 = books.post(pay("PAY-1", "500.00", date(2026, 5, 31), "EUR", version=2))
    assert (reverse.action, reverse.reverses) == (CommandAction.REVERSE, v1.command_id)
    assert rows(reverse) == [
        ("1000", "CREDIT", D("400.00"), D("448.00")),
        ("1100", "DEBIT", D("400.00"), D("440.00")),
        ("7900", "DEBIT", D("0.00"), D("8.00")),
    ]
    assert (reverse.effective_date, reverse.fx.rate) == (date(2026, 5, 15), D("1.1200"))
    assert rows(v2) == [
        ("1000", "DEBIT", D("500.00"), D("540.00")),
        ("1100", "CREDIT", D("500.00"), D("550.00")),
        ("7900", "DEBIT", D("0.00"), D("10.00")),
    ]
    assert (v2.effective_date, v2.fx.rate) == (date(2026, 5, 31), D("1.0800"))
    receivable = books.ledger.balance(ar_key("INV-1"))
    assert receivable is not None
    assert (receivable.amount, receivable.base) == (D("500.00"), D("550.00"))
    assert books.balance("7900") == (D("0.00"), D("10.00"))
