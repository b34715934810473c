"""Worked examples for the time entry rule; every amount below is computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.commands import PostLedgerEntry, RateType, command_id
from streams.domain.events import TimeEntryRecorded, parse_event
from streams.domain.exceptions import (
    InvalidEventError,
    MissingFxRateError,
    MissingReferenceError,
    NoBillingRateError,
)
from streams.domain.reference import ReferenceBook
from streams.domain.rules import Held, Posted, post_time_entry
from tests.unit.domain.builders import (
    RULE_VERSION,
    book_of,
    customer,
    employee,
    entity,
    entry_record,
    project,
    source_for,
    spot,
    standard_book,
    time_entry,
)

D = Decimal


def post(entry: TimeEntryRecorded, book: ReferenceBook) -> dict[str, PostLedgerEntry]:
    """Post and index the commands by effect (recovered from their command ids)."""
    outcome = post_time_entry(entry, book, source=source_for(entry), rule_version=RULE_VERSION)
    assert isinstance(outcome, Posted)
    effects = ("revenue", "cost", "ic-cost", "ic-recharge")
    ids = {
        command_id("time_entry", entry.entry_id, entry.version, RULE_VERSION, e): e for e in effects
    }
    return {ids[c.command_id]: c for c in outcome.commands}


def lines(command: PostLedgerEntry) -> list[tuple[str, str, Decimal, Decimal]]:
    return [(ln.account, str(ln.side), ln.amount, ln.base_amount) for ln in command.lines]


def test_usd_entry_on_usd_entity_accrues_revenue_and_cost() -> None:
    # 75 min = 1.25 h; revenue 1.25 x 150 = 187.50; cost 1.25 x 80 = 100.00
    commands = post(time_entry(), standard_book())
    assert list(commands) == ["revenue", "cost"]
    revenue, cost = commands["revenue"], commands["cost"]
    assert lines(revenue) == [
        ("1150", "DEBIT", D("187.50"), D("187.50")),
        ("4000", "CREDIT", D("187.50"), D("187.50")),
    ]
    assert lines(cost) == [
        ("5000", "DEBIT", D("100.00"), D("100.00")),
        ("2150", "CREDIT", D("100.00"), D("100.00")),
    ]
    assert revenue.memo == "Time 2026-03-31 alice 1.25h @ 150.00 USD on P-100"
    assert (revenue.entity_id, revenue.journal, revenue.period) == ("US", "TIME", "2026-03")
    assert revenue.effective_date == date(2026, 3, 31)
    assert revenue.fx.rate_type is RateType.IDENTITY
    assert revenue.fx.rate == 1
    assert revenue.approval is not None
    assert revenue.approval.approved_by == "bob"
    dims = revenue.lines[0].dimensions
    assert (dims.project_id, dims.customer_id, dims.employee_id) == ("P-100", "C-1", "alice")
    assert cost.lines[0].dimensions.cost_class is None


def test_eur_billed_entry_on_usd_entity_converts_at_spot_with_entity_rounding() -> None:
    # 100 min x EUR 120/h = EUR 200.00; x 1.083725 = USD 216.745
    # HALF_UP -> 216.75; HALF_EVEN -> 216.74 (4 is even). Rate dated 1 day earlier.
    eur_project = project(billing_currency="EUR", rate=D("120.0000"))
    fx = spot("EUR", "USD", "1.083725", date(2026, 3, 30))
    entry = time_entry(duration_minutes=100)
    for mode, expected in (("HALF_UP", D("216.75")), ("HALF_EVEN", D("216.74"))):
        book = book_of(entity(rounding_mode=mode), customer(), eur_project, employee(), fx)
        revenue = post(entry, book)["revenue"]
        assert revenue.transaction_currency == "EUR"
        assert revenue.base_currency == "USD"
        assert lines(revenue) == [
            ("1150", "DEBIT", D("200.00"), expected),
            ("4000", "CREDIT", D("200.00"), expected),
        ]
        assert revenue.fx.rate_type is RateType.SPOT
        assert revenue.fx.rate == D("1.083725")
        assert revenue.fx.rate_date == date(2026, 3, 30)
        assert revenue.fx.source == "ecb"


def test_contract_rate_beats_spot_for_revenue_but_not_for_cost() -> None:
    # revenue EUR 200.00 x contract 1.10 = USD 220.00 (spot 1.083725 ignored)
    # cost: 100 min x EUR 60/h = EUR 100.00 x spot 1.083725 = 108.3725 -> USD 108.37
    book = book_of(
        entity(),
        customer(),
        project(
            billing_currency="EUR",
            rate=D("120.0000"),
            contract_fx_rate=D("1.100000000000"),
            contract_id="K-7",
        ),
        employee(cost_currency="EUR", cost_rate=D("60.0000")),
        spot("EUR", "USD", "1.083725"),
    )
    commands = post(time_entry(duration_minutes=100), book)
    revenue, cost = commands["revenue"], commands["cost"]
    assert [ln.base_amount for ln in revenue.lines] == [D("220.00"), D("220.00")]
    assert revenue.fx.rate_type is RateType.CONTRACT
    assert (revenue.fx.contract_id, revenue.fx.source) == ("K-7", "project-contract")
    assert revenue.fx.rate_date == date(2026, 3, 31)
    assert lines(cost) == [
        ("5000", "DEBIT", D("100.00"), D("108.37")),
        ("2150", "CREDIT", D("100.00"), D("108.37")),
    ]
    assert cost.fx.rate_type is RateType.SPOT


def test_duration_rounds_up_to_increment_for_revenue_only() -> None:
    # 52 min -> 60 min billed = 1 h x 150 = 150.00; cost on actual 52 min x 80/60 = 69.33
    book = book_of(entity(), customer(), project(rounding_increment_minutes=15), employee())
    commands = post(time_entry(duration_minutes=52), book)
    assert commands["revenue"].lines[0].amount == D("150.00")
    assert commands["cost"].lines[0].amount == D("69.33")


def test_partially_billable_entry_bills_its_fraction() -> None:
    # 52 min -> 60 min x 0.5 = 30 min = 0.5 h x 150 = 75.00; cost still 69.33
    book = book_of(entity(), customer(), project(rounding_increment_minutes=15), employee())
    entry = time_entry(duration_minutes=52, billable_fraction=D("0.5000"))
    commands = post(entry, book)
    assert commands["revenue"].lines[1].amount == D("75.00")
    assert commands["revenue"].memo == "Time 2026-03-31 alice 0.50h @ 150.00 USD on P-100"
    assert commands["cost"].lines[1].amount == D("69.33")


RATES: dict[str, Any] = {
    "rate_override": D("200.0000"),
    "task_rates": {"T-1": D("180.0000")},
    "employee_rates": {"alice": D("170.0000")},
    "rate": D("150.0000"),
    "default_rate": D("140.0000"),
}


@pytest.mark.parametrize(
    ("dropped", "expected"),
    [
        ((), "200.00"),
        (("rate_override",), "180.00"),
        (("rate_override", "task_rates"), "170.00"),
        (("rate_override", "task_rates", "employee_rates"), "150.00"),
        (("rate_override", "task_rates", "employee_rates", "rate"), "140.00"),
    ],
)
def test_rate_precedence_override_task_employee_project_customer(
    dropped: tuple[str, ...], expected: str
) -> None:
    # 60 minutes, so the amount equals the winning hourly rate
    rates = {k: v for k, v in RATES.items() if k not in dropped}
    proj = project(
        rate=rates.get("rate"),
        task_rates=rates.get("task_rates", {}),
        employee_rates=rates.get("employee_rates", {}),
    )
    book = book_of(entity(), customer(default_rate=rates.get("default_rate")), proj, employee())
    entry = time_entry(duration_minutes=60, task_id="T-1", rate_override=rates.get("rate_override"))
    assert post(entry, book)["revenue"].lines[0].amount == D(expected)


def test_customer_default_rate_in_another_currency_is_not_used() -> None:
    book = book_of(
        entity(),
        customer(currency="EUR", default_rate=D("140.0000")),
        project(rate=None),
        employee(),
    )
    with pytest.raises(NoBillingRateError) as info:
        post_time_entry(
            time_entry(), book, source=source_for(time_entry()), rule_version=RULE_VERSION
        )
    assert info.value.code == "NO_BILLING_RATE"
    assert info.value.retryable is False


def test_customer_needed_for_its_rate_but_missing_parks_the_entry() -> None:
    book = book_of(entity(), project(rate=None), employee())
    entry = time_entry()
    with pytest.raises(MissingReferenceError) as info:
        post_time_entry(entry, book, source=source_for(entry), rule_version=RULE_VERSION)
    assert (info.value.kind, info.value.key) == ("customer", "C-1")


def test_non_billable_entry_posts_cost_only() -> None:
    commands = post(time_entry(billable=False), standard_book())
    assert list(commands) == ["cost"]


def test_fixed_fee_project_posts_cost_only() -> None:
    book = book_of(entity(), customer(), project(kind="CLIENT_FIXED"), employee())
    assert list(post(time_entry(), book)) == ["cost"]


@pytest.mark.parametrize(
    ("kind", "account", "cost_class"),
    [("INTERNAL_CAPEX", "1300", "CAPEX"), ("INTERNAL_OPEX", "6000", "OPEX")],
)
def test_internal_projects_post_cost_to_capex_or_opex(
    kind: str, account: str, cost_class: str
) -> None:
    # 75 min x 80/60 = 100.00, no revenue on internal projects even if billable
    book = book_of(entity(), project(kind=kind, customer_id=None, rate=None), employee())
    commands = post(time_entry(), book)
    assert list(commands) == ["cost"]
    assert lines(commands["cost"]) == [
        (account, "DEBIT", D("100.00"), D("100.00")),
        ("2150", "CREDIT", D("100.00"), D("100.00")),
    ]
    assert commands["cost"].lines[0].dimensions.cost_class == cost_class


def test_submitted_entry_is_held_when_entity_requires_approval() -> None:
    entry = time_entry(status="SUBMITTED", approved_by=None, approved_at=None)
    outcome = post_time_entry(
        entry, standard_book(), source=source_for(entry), rule_version=RULE_VERSION
    )
    assert outcome == Held("awaiting approval")


def test_submitted_entry_posts_when_entity_does_not_require_approval() -> None:
    book = book_of(entity(approval_required=False), customer(), project(), employee())
    entry = time_entry(status="SUBMITTED", approved_by=None, approved_at=None)
    commands = post(entry, book)
    assert list(commands) == ["revenue", "cost"]
    assert commands["revenue"].approval is None


def test_late_evening_utc_is_next_day_and_next_period_in_berlin() -> None:
    # 2026-03-31T22:30Z in Europe/Berlin (CEST, UTC+2 since 29 March) is 2026-04-01 00:30.
    # The only USD->EUR rate is dated 2026-04-01: usable only if the local date is used.
    book = book_of(
        entity(entity_id="DE", base_currency="EUR", timezone="Europe/Berlin"),
        customer(entity_id="DE"),
        project(entity_id="DE"),
        employee(entity_id="DE", cost_currency="EUR"),
        spot("USD", "EUR", "0.92", date(2026, 4, 1)),
    )
    entry = time_entry(started_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    commands = post(entry, book)
    revenue = commands["revenue"]
    assert (revenue.effective_date, revenue.period) == (date(2026, 4, 1), "2026-04")
    # 187.50 USD x 0.92 = 172.50 EUR
    assert revenue.lines[0].base_amount == D("172.50")
    assert commands["cost"].effective_date == date(2026, 4, 1)


def test_early_morning_utc_is_previous_day_and_period_in_new_york() -> None:
    # 2026-04-01T03:30Z in America/New_York (EDT, UTC-4) is 2026-03-31 23:30.
    entry = time_entry(started_at=datetime(2026, 4, 1, 3, 30, tzinfo=UTC))
    revenue = post(entry, standard_book())["revenue"]
    assert (revenue.effective_date, revenue.period) == (date(2026, 3, 31), "2026-03")


def test_jpy_amounts_have_no_decimals_and_half_yen_rounds_by_entity_mode() -> None:
    # 50 min x JPY 12,351/h = 617,550 / 60 = 10,292.5 -> HALF_UP 10,293, HALF_EVEN 10,292
    # cost: 50 min x JPY 4,000/h = 3,333.33.. -> 3,333
    for mode, expected in (("HALF_UP", D("10293")), ("HALF_EVEN", D("10292"))):
        book = book_of(
            entity(entity_id="JP", base_currency="JPY", timezone="Asia/Tokyo", rounding_mode=mode),
            customer(entity_id="JP", currency="JPY"),
            project(entity_id="JP", billing_currency="JPY", rate=D("12351.0000")),
            employee(entity_id="JP", cost_currency="JPY", cost_rate=D("4000.0000")),
        )
        commands = post(time_entry(duration_minutes=50), book)
        assert commands["revenue"].lines[0].amount == expected
        assert str(commands["revenue"].lines[0].amount) == str(expected)
        assert commands["cost"].lines[0].amount == D("3333")
        # 14:00Z is 23:00 the same day in Tokyo (UTC+9)
        assert commands["revenue"].memo == "Time 2026-03-31 alice 0.83h @ 12351 JPY on P-100"


def test_bhd_amounts_have_three_decimals() -> None:
    # revenue: 50 min x BHD 25.125/h = 1,256.25 / 60 = 20.9375 -> 20.938
    # cost: 50 min x USD 45/h = USD 37.50; x 0.376 = BHD 14.100
    book = book_of(
        entity(entity_id="BH", base_currency="BHD", timezone="Asia/Bahrain"),
        customer(entity_id="BH", currency="BHD"),
        project(entity_id="BH", billing_currency="BHD", rate=D("25.1250")),
        employee(entity_id="BH", cost_currency="USD", cost_rate=D("45.0000")),
        spot("USD", "BHD", "0.376", date(2026, 3, 31)),
    )
    commands = post(time_entry(duration_minutes=50), book)
    assert commands["revenue"].lines[0].amount == D("20.938")
    assert str(commands["revenue"].lines[0].base_amount) == "20.938"
    assert lines(commands["cost"])[0] == ("5000", "DEBIT", D("37.50"), D("14.100"))
    assert str(commands["cost"].lines[0].base_amount) == "14.100"


def test_intercompany_time_books_cost_in_project_entity_and_recharge_at_home() -> None:
    # Project entity DE (EUR, Berlin); alice works for UK (GBP, London) at GBP 60/h.
    # 90 min: revenue 1.5 h x EUR 100 = 150.00 EUR; cost 1.5 h x 60 = GBP 90.00.
    # ic-cost in DE: 90.00 x 1.1713 = 105.417 -> EUR 105.42; recharge in UK: GBP 90.00.
    # 22:30Z is 00:30 on 1 April in Berlin, 23:30 on 31 March in London: each side is
    # dated in its own entity (issue 16: both used to take the project entity's date).
    book = book_of(
        entity(entity_id="DE", base_currency="EUR", timezone="Europe/Berlin"),
        entity(entity_id="UK", base_currency="GBP", timezone="Europe/London"),
        customer(entity_id="DE", currency="EUR"),
        project(entity_id="DE", billing_currency="EUR", rate=D("100.0000")),
        employee(entity_id="UK", cost_currency="GBP", cost_rate=D("60.0000")),
        spot("GBP", "EUR", "1.1713", date(2026, 3, 31)),
    )
    entry = time_entry(duration_minutes=90, started_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    commands = post(entry, book)
    assert list(commands) == ["revenue", "ic-cost", "ic-recharge"]
    ic_cost, recharge = commands["ic-cost"], commands["ic-recharge"]
    assert (ic_cost.entity_id, recharge.entity_id) == ("DE", "UK")
    assert lines(ic_cost) == [
        ("5000", "DEBIT", D("90.00"), D("105.42")),
        ("2400", "CREDIT", D("90.00"), D("105.42")),
    ]
    assert lines(recharge) == [
        ("1200", "DEBIT", D("90.00"), D("90.00")),
        ("2150", "CREDIT", D("90.00"), D("90.00")),
    ]
    assert {ln.dimensions.counterparty_entity_id for ln in ic_cost.lines} == {"UK"}
    assert {ln.dimensions.counterparty_entity_id for ln in recharge.lines} == {"DE"}
    assert (ic_cost.effective_date, recharge.effective_date) == (
        date(2026, 4, 1),
        date(2026, 3, 31),
    )
    assert (ic_cost.period, recharge.period) == ("2026-04", "2026-03")
    assert recharge.fx.rate_type is RateType.IDENTITY
    assert commands["revenue"].lines[0].dimensions.counterparty_entity_id is None


def test_entity_account_overrides_apply_to_every_line() -> None:
    book = book_of(
        entity(account_overrides={"1150": "1155", "5000": "5010"}),
        customer(),
        project(),
        employee(),
    )
    commands = post(time_entry(), book)
    assert [ln.account for ln in commands["revenue"].lines] == ["1155", "4000"]
    assert [ln.account for ln in commands["cost"].lines] == ["5010", "2150"]


def test_zero_minutes_post_nothing() -> None:
    entry = time_entry(duration_minutes=0)
    outcome = post_time_entry(
        entry, standard_book(), source=source_for(entry), rule_version=RULE_VERSION
    )
    assert outcome == Posted(())


def test_missing_fx_rate_parks_the_entry() -> None:
    # the only EUR/USD rate is 6 days older than the business date; the limit is 5
    book = book_of(
        entity(),
        customer(),
        project(billing_currency="EUR", rate=D("120.0000")),
        employee(),
        spot("EUR", "USD", "1.08", date(2026, 3, 25)),
    )
    entry = time_entry()
    with pytest.raises(MissingFxRateError) as info:
        post_time_entry(entry, book, source=source_for(entry), rule_version=RULE_VERSION)
    assert (info.value.kind, info.value.key) == ("fx_rate", "EUR/USD")
    assert info.value.retryable is True
    assert info.value.code == "MISSING_FX_RATE"


def test_missing_project_parks_the_entry() -> None:
    book = book_of(entity(), customer(), employee())
    entry = time_entry(project_id="P-404")
    with pytest.raises(MissingReferenceError) as info:
        post_time_entry(entry, book, source=source_for(entry), rule_version=RULE_VERSION)
    assert (info.value.kind, info.value.key, info.value.code) == (
        "project",
        "P-404",
        "MISSING_REFERENCE",
    )
    assert info.value.retryable is True


def test_invalid_event_is_rejected_with_the_offending_field() -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_event(TimeEntryRecorded, entry_record(duration_minutes=-30))
    assert info.value.field == "ended_at"
    assert str(info.value) == (
        "ended_at: must not be before started_at (2026-03-31T14:00:00+00:00)"
        " (got 2026-03-31 13:30:00+00:00)"
    )
    assert (info.value.code, info.value.retryable) == ("INVALID_EVENT", False)


def test_source_must_name_the_entry_it_posts() -> None:
    entry = time_entry()
    other = source_for(time_entry(version=2))
    with pytest.raises(ValueError, match="is not entry"):
        post_time_entry(entry, standard_book(), source=other, rule_version=RULE_VERSION)
