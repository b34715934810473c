"""Worked examples for invoices and retainers; every amount below is computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.commands import RateType
from streams.domain.exceptions import (
    AlreadyBilledError,
    BalanceExceededError,
    InvalidEventError,
    UnpostedSourceError,
)
from streams.domain.posted import ar_key, deposit_key, wip_key
from tests.unit.domain.billing_builders import Books, expense, invoice, line, rows
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


def eur_books(**project_overrides: object) -> Books:
    """US entity (USD), project P-EU billed in EUR at 120/h, spot 1.083725 (03-30), 1.10 (04-30)."""
    return Books(
        book_of(
            entity(),
            customer(),
            customer(customer_id="C-2", currency="EUR"),
            project(
                project_id="P-EU",
                customer_id="C-2",
                billing_currency="EUR",
                rate=D("120.0000"),
                **project_overrides,
            ),
            employee(),
            spot("EUR", "USD", "1.083725", date(2026, 3, 30)),
            spot("EUR", "USD", "1.1000", date(2026, 4, 30)),
        )
    )


def test_invoice_relieves_wip_writes_down_discounts_and_taxes() -> None:
    # WIP 75 min x 150 = 187.50; billed 180.00 -> write-down 7.50 (Dr 4000)
    # net 180.00 - 18.00 = 162.00; New York City tax 162.00 x 8.875 % = 14.3775 -> 14.38;
    # AR 176.38
    books = Books(standard_book())
    books.post(time_entry())
    (command,) = books.post(
        invoice(
            lines=[
                line(
                    amount=D("180.00"),
                    discount=D("18.00"),
                    tax_code="US-NY",
                    tax_rate_exact=D("0.08875"),
                    time_entry_ids=["TE-1"],
                )
            ]
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("176.38"), D("176.38")),
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "DEBIT", D("7.50"), D("7.50")),
        ("4900", "DEBIT", D("18.00"), D("18.00")),
        ("2200", "CREDIT", D("14.38"), D("14.38")),
    ]
    assert command.lines[4].dimensions.tax_code == "US-NY"
    assert (command.journal, command.effective_date) == ("INVOICE", date(2026, 4, 30))
    assert books.ledger.balance(wip_key("time_entry", "TE-1")) is None
    assert books.ledger.billed[wip_key("time_entry", "TE-1")] == "INV-1"


def test_write_up_when_billed_above_the_accrual() -> None:
    # WIP 187.50, billed 200.00 -> Cr 4000 12.50
    books = Books(standard_book())
    books.post(time_entry())
    (command,) = books.post(invoice(lines=[line(amount=D("200.00"), time_entry_ids=["TE-1"])]))
    assert rows(command) == [
        ("1100", "DEBIT", D("200.00"), D("200.00")),
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "CREDIT", D("12.50"), D("12.50")),
    ]
    assert command.lines[2].memo == "write-up"


def test_multi_currency_invoice_with_tax_discount_and_realised_fx_on_wip() -> None:
    # WIP: 100 min x EUR 120 = EUR 200.00 x 1.083725 = 216.745 -> USD 216.75 (HALF_UP)
    # Invoice at 1.10: line 1 TIME 200.00 - 20.00 discount; line 2 FIXED_FEE 1000.00
    # tax 19 % per invoice: 1180.00 x 0.19 = 224.20; AR 1404.20 x 1.1 = 1544.62
    # discount 22.00, fee 1100.00, tax 246.62; WIP at 1.10 would be 220.00, carried
    # 216.75 -> 3.25 gain on 7900. Dr 1544.62 + 22.00 = Cr 216.75 + 1100 + 246.62 + 3.25
    books = eur_books()
    books.post(time_entry(project_id="P-EU", duration_minutes=100))
    (command,) = books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[
                line(
                    1,
                    amount=D("200.00"),
                    discount=D("20.00"),
                    tax_code="DE-19",
                    tax_rate=D("0.19"),
                    time_entry_ids=["TE-1"],
                ),
                line(
                    2, kind="FIXED_FEE", amount=D("1000.00"), tax_code="DE-19", tax_rate=D("0.19")
                ),
            ],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("1404.20"), D("1544.62")),
        ("1150", "CREDIT", D("200.00"), D("216.75")),
        ("4900", "DEBIT", D("20.00"), D("22.00")),
        ("4000", "CREDIT", D("1000.00"), D("1100.00")),
        ("2200", "CREDIT", D("224.20"), D("246.62")),
        ("7900", "CREDIT", D("0.00"), D("3.25")),
    ]
    assert (command.fx.rate, command.fx.rate_type) == (D("1.1000"), RateType.SPOT)
    assert command.fx.rate_date == date(2026, 4, 30)
    assert books.balance("1150") == (D("0.00"), D("0.00"))


@pytest.mark.parametrize(
    ("policy", "tax", "receivable"),
    [("PER_LINE", D("2.25"), D("32.40")), ("PER_INVOICE", D("2.26"), D("32.41"))],
)
def test_tax_rounding_per_line_or_per_invoice_by_entity_policy(
    policy: str, tax: Decimal, receivable: Decimal
) -> None:
    # 3 lines of 10.05 at 7.5 %: per line 0.75375 -> 0.75, x3 = 2.25;
    # per invoice 30.15 x 0.075 = 2.26125 -> 2.26
    books = Books(book_of(entity(tax_rounding=policy), customer(), project(), employee()))
    lines = [
        line(n, kind="FIXED_FEE", amount=D("10.05"), tax_code="ST", tax_rate=D("0.075"))
        for n in (1, 2, 3)
    ]
    (command,) = books.post(invoice(lines=lines))
    assert rows(command)[0] == ("1100", "DEBIT", receivable, receivable)
    assert rows(command)[-1] == ("2200", "CREDIT", tax, tax)


def test_milestone_on_fixed_fee_project_is_revenue_on_billing() -> None:
    # fixed-fee time accrues no revenue; the milestone bills 5000.00 straight to 4000
    books = Books(standard_book(project(project_id="P-FIX", kind="CLIENT_FIXED")))
    books.post(time_entry(project_id="P-FIX"))
    (command,) = books.post(
        invoice(project_id="P-FIX", lines=[line(kind="MILESTONE", amount=D("5000.00"))])
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("5000.00"), D("5000.00")),
        ("4000", "CREDIT", D("5000.00"), D("5000.00")),
    ]


def test_expense_line_relieves_the_rebill_accrual() -> None:
    # expense re-bill 200.00 x 1.10 = 220.00 accrued; billed 220.00: no write-up
    books = Books(standard_book())
    books.post(expense())
    (command,) = books.post(
        invoice(lines=[line(kind="EXPENSE", amount=D("220.00"), expense_ids=["EX-1"])])
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("220.00"), D("220.00")),
        ("1150", "CREDIT", D("220.00"), D("220.00")),
    ]


def test_retainer_invoice_bills_a_deposit() -> None:
    # Dr 1100 3300.00 / Cr 2300 3000.00 / Cr 2200 300.00 (10 %)
    books = Books(standard_book())
    (command,) = books.post(
        invoice(
            invoice_id="RET-1",
            kind="RETAINER",
            lines=[line(kind="DEPOSIT", amount=D("3000.00"), tax_code="T", tax_rate=D("0.1"))],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("3300.00"), D("3300.00")),
        ("2300", "CREDIT", D("3000.00"), D("3000.00")),
        ("2200", "CREDIT", D("300.00"), D("300.00")),
    ]
    held = books.ledger.balance(deposit_key("US", "C-1", "USD"))
    assert held is not None
    assert (held.amount, held.base) == (D("3000.00"), D("3000.00"))


def test_retainer_drawn_down_across_two_invoices() -> None:
    # deposit 3000.00; A: fee 2000.00, all from the retainer (no receivable);
    # B: fee 1500.00, 1000.00 from the retainer, 500.00 receivable. Deposits end at 0.
    books = Books(standard_book())
    books.post(
        invoice(
            invoice_id="RET-1", kind="RETAINER", lines=[line(kind="DEPOSIT", amount=D("3000.00"))]
        )
    )
    fee: dict[str, Any] = {"kind": "FIXED_FEE"}
    (a,) = books.post(
        invoice(
            invoice_id="A", lines=[line(amount=D("2000.00"), **fee)], retainer_applied=D("2000.00")
        )
    )
    assert rows(a) == [
        ("2300", "DEBIT", D("2000.00"), D("2000.00")),
        ("4000", "CREDIT", D("2000.00"), D("2000.00")),
    ]
    (b,) = books.post(
        invoice(
            invoice_id="B", lines=[line(amount=D("1500.00"), **fee)], retainer_applied=D("1000.00")
        )
    )
    assert rows(b) == [
        ("1100", "DEBIT", D("500.00"), D("500.00")),
        ("2300", "DEBIT", D("1000.00"), D("1000.00")),
        ("4000", "CREDIT", D("1500.00"), D("1500.00")),
    ]
    assert books.balance("2300") == (D("0.00"), D("0.00"))
    assert books.ledger.balance(deposit_key("US", "C-1", "USD")) is None
    assert books.ledger.balance(ar_key("B")) is not None


def test_drawing_more_than_the_deposits_is_refused() -> None:
    books = Books(standard_book())
    books.post(
        invoice(
            invoice_id="RET-1", kind="RETAINER", lines=[line(kind="DEPOSIT", amount=D("100.00"))]
        )
    )
    with pytest.raises(BalanceExceededError) as info:
        books.post(
            invoice(
                lines=[line(kind="FIXED_FEE", amount=D("500.00"))], retainer_applied=D("100.01")
            )
        )
    assert info.value.field == "retainer_applied"


def test_jpy_invoice_in_whole_yen_with_discount_and_consumption_tax() -> None:
    # 100 min x JPY 15,000/h = 25,000 WIP; discount 1,234 -> net 23,766
    # tax 10 %: 2,376.6 -> 2,377; AR 23,766 + 2,377 = 26,143
    books = Books(
        book_of(
            entity(entity_id="JP", base_currency="JPY", timezone="Asia/Tokyo"),
            customer(customer_id="C-J", entity_id="JP", currency="JPY"),
            project(
                project_id="P-JP",
                entity_id="JP",
                customer_id="C-J",
                billing_currency="JPY",
                rate=D("15000"),
            ),
            employee(employee_id="kenji", entity_id="JP", cost_currency="JPY", cost_rate=D("6000")),
        )
    )
    books.post(time_entry(project_id="P-JP", employee_id="kenji", duration_minutes=100))
    (command,) = books.post(
        invoice(
            entity_id="JP",
            customer_id="C-J",
            project_id="P-JP",
            currency="JPY",
            lines=[
                line(
                    amount=D("25000"),
                    discount=D("1234"),
                    tax_code="JP-CT",
                    tax_rate=D("0.10"),
                    time_entry_ids=["TE-1"],
                )
            ],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("26143"), D("26143")),
        ("1150", "CREDIT", D("25000"), D("25000")),
        ("4900", "DEBIT", D("1234"), D("1234")),
        ("2200", "CREDIT", D("2377"), D("2377")),
    ]


def test_bhd_invoice_keeps_fils() -> None:
    # 100 min x BHD 45.125/h = 75.208333 -> 75.208; VAT 10 % 7.5208 -> 7.521; AR 82.729
    books = Books(
        book_of(
            entity(entity_id="BH", base_currency="BHD", timezone="Asia/Bahrain"),
            customer(customer_id="C-B", entity_id="BH", currency="BHD"),
            project(
                project_id="P-BH",
                entity_id="BH",
                customer_id="C-B",
                billing_currency="BHD",
                rate=D("45.125"),
            ),
            employee(employee_id="sara", entity_id="BH", cost_currency="BHD", cost_rate=D("20")),
        )
    )
    books.post(time_entry(project_id="P-BH", employee_id="sara", duration_minutes=100))
    (command,) = books.post(
        invoice(
            entity_id="BH",
            customer_id="C-B",
            project_id="P-BH",
            currency="BHD",
            lines=[
                line(
                    amount=D("75.208"),
                    tax_code="BH-VAT",
                    tax_rate=D("0.1"),
                    time_entry_ids=["TE-1"],
                )
            ],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("82.729"), D("82.729")),
        ("1150", "CREDIT", D("75.208"), D("75.208")),
        ("2200", "CREDIT", D("7.521"), D("7.521")),
    ]


def test_contract_rate_beats_spot_and_no_fx_arises_on_wip() -> None:
    # contract 1.05: WIP EUR 200.00 -> 210.00; invoice EUR 200.00 -> 210.00 (spot ignored)
    books = eur_books(contract_fx_rate=D("1.05"), contract_id="K-9")
    books.post(time_entry(project_id="P-EU", duration_minutes=100))
    (command,) = books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[line(amount=D("200.00"), time_entry_ids=["TE-1"])],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("200.00"), D("210.00")),
        ("1150", "CREDIT", D("200.00"), D("210.00")),
    ]
    assert (command.fx.rate_type, command.fx.contract_id) == (RateType.CONTRACT, "K-9")


def test_an_entry_on_a_live_invoice_cannot_be_billed_again() -> None:
    books = Books(standard_book())
    books.post(time_entry())
    books.post(invoice(lines=[line(amount=D("187.50"), time_entry_ids=["TE-1"])]))
    with pytest.raises(AlreadyBilledError) as info:
        books.post(
            invoice(invoice_id="INV-2", lines=[line(amount=D("1"), time_entry_ids=["TE-1"])])
        )
    assert info.value.field == "lines.0.time_entry_ids"
    assert info.value.code == "ALREADY_BILLED"


def test_an_entry_not_posted_yet_parks_the_invoice() -> None:
    with pytest.raises(UnpostedSourceError) as info:
        Books(standard_book()).post(invoice(lines=[line(amount=D("1"), time_entry_ids=["TE-9"])]))
    assert (info.value.kind, info.value.key, info.value.retryable) == ("time_entry", "TE-9", True)


def test_wip_in_another_currency_than_the_invoice_is_refused() -> None:
    books = Books(standard_book(spot("EUR", "USD", "1.1", date(2026, 4, 30))))
    books.post(time_entry())
    with pytest.raises(InvalidEventError) as info:
        books.post(invoice(currency="EUR", lines=[line(amount=D("1"), time_entry_ids=["TE-1"])]))
    assert "accrued WIP in USD" in str(info.value)


def test_entity_chart_overrides_apply_to_invoice_accounts() -> None:
    # FR-style chart: 4000 -> 706000, 1150 -> 418100
    overrides = {"4000": "706000", "1150": "418100"}
    books = Books(book_of(entity(account_overrides=overrides), customer(), project(), employee()))
    books.post(time_entry())
    (command,) = books.post(invoice(lines=[line(amount=D("200.00"), time_entry_ids=["TE-1"])]))
    assert [r[0] for r in rows(command)] == ["1100", "418100", "706000"]
