"""Golden worked examples: time entries. Every amount is computed by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from streams.domain.commands import CostClass, RateType
from streams.domain.feedback import FeedbackStatus
from streams.domain.rules import Held
from tests.unit.domain.billing_builders import Books, rows
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


def test_retainer_project_bills_the_task_rate_on_minutes_rounded_up_to_the_increment() -> None:
    """Rule: time entry (rate precedence task > project; billable minutes rounded UP)."""
    # RETAINER project, increment 6 min, project rate 150, task T-9 at 175/h.
    # 44 min -> 48 min billed = 0.8 h x 175 = 140.00 (Dr 1150 / Cr 4000)
    # cost on the actual 44 min: 44 x 80 / 60 = 58.666.. -> 58.67 (Dr 5000 / Cr 2150)
    books = Books(
        standard_book(
            project(
                project_id="P-RET",
                kind="RETAINER",
                rounding_increment_minutes=6,
                task_rates={"T-9": D("175.0000")},
            )
        )
    )
    revenue, cost = books.post(time_entry(project_id="P-RET", task_id="T-9", duration_minutes=44))
    assert rows(revenue) == [
        ("1150", "DEBIT", D("140.00"), D("140.00")),
        ("4000", "CREDIT", D("140.00"), D("140.00")),
    ]
    assert rows(cost) == [
        ("5000", "DEBIT", D("58.67"), D("58.67")),
        ("2150", "CREDIT", D("58.67"), D("58.67")),
    ]
    assert revenue.memo == "Time 2026-03-31 alice 0.80h @ 175.00 USD on P-RET"
    assert revenue.lines[0].dimensions.task_id == "T-9"


def test_fixed_fee_project_time_accrues_cost_only() -> None:
    """Rule: time entry on a CLIENT_FIXED project (cost only; revenue comes with billing)."""
    # 130 min at a cost of USD 72/h: 130 x 72 / 60 = 9360 / 60 = 156.00; no WIP, no revenue
    books = Books(
        book_of(
            entity(),
            customer(),
            project(project_id="P-FIX", kind="CLIENT_FIXED"),
            employee(cost_rate=D("72.0000")),
        )
    )
    (cost,) = books.post(time_entry(project_id="P-FIX", duration_minutes=130))
    assert rows(cost) == [
        ("5000", "DEBIT", D("156.00"), D("156.00")),
        ("2150", "CREDIT", D("156.00"), D("156.00")),
    ]
    assert books.balance("1150") == (D("0"), D("0"))
    assert books.balance("4000") == (D("0"), D("0"))


@pytest.mark.parametrize(("mode", "expected"), [("HALF_UP", "33.37"), ("HALF_EVEN", "33.36")])
def test_internal_opex_time_is_expensed_on_6000_in_the_entitys_rounding_mode(
    mode: str, expected: str
) -> None:
    """Rule: capex vs opex (INTERNAL_OPEX time on 6000), rounded with the entity's mode."""
    # 25 min at USD 80.076/h: 25 x 80.076 / 60 = 2001.9 / 60 = 33.365 exactly
    # HALF_UP -> 33.37; HALF_EVEN -> 33.36 (6 is even)
    books = Books(
        book_of(
            entity(rounding_mode=mode),
            project(project_id="P-OPS", kind="INTERNAL_OPEX", customer_id=None, rate=None),
            employee(cost_rate=D("80.0760")),
        )
    )
    (cost,) = books.post(time_entry(project_id="P-OPS", duration_minutes=25))
    assert rows(cost) == [
        ("6000", "DEBIT", D(expected), D(expected)),
        ("2150", "CREDIT", D(expected), D(expected)),
    ]
    assert {ln.dimensions.cost_class for ln in cost.lines} == {CostClass.OPEX}


def test_entry_at_2330_on_new_years_eve_in_los_angeles_books_in_december() -> None:
    """Rule: time entry business date = started_at in the entity's timezone (period, FX date)."""
    # 2027-01-01 07:30 UTC = 2026-12-31 23:30 PST (UTC-8): effective 2026-12-31, period 2026-12.
    # 30 min x EUR 120/h = EUR 60.00; rate of 12-31 = 1.0412: 60.00 x 1.0412 = 62.472 -> 62.47
    # (the 2027-01-01 rate 1.2000 is not used). Cost 30 min x USD 80/h = 40.00.
    books = Books(
        book_of(
            entity(timezone="America/Los_Angeles"),
            customer(),
            project(billing_currency="EUR", rate=D("120.0000")),
            employee(),
            spot("EUR", "USD", "1.0412", date(2026, 12, 31)),
            spot("EUR", "USD", "1.2000", date(2027, 1, 1)),
        )
    )
    started = datetime(2027, 1, 1, 7, 30, tzinfo=UTC)
    revenue, cost = books.post(time_entry(started_at=started, duration_minutes=30))
    assert rows(revenue) == [
        ("1150", "DEBIT", D("60.00"), D("62.47")),
        ("4000", "CREDIT", D("60.00"), D("62.47")),
    ]
    assert (revenue.effective_date, revenue.period) == (date(2026, 12, 31), "2026-12")
    assert (revenue.fx.rate, revenue.fx.rate_date) == (D("1.0412"), date(2026, 12, 31))
    assert rows(cost)[0] == ("5000", "DEBIT", D("40.00"), D("40.00"))
    assert (cost.effective_date, cost.period) == (date(2026, 12, 31), "2026-12")


