"""One command id, one body: the scale a decimal was read with never reaches a command.

Avro carries decimals at their schema's scale (``1353.8000``), JSON as written
(``1353.80``): the same event read either way must post byte-identical commands,
memos included (issue 16: a ledger deduplicating by id would refuse one of them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from streams.domain.commands import PostLedgerEntry
from streams.domain.money import show_amount, show_number
from streams.domain.posting import SourceEvent
from tests.unit.domain.billing_builders import Books, credit_memo, expense, invoice, line, payment
from tests.unit.domain.builders import standard_book, time_entry

D = Decimal


def _posted(*events: SourceEvent) -> list[dict[str, Any]]:
    books = Books(standard_book())
    out: list[PostLedgerEntry] = []
    for event in events:
        out += books.post(event)
    return [c.model_dump() for c in out]  # decimals compare by value, memos as text


def _scaled(amount: str) -> Decimal:
    return D(amount).quantize(D("0.0001"))  # as fastavro reads a decimal of scale 4


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (D("1353.8000"), "USD", "1353.80"),
        (D("1353.8"), "USD", "1353.80"),
        (D("12.3456"), "USD", "12.3456"),
        (D("1200.0000"), "JPY", "1200"),
        (D("0E-4"), "USD", "0.00"),
    ],
)
def test_an_amount_is_shown_with_its_currencys_decimals(
    amount: Decimal, currency: str, shown: str
) -> None:
    assert show_amount(amount, currency) == shown


def test_a_rate_is_shown_without_trailing_zeros() -> None:
    assert [show_number(D(x)) for x in ("0.1000", "0.10", "0", "0E-4", "100.00")] == [
        "0.1",
        "0.1",
        "0",
        "0",
        "100",
    ]


def test_an_expense_with_markup_posts_the_same_at_any_scale() -> None:
    as_json = expense(amount=D("200.00"), markup_rate=D("0.10"))
    as_avro = expense(amount=_scaled("200.00"), markup_rate=_scaled("0.10"))
    assert _posted(as_json) == _posted(as_avro)
    assert "markup 0.1 = 220.00 USD" in _posted(as_json)[1]["memo"]


def test_invoices_credit_memos_and_payments_post_the_same_at_any_scale() -> None:
    fee = {"kind": "FIXED_FEE"}

    def month(scale: Any) -> list[dict[str, Any]]:
        return _posted(
            time_entry(),
            invoice(
                lines=[line(amount=scale("1353.80"), **fee), line(2, amount=scale("20.5"), **fee)]
            ),
            credit_memo(credited_line_nos=[2]),
            payment(
                amount=scale("1353.80"),
                allocations=[{"invoice_id": "INV-1", "amount": scale("1353.80")}],
            ),
        )

    assert month(D) == month(_scaled)
    memos = [c["memo"] for c in month(_scaled)]
    assert any(m.endswith(" 1374.30 USD") for m in memos), memos
    assert any(m.endswith(" 1353.80 USD") and m.startswith("Payment") for m in memos), memos
