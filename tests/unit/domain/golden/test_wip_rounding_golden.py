"""Golden worked examples: WIP relieved at its per-entry base; rounding on 7950, FX on 7900.

Each time entry's WIP was converted to base on its own (rounded once per entry). An
invoice that relieves several entries at the same rate realises no FX: the cents by
which the per-entry bases differ from the line converted whole are rounding (7950).
Every amount is computed by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, rows
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    time_entry,
)

D = Decimal
ISSUED = date(2026, 4, 30)


def _books(*, contract: bool) -> Books:
    # US entity (USD, HALF_UP); P-EU bills EUR 100.10/h, at a contract rate of 1.10
    # (revenue and invoices) or at SPOT (1.10 on 03-31, 1.12 on 04-30).
    terms = {"contract_fx_rate": D("1.10"), "contract_id": "K-1"} if contract else {}
    return Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(
                project_id="P-EU",
                customer_id="C-2",
                billing_currency="EUR",
                rate=D("100.1000"),
                **terms,
            ),
            employee(),
            spot("EUR", "USD", "1.1000", date(2026, 3, 31)),
            spot("EUR", "USD", "1.1200", ISSUED),
        )
    )


def _two_entries(books: Books) -> None:
    # 30 min x EUR 100.10/h = 50.05 each; x 1.10 = 55.055 -> USD 55.06 each (HALF_UP)
    for entry_id in ("TE-1", "TE-2"):
        books.post(time_entry(entry_id=entry_id, project_id="P-EU", duration_minutes=30))


def test_same_rate_wip_relief_books_its_per_entry_rounding_on_7950_not_fx() -> None:
    """Rule: invoice at the contract rate of the WIP: no FX, the cent is rounding (7950)."""
    # WIP carried 55.06 + 55.06 = 110.12. Invoice at the same contract rate 1.10:
    #   AR 100.10 x 1.10 = 110.11. Each entry at today's rate is worth what it carries
    #   (55.06), so FX = 0; credits 110.12 exceed debits 110.11: Dr 7950 0.01.
    books = _books(contract=True)
    _two_entries(books)
    (command,) = books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[line(amount=D("100.10"), time_entry_ids=["TE-1", "TE-2"])],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("100.10"), D("110.11")),
        ("1150", "CREDIT", D("100.10"), D("110.12")),
        ("7950", "DEBIT", D("0.00"), D("0.01")),
    ]
    assert books.balance("7900") == (D("0"), D("0"))


def test_wip_relief_at_a_new_rate_realises_fx_per_entry_and_leaves_rounding_on_7950() -> None:
    """Rule: FX on WIP = each entry at today's rate - its carried base; the rest is 7950."""
    # WIP carried 2 x 55.06 = 110.12 (SPOT 1.10 on 03-31). Invoice at 1.12 (04-30):
    #   each entry 50.05 x 1.12 = 56.056 -> 56.06; FX = 2 x 56.06 - 110.12 = 2.00 gain
    #   (Cr 7900). AR 100.10 x 1.12 = 112.112 -> 112.11; credits 110.12 + 2.00 =
    #   112.12 vs debits 112.11: Dr 7950 0.01 (the line converted whole rounds down).
    books = _books(contract=False)
    _two_entries(books)
    (command,) = books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[line(amount=D("100.10"), time_entry_ids=["TE-1", "TE-2"])],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("100.10"), D("112.11")),
        ("1150", "CREDIT", D("100.10"), D("110.12")),
        ("7900", "CREDIT", D("0.00"), D("2.00")),
        ("7950", "DEBIT", D("0.00"), D("0.01")),
    ]
    # A memo on the line, at the invoice's rate, gives both back the same way:
    #   Dr 1150 110.12, Cr 1100 112.11, Dr 7900 2.00, Cr 7950 0.01.
    (memo,) = books.post(
        credit_memo(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            recorded_at=datetime(2026, 5, 10, 12, 0, tzinfo=UTC),
        )
    )
    assert rows(memo) == [
        ("1150", "DEBIT", D("100.10"), D("110.12")),
        ("1100", "CREDIT", D("100.10"), D("112.11")),
        ("7900", "DEBIT", D("0.00"), D("2.00")),
        ("7950", "CREDIT", D("0.00"), D("0.01")),
    ]
    assert books.balance("7900") == (D("0.00"), D("0.00"))
    assert books.balance("7950") == (D("0.00"), D("0.00"))