def test_late_approval_is_held_then_posts_at_the_rate_of_the_day_worked() -> None:
    """Rule: approvals (held until APPROVED; posted in the period worked, approver on it)."""
    # Worked 2026-03-31 14:00 UTC (10:00 New York), 100 min on a EUR project at 120/h:
    # EUR 200.00. Approved by carol on 2026-05-03. Rate date is the day worked:
    # 200.00 x 1.0800 = 216.00 (not 200.00 x 1.1500 of 05-03).
    # Cost: 100 x 80 / 60 = 133.333.. -> USD 133.33.
    books = Books(
        book_of(
            entity(),
            customer(),
            project(billing_currency="EUR", rate=D("120.0000")),
            employee(),
            spot("EUR", "USD", "1.0800", date(2026, 3, 31)),
            spot("EUR", "USD", "1.1500", date(2026, 5, 3)),
        )
    )
    submitted = time_entry(
        duration_minutes=100, status="SUBMITTED", approved_by=None, approved_at=None
    )
    assert books.post(submitted) == ()
    assert books.last is not None
    assert books.last.outcome == Held("awaiting approval")
    approved_at = datetime(2026, 5, 3, 10, 0, tzinfo=UTC)
    revenue, cost = books.post(
        time_entry(version=2, duration_minutes=100, approved_by="carol", approved_at=approved_at)
    )
    assert rows(revenue) == [
        ("1150", "DEBIT", D("200.00"), D("216.00")),
        ("4000", "CREDIT", D("200.00"), D("216.00")),
    ]
    assert rows(cost)[1] == ("2150", "CREDIT", D("133.33"), D("133.33"))
    for command in (revenue, cost):
        assert (command.effective_date, command.period) == (date(2026, 3, 31), "2026-03")
        assert command.approval is not None
        assert (command.approval.approved_by, command.approval.approved_at) == (
            "carol",
            approved_at,
        )
    assert revenue.fx.rate_date == date(2026, 3, 31)
    assert [f.status for f in books.feedback] == [FeedbackStatus.HELD, FeedbackStatus.POSTED]


def test_intercompany_jpy_employee_on_a_bahrain_project_books_fils_and_yen() -> None:
    """Rule: intercompany time (both entities' sides, tagged with the counterparty); JPY/BHD."""
    # kenji (JP, cost JPY 5,000/h) works 150 min on BH project P-BH (BHD 40.000/h).
    # 06:00 UTC = 09:00 Bahrain = 15:00 Tokyo: 2026-03-31 everywhere.
    # BH revenue: 2.5 h x 40.000 = BHD 100.000 (Dr 1150 / Cr 4000)
    # cost 2.5 h x 5,000 = JPY 12,500
    # BH ic-cost: JPY 12,500 x 0.00251 = 31.375 -> BHD 31.375 (Dr 5000 / Cr 2400, tag JP)
    # JP ic-recharge: JPY 12,500 (Dr 1200 / Cr 2150, tag BH)
    books = Books(
        book_of(
            entity(entity_id="BH", base_currency="BHD", timezone="Asia/Bahrain"),
            entity(entity_id="JP", base_currency="JPY", timezone="Asia/Tokyo"),
            customer(customer_id="C-B", entity_id="BH", currency="BHD"),
            project(
                project_id="P-BH",
                entity_id="BH",
                customer_id="C-B",
                billing_currency="BHD",
                rate=D("40.000"),
            ),
            employee(employee_id="kenji", entity_id="JP", cost_currency="JPY", cost_rate=D("5000")),
            spot("JPY", "BHD", "0.00251", date(2026, 3, 31)),
        )
    )
    entry = time_entry(
        project_id="P-BH",
        employee_id="kenji",
        started_at=datetime(2026, 3, 31, 6, 0, tzinfo=UTC),
        duration_minutes=150,
    )
    revenue, ic_cost, recharge = books.post(entry)
    assert (revenue.entity_id, ic_cost.entity_id, recharge.entity_id) == ("BH", "BH", "JP")
    assert rows(revenue) == [
        ("1150", "DEBIT", D("100.000"), D("100.000")),
        ("4000", "CREDIT", D("100.000"), D("100.000")),
    ]
    assert rows(ic_cost) == [
        ("5000", "DEBIT", D("12500"), D("31.375")),
        ("2400", "CREDIT", D("12500"), D("31.375")),
    ]
    assert rows(recharge) == [
        ("1200", "DEBIT", D("12500"), D("12500")),
        ("2150", "CREDIT", D("12500"), D("12500")),
    ]
    assert [str(ln.base_amount) for ln in ic_cost.lines] == ["31.375", "31.375"]
    assert [str(ln.amount) for ln in recharge.lines] == ["12500", "12500"]
    assert {ln.dimensions.counterparty_entity_id for ln in ic_cost.lines} == {"JP"}
    assert {ln.dimensions.counterparty_entity_id for ln in recharge.lines} == {"BH"}
    assert (ic_cost.fx.rate_type, recharge.fx.rate_type) == (RateType.SPOT, RateType.IDENTITY)
