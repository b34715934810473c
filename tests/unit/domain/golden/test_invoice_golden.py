"""Golden worked examples: invoices and retainers. Every amount is computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.commands import RateType
from streams.domain.posted import deposit_key, wip_key
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
ISSUED = date(2026, 4, 30)


def test_gbp_invoice_in_a_eur_entity_taxes_per_line_and_realises_fx_on_wip() -> None:
    """Rule: invoice (multi-currency, two tax codes, discount, WIP at its accrued base, 7950)."""
    # DE entity: EUR, PER_LINE tax, HALF_EVEN. P-UK bills GBP 95/h.
    # WIP: 200 min x 95 / 60 = 316.666.. -> GBP 316.67; x GBP/EUR 1.1713 (03-31)
    #   = 370.915571 -> EUR 370.92.
    # Invoice 04-30 at 1.1500:
    #   line 1 TIME 320.00 - 16.00 discount, UK-20: write-up 320.00 - 316.67 = 3.33
    #   line 2 FIXED_FEE 145.30, UK-5; line 3 FIXED_FEE 74.45, UK-20
    #   tax per line: 304.00 x 20 % = 60.80; 145.30 x 5 % = 7.265 -> 7.26 (HALF_EVEN);
    #   74.45 x 20 % = 14.89. UK-20 = 60.80 + 14.89 = 75.69; UK-5 = 7.26
    #   AR = 304.00 + 145.30 + 74.45 + 75.69 + 7.26 = 606.70
    # base at 1.15 (HALF_EVEN): AR 697.705 -> 697.70; write-up 3.8295 -> 3.83;
    #   discount 18.40; fees 167.095 -> 167.10 and 85.6175 -> 85.62;
    #   tax 87.0435 -> 87.04 and 8.349 -> 8.35
    # WIP carried 370.92 vs 316.67 x 1.15 = 364.1705 -> 364.17: 6.75 loss, Dr 7900
    # debits 697.70 + 18.40 + 6.75 = 722.85; credits 370.92 + 3.83 + 167.10 + 85.62
    #   + 87.04 + 8.35 = 722.86 -> the 0.01 of rounding goes to Dr 7950
    books = Books(
        book_of(
            entity(
                entity_id="DE",
                base_currency="EUR",
                timezone="Europe/Berlin",
                tax_rounding="PER_LINE",
                rounding_mode="HALF_EVEN",
            ),
            customer(customer_id="C-UK", entity_id="DE", currency="GBP"),
            project(
                project_id="P-UK",
                entity_id="DE",
                customer_id="C-UK",
                billing_currency="GBP",
                rate=D("95.0000"),
            ),
            employee(employee_id="hans", entity_id="DE", cost_currency="EUR"),
            spot("GBP", "EUR", "1.1713", date(2026, 3, 31)),
            spot("GBP", "EUR", "1.1500", ISSUED),
        )
    )
    books.post(time_entry(project_id="P-UK", employee_id="hans", duration_minutes=200))
    uk20: dict[str, Any] = {"tax_code": "UK-20", "tax_rate": D("0.20")}
    (command,) = books.post(
        invoice(
            entity_id="DE",
            customer_id="C-UK",
            project_id="P-UK",
            currency="GBP",
            lines=[
                line(1, amount=D("320.00"), discount=D("16.00"), time_entry_ids=["TE-1"], **uk20),
                line(
                    2,
                    kind="FIXED_FEE",
                    amount=D("145.30"),
                    tax_code="UK-5",
                    tax_rate=D("0.05"),
                ),
                line(3, kind="FIXED_FEE", amount=D("74.45"), **uk20),
            ],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("606.70"), D("697.70")),
        ("1150", "CREDIT", D("316.67"), D("370.92")),
        ("4000", "CREDIT", D("3.33"), D("3.83")),
        ("4900", "DEBIT", D("16.00"), D("18.40")),
        ("4000", "CREDIT", D("145.30"), D("167.10")),
        ("4000", "CREDIT", D("74.45"), D("85.62")),
        ("2200", "CREDIT", D("75.69"), D("87.04")),
        ("2200", "CREDIT", D("7.26"), D("8.35")),
        ("7900", "DEBIT", D("0.00"), D("6.75")),
        ("7950", "DEBIT", D("0.00"), D("0.01")),
    ]
    assert [ln.dimensions.tax_code for ln in command.lines[6:8]] == ["UK-20", "UK-5"]
    assert (command.fx.rate, command.fx.rate_date) == (D("1.1500"), ISSUED)
    assert books.balance("1150") == (D("0.00"), D("0.00"))


def test_invoice_relieves_wip_exactly_with_a_time_write_up_and_an_expense_write_down() -> None:
    """Rule: invoice relieves exactly the WIP accrued; the difference is 4000 / 4100."""
    # TE-1 75 min x 150 = 187.50 WIP billed at 195.00: write-up 7.50 (Cr 4000)
    # EX-1 200.00 x 1.10 = 220.00 WIP billed at 210.00: write-down 10.00 (Dr 4100)
    # AR 195.00 + 210.00 = 405.00; Dr 405.00 + 10.00 = Cr 187.50 + 7.50 + 220.00 = 415.00
    books = Books(standard_book())
    books.post(time_entry())
    books.post(expense())
    (command,) = books.post(
        invoice(
            lines=[
                line(1, amount=D("195.00"), time_entry_ids=["TE-1"]),
                line(2, kind="EXPENSE", amount=D("210.00"), expense_ids=["EX-1"]),
            ]
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("405.00"), D("405.00")),
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "CREDIT", D("7.50"), D("7.50")),
        ("1150", "CREDIT", D("220.00"), D("220.00")),
        ("4100", "DEBIT", D("10.00"), D("10.00")),
    ]
    assert [ln.memo for ln in command.lines[2::2]] == ["write-up", "write-down"]
    assert books.balance("1150") == (D("0.00"), D("0.00"))
    assert books.balance("4100") == (D("-210.00"), D("-210.00"))
    assert books.ledger.billed[wip_key("expense", "EX-1")] == "INV-1"


def test_usd_invoice_in_a_jpy_entity_puts_the_base_rounding_residual_on_7950() -> None:
    """Rule: base amounts rounded per line; the residual that unbalances goes to 7950."""
    # at USD/JPY 150.3: fee 100.05 -> 15,037.515 -> 15,038; fee 200.05 -> 30,067.515 -> 30,068;
    # AR 300.10 -> 45,105.03 -> 45,105. Credits 45,106 exceed by 1: Dr 7950 JPY 1 (amount 0)
    books = Books(
        book_of(
            entity(entity_id="JP", base_currency="JPY", timezone="Asia/Tokyo"),
            customer(customer_id="C-U", entity_id="JP"),
            project(project_id="P-J", entity_id="JP", customer_id="C-U"),
            spot("USD", "JPY", "150.3", ISSUED),
        )
    )
    (command,) = books.post(
        invoice(
            entity_id="JP",
            customer_id="C-U",
            project_id="P-J",
            lines=[
                line(1, kind="FIXED_FEE", amount=D("100.05")),
                line(2, kind="FIXED_FEE", amount=D("200.05")),
            ],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("300.10"), D("45105")),
        ("4000", "CREDIT", D("100.05"), D("15038")),
        ("4000", "CREDIT", D("200.05"), D("30068")),
        ("7950", "DEBIT", D("0.00"), D("1")),
    ]
    assert (command.lines[-1].memo, str(command.lines[-1].amount)) == (
        "base-currency rounding",
        "0.00",
    )


def test_fixed_fee_project_bills_a_discounted_milestone_and_a_fee_in_eur() -> None:
    """Rule: invoice FIXED_FEE / MILESTONE lines are revenue on billing (no WIP relieved)."""
    # CLIENT_FIXED P-EU: time accrues cost only (100 min x 80 / 60 = 133.33), no WIP.
    # invoice at 1.10: MILESTONE 5000.00 - 250.00 discount, FIXED_FEE 1200.00, 19 % per
    # invoice: (4750.00 + 1200.00) x 0.19 = 1130.50; AR 5950.00 + 1130.50 = 7080.50
    # base: 7788.55, 5500.00, 275.00, 1320.00, 1243.55 (Dr 8063.55 = Cr 8063.55)
    books = Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(
                project_id="P-EU", customer_id="C-2", billing_currency="EUR", kind="CLIENT_FIXED"
            ),
            employee(),
            spot("EUR", "USD", "1.1000", ISSUED),
        )
    )
    (cost,) = books.post(time_entry(project_id="P-EU", duration_minutes=100))
    assert rows(cost)[0] == ("5000", "DEBIT", D("133.33"), D("133.33"))
    de19: dict[str, Any] = {"tax_code": "DE-19", "tax_rate": D("0.19")}
    (command,) = books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[
                line(1, kind="MILESTONE", amount=D("5000.00"), discount=D("250.00"), **de19),
                line(2, kind="FIXED_FEE", amount=D("1200.00"), **de19),
            ],
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("7080.50"), D("7788.55")),
        ("4000", "CREDIT", D("5000.00"), D("5500.00")),
        ("4900", "DEBIT", D("250.00"), D("275.00")),
        ("4000", "CREDIT", D("1200.00"), D("1320.00")),
        ("2200", "CREDIT", D("1130.50"), D("1243.55")),
    ]


@pytest.mark.parametrize(
    ("mode", "policy", "tax", "receivable"),
    [
        # per line 10.130 x 5 % = 0.5065 -> 0.506 (HALF_EVEN, 6 even), twice = 1.012
        ("HALF_EVEN", "PER_LINE", "1.012", "21.272"),
        # per line 0.5065 -> 0.507 (HALF_UP), twice = 1.014
        ("HALF_UP", "PER_LINE", "1.014", "21.274"),
        # per invoice 20.260 x 5 % = 1.013 exactly
        ("HALF_EVEN", "PER_INVOICE", "1.013", "21.273"),
    ],
)
def test_bhd_tax_tie_rounds_per_line_or_per_invoice_by_entity_policy(
    mode: str, policy: str, tax: str, receivable: str
) -> None:
    """Rule: invoice tax rounding per line or per invoice (entity policy), in fils."""
    # AR = 2 x 10.130 = 20.260 + tax
    books = Books(
        book_of(
            entity(
                entity_id="BH",
                base_currency="BHD",
                timezone="Asia/Bahrain",
                rounding_mode=mode,
                tax_rounding=policy,
            ),
            customer(customer_id="C-B", entity_id="BH", currency="BHD"),
            project(project_id="P-BH", entity_id="BH", customer_id="C-B", billing_currency="BHD"),
        )
    )
    vat: dict[str, Any] = {
        "kind": "FIXED_FEE",
        "amount": D("10.130"),
        "tax_code": "VAT",
        "tax_rate": D("0.05"),
    }
    (command,) = books.post(
        invoice(
            entity_id="BH",
            customer_id="C-B",
            project_id="P-BH",
            currency="BHD",
            lines=[line(1, **vat), line(2, **vat)],
        )
    )
    assert rows(command)[0] == ("1100", "DEBIT", D(receivable), D(receivable))
    assert rows(command)[-1] == ("2200", "CREDIT", D(tax), D(tax))
    assert str(command.lines[-1].amount) == tax


def test_eur_retainer_drawn_down_across_two_invoices_at_the_deposits_carried_base() -> None:
    """Rule: retainer invoice and drawdown (Dr 2300 at the carried base, pro rata; 7900)."""
    # RET-1 04-01 at 1.08: deposit EUR 3000.00 = USD 3240.00 (Dr 1100 / Cr 2300)
    # A 04-30 at 1.10: fee 2000.00 all from the retainer: Dr 2300 2000.00 at
    #   3240.00 x 2000 / 3000 = 2160.00; Cr 4000 2000.00 x 1.10 = 2200.00; Dr 7900 40.00
    # B 05-29 at 1.12: fee 1500.00, 1000.00 from the retainer: Dr 2300 1000.00 at what
    #   is left, 3240.00 - 2160.00 = 1080.00; Dr 1100 500.00 x 1.12 = 560.00;
    #   Cr 4000 1500.00 x 1.12 = 1680.00; Dr 7900 1680.00 - 1080.00 - 560.00 = 40.00
    # deposits end at 0 / 0; 7900 80.00 loss
    books = Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(project_id="P-EU", customer_id="C-2", billing_currency="EUR"),
            spot("EUR", "USD", "1.0800", date(2026, 4, 1)),
            spot("EUR", "USD", "1.1000", ISSUED),
            spot("EUR", "USD", "1.1200", date(2026, 5, 29)),
        )
    )
    eur: dict[str, Any] = {"customer_id": "C-2", "project_id": "P-EU", "currency": "EUR"}
    fee: dict[str, Any] = {"kind": "FIXED_FEE"}
    (retainer,) = books.post(
        invoice(
            invoice_id="RET-1",
            kind="RETAINER",
            issued_on=date(2026, 4, 1),
            lines=[line(kind="DEPOSIT", amount=D("3000.00"))],
            **eur,
        )
    )
    assert rows(retainer) == [
        ("1100", "DEBIT", D("3000.00"), D("3240.00")),
        ("2300", "CREDIT", D("3000.00"), D("3240.00")),
    ]
    (a,) = books.post(
        invoice(
            invoice_id="A",
            lines=[line(amount=D("2000.00"), **fee)],
            retainer_applied=D("2000.00"),
            **eur,
        )
    )
    assert rows(a) == [
        ("2300", "DEBIT", D("2000.00"), D("2160.00")),
        ("4000", "CREDIT", D("2000.00"), D("2200.00")),
        ("7900", "DEBIT", D("0.00"), D("40.00")),
    ]
    (b,) = books.post(
        invoice(
            invoice_id="B",
            issued_on=date(2026, 5, 29),
            lines=[line(amount=D("1500.00"), **fee)],
            retainer_applied=D("1000.00"),
            recorded_at=datetime(2026, 5, 29, 12, 0, tzinfo=UTC),
            **eur,
        )
    )
    assert rows(b) == [
        ("1100", "DEBIT", D("500.00"), D("560.00")),
        ("2300", "DEBIT", D("1000.00"), D("1080.00")),
        ("4000", "CREDIT", D("1500.00"), D("1680.00")),
        ("7900", "DEBIT", D("0.00"), D("40.00")),
    ]
    assert (b.fx.rate_type, b.fx.rate) == (RateType.SPOT, D("1.1200"))
    assert books.balance("2300") == (D("0.00"), D("0.00"))
    assert books.balance("7900") == (D("0.00"), D("80.00"))
    assert books.ledger.balance(deposit_key("US", "C-2", "EUR")) is None
