"""Worked examples for the expense rule; every amount below is computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from streams.domain.commands import CostClass, RateType
from streams.domain.exceptions import InvalidEventError
from streams.domain.rules import Held, Posted
from streams.domain.rules.expense import post_expense
from tests.unit.domain.billing_builders import Books, expense, rows, source_of
from tests.unit.domain.builders import (
    RULE_VERSION,
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    standard_book,
)

D = Decimal


def test_billable_expense_books_cost_and_accrues_rebill_with_markup() -> None:
    # cost USD 200.00; re-bill 200.00 x 1.10 = 220.00
    cost, rebill = Books(standard_book()).post(expense())
    assert rows(cost) == [
        ("5100", "DEBIT", D("200.00"), D("200.00")),
        ("2100", "CREDIT", D("200.00"), D("200.00")),
    ]
    assert rows(rebill) == [
        ("1150", "DEBIT", D("220.00"), D("220.00")),
        ("4100", "CREDIT", D("220.00"), D("220.00")),
    ]
    assert (cost.journal, cost.effective_date, cost.period) == (
        "EXPENSE",
        date(2026, 3, 31),
        "2026-03",
    )
    assert cost.approval is not None
    assert cost.approval.approved_by == "bob"
    assert rebill.lines[0].dimensions.customer_id == "C-1"


def test_non_billable_expense_books_cost_only() -> None:
    commands = Books(standard_book()).post(expense(billable=False))
    assert [rows(c) for c in commands] == [
        [("5100", "DEBIT", D("200.00"), D("200.00")), ("2100", "CREDIT", D("200.00"), D("200.00"))]
    ]


def test_internal_opex_project_expense_goes_to_6000_tagged_opex() -> None:
    book = standard_book(project(project_id="P-INT", kind="INTERNAL_OPEX", customer_id=None))
    (cost,) = Books(book).post(expense(project_id="P-INT", billable=False))
    assert rows(cost)[0] == ("6000", "DEBIT", D("200.00"), D("200.00"))
    assert cost.lines[0].dimensions.cost_class is CostClass.OPEX


def test_capex_project_expense_is_capitalised_on_1300() -> None:
    book = standard_book(project(project_id="P-CAP", kind="INTERNAL_CAPEX", customer_id=None))
    (cost,) = Books(book).post(expense(project_id="P-CAP", billable=False))
    assert rows(cost) == [
        ("1300", "DEBIT", D("200.00"), D("200.00")),
        ("2100", "CREDIT", D("200.00"), D("200.00")),
    ]
    assert cost.lines[0].dimensions.cost_class is CostClass.CAPEX


def test_shared_cost_without_project_goes_to_the_pool_in_the_employees_entity() -> None:
    (cost,) = Books(standard_book()).post(expense(project_id=None, billable=False))
    assert cost.entity_id == "US"
    assert rows(cost)[0] == ("6100", "DEBIT", D("200.00"), D("200.00"))


def test_billable_shared_cost_is_refused_nobody_can_be_billed() -> None:
    with pytest.raises(InvalidEventError) as info:
        Books(standard_book()).post(expense(project_id=None, billable=True))
    assert info.value.field == "billable"


def test_unapproved_expense_is_held() -> None:
    event = expense(status="SUBMITTED", approved_by=None, approved_at=None)
    outcome = post_expense(
        event, standard_book(), source=source_of(event), rule_version=RULE_VERSION
    )
    assert outcome == Held("awaiting approval")


def test_eur_expense_on_usd_project_rebills_in_billing_currency_at_spot() -> None:
    # cost EUR 89.99 x 1.085 = 97.63915 -> USD 97.64
    # re-bill 89.99 x 1.15 = 103.4885 EUR x 1.085 = 112.2850225 -> USD 112.29 (IDENTITY to base)
    book = standard_book(spot("EUR", "USD", "1.0850", date(2026, 3, 31)))
    event = expense(amount=D("89.99"), currency="EUR", markup_rate=D("0.1500"))
    cost, rebill = Books(book).post(event)
    assert rows(cost)[0] == ("5100", "DEBIT", D("89.99"), D("97.64"))
    assert cost.fx.rate_type is RateType.SPOT
    assert rows(rebill)[1] == ("4100", "CREDIT", D("112.29"), D("112.29"))
    assert rebill.transaction_currency == "USD"


def test_jpy_expense_on_usd_entity_converts_whole_yen() -> None:
    # JPY 15,000 x 0.0067 = USD 100.50
    book = standard_book(spot("JPY", "USD", "0.0067", date(2026, 3, 31)))
    (cost,) = Books(book).post(expense(amount=D("15000"), currency="JPY", billable=False))
    assert rows(cost)[0] == ("5100", "DEBIT", D("15000"), D("100.50"))


def test_bhd_expense_keeps_three_decimals() -> None:
    # BHD 12.345 on a BHD entity: identity, three decimals kept
    book = book_of(
        entity(entity_id="BH", base_currency="BHD", timezone="Asia/Bahrain"),
        employee(entity_id="BH", cost_currency="BHD"),
        project(entity_id="BH", billing_currency="BHD", customer_id=None, kind="INTERNAL_OPEX"),
        customer(),
    )
    outcome = post_expense(
        expense(amount=D("12.345"), currency="BHD", billable=False),
        book,
        source=source_of(expense()),
        rule_version=RULE_VERSION,
    )
    assert isinstance(outcome, Posted)
    assert rows(outcome.commands[0]) == [
        ("6000", "DEBIT", D("12.345"), D("12.345")),
        ("2100", "CREDIT", D("12.345"), D("12.345")),
    ]
