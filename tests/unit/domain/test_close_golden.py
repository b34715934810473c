"""Period close, hand-computed: allocation with remainders, an elimination with a
translation difference and its exceptions, a depreciation schedule (docs/period-close.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.close.allocation import (
    AllocationRule,
    Driver,
    allocate,
    driver_quantities,
    live_commands,
    plan_rerun,
)
from streams.domain.close.capex import (
    Asset,
    AssetClass,
    asset_cost,
    capitalise,
    depreciate,
    schedule,
)
from streams.domain.close.consolidation import ConsolidationGroup, EliminationPair, consolidate
from streams.domain.close.rounding import largest_remainder
from streams.domain.commands import (
    CommandAction,
    CommandDraft,
    Dimensions,
    FxProvenance,
    Leg,
    PostLedgerEntry,
    RateType,
    Side,
    SourceRef,
    build_command,
)
from streams.domain.events import ExpenseRecorded
from streams.domain.exceptions import InvalidEventError
from streams.domain.reference import LegalEntity
from tests.unit.domain.builders import book_of, entity, project, time_entry

D = Decimal
RV = "close/1"
US = entity(entity_id="US10", base_currency="USD", timezone="America/Chicago")
GB = entity(entity_id="GB10", base_currency="GBP", timezone="Europe/London")


def _posted(
    ledger: LegalEntity,
    source_id: str,
    legs: tuple[Leg, ...],
    *,
    on: date = date(2026, 9, 15),
    currency: str | None = None,
    rate: str = "1",
    kind: str = "expense",
) -> PostLedgerEntry:
    ccy = currency or ledger.base_currency
    fx = FxProvenance(
        rate=D(rate),
        rate_type=RateType.IDENTITY if ccy == ledger.base_currency else RateType.SPOT,
        rate_date=on,
        source="test",
    )
    source = SourceRef(
        system="pm", type=kind, id=source_id, version=1, topic="pm.expenses",
        partition=0, offset=0, event_time=f"{on.isoformat()}T12:00:00Z",
    )  # fmt: skip
    draft = CommandDraft(
        effect="cost", journal="EXPENSE", effective_date=on, transaction_currency=ccy,
        legs=legs, source=source, rule_version="r1", memo=source_id,
    )  # fmt: skip
    return build_command(ledger, draft, fx)


def _shared(ledger: LegalEntity, source_id: str, amount: str) -> PostLedgerEntry:
    return _posted(
        ledger,
        source_id,
        (Leg("6100", Side.DEBIT, D(amount)), Leg("2100", Side.CREDIT, D(amount))),
    )


# --- allocation ------------------------------------------------------------------------


def test_largest_remainder_gives_the_leftover_cent_to_the_largest_remainder() -> None:
    # 1000.00 by 7:5:3 = 466.666.., 333.333.., 200.00: floors sum to 999.99, the cent
    # goes to P-1 (remainder .67 beats .33 and .00)
    shares = largest_remainder(D("1000.00"), {"P-1": D(7), "P-2": D(5), "P-3": D(3)}, "USD")
    assert shares == {"P-1": D("466.67"), "P-2": D("333.33"), "P-3": D("200.00")}
    assert sum(shares.values()) == D("1000.00")
    # three equal weights: 33.34 to the first key in order, total to the cent
    thirds = largest_remainder(D("100.00"), {"B": D(1), "A": D(1), "C": D(1)}, "USD")
    assert thirds == {"A": D("33.34"), "B": D("33.33"), "C": D("33.33")}
    assert largest_remainder(D("-0.05"), {"A": D(1), "B": D(1)}, "USD") == {
        "A": D("-0.03"),
        "B": D("-0.02"),
    }
    with pytest.raises(InvalidEventError, match="zero"):
        largest_remainder(D("1.00"), {"A": D(0)}, "USD")


RULE = AllocationRule(
    rule_id="GB-SHARED", version=1, entity_id="GB10", driver=Driver.HOURS,
    targets=("P-1", "P-2", "P-3"), methodology="London office costs by hours worked",
)  # fmt: skip
BOOK = book_of(
    GB,
    *(project(project_id=p, entity_id="GB10", billing_currency="GBP") for p in ("P-1", "P-2")),
    project(project_id="P-3", entity_id="GB10", customer_id=None, kind="INTERNAL_OPEX",
            billing_currency="GBP"),
)  # fmt: skip
POOL = [_shared(GB, "EX-1", "600.00"), _shared(GB, "EX-2", "400.00")]


def test_allocation_moves_the_pool_to_the_targets_to_the_cent() -> None:
    quantities = {"P-1": D(7), "P-2": D(5), "P-3": D(3)}
    result = allocate(RULE, "2026-09", BOOK, POOL, quantities, rule_version=RV)
    assert result.pool == D("1000.00")
    assert result.pool_source_ids == ("EX-1", "EX-2")
    assert [(c.lines[0].dimensions.project_id, c.lines[0].amount) for c in result.commands] == [
        ("P-1", D("466.67")),
        ("P-2", D("333.33")),
        ("P-3", D("200.00")),
    ]
    first = result.commands[0]
    assert [(ln.account, ln.side, ln.base_amount) for ln in first.lines] == [
        ("5200", Side.DEBIT, D("466.67")),
        ("6100", Side.CREDIT, D("466.67")),
    ]
    assert first.source.type == "allocation"
    assert first.related_source_ids == ("EX-1", "EX-2")
    assert first.effective_date == date(2026, 9, 30)
    assert first.lines[0].dimensions.customer_id == "C-1"
    again = allocate(RULE, "2026-09", BOOK, POOL, quantities, rule_version=RV)
    assert [c.command_id for c in again.commands] == [c.command_id for c in result.commands]


def test_rerun_reverses_and_reposts_only_the_shares_that_changed() -> None:
    first = allocate(RULE, "2026-09", BOOK, POOL, {"P-1": D(5), "P-2": D(3), "P-3": D(2)},
                     rule_version=RV)  # fmt: skip
    sent = [*POOL, *first.commands]
    live = live_commands(sent, "allocation", "GB-SHARED/2026-09/")
    assert plan_rerun(live, first.commands, rule_version=RV) == ()  # same inputs: nothing
    # P-3's hours move to P-2: 500/300/200 becomes 500/400/100; P-1 keeps its command
    second = allocate(RULE, "2026-09", BOOK, sent, {"P-1": D(5), "P-2": D(4), "P-3": D(1)},
                      rule_version=RV)  # fmt: skip
    assert second.pool == D("1000.00")  # the first run's credits to 6100 are not the pool
    plan = plan_rerun(live, second.commands, rule_version=RV)
    assert [(c.action, c.lines[0].dimensions.project_id, c.lines[0].amount) for c in plan] == [
        (CommandAction.REVERSE, "P-2", D("300.00")),
        (CommandAction.REVERSE, "P-3", D("200.00")),
        (CommandAction.POST, "P-2", D("400.00")),
        (CommandAction.POST, "P-3", D("100.00")),
    ]
    assert plan[0].reverses == first.commands[1].command_id
    assert plan[0].lines[0].side is Side.CREDIT  # the 5200 debit undone
    # after the re-run, running again sends nothing
    live_after = live_commands([*sent, *plan], "allocation", "GB-SHARED/2026-09/")
    assert plan_rerun(live_after, second.commands, rule_version=RV) == ()


def test_drivers_hours_headcount_and_only_approved_entries_of_the_period() -> None:
    entries = [
        time_entry(entry_id="T1", project_id="P-1", duration_minutes=90,
                   started_at=datetime(2026, 9, 2, 9, 0, tzinfo=UTC)),
        time_entry(entry_id="T2", project_id="P-1", employee_id="bob", duration_minutes=30,
                   started_at=datetime(2026, 9, 3, 9, 0, tzinfo=UTC)),
        time_entry(entry_id="T3", project_id="P-2", duration_minutes=60,
                   started_at=datetime(2026, 9, 3, 9, 0, tzinfo=UTC), status="SUBMITTED",
                   approved_by=None,
                   approved_at=None),
        # 30 September 23:30 in London is still September there
        time_entry(entry_id="T4", project_id="P-2", duration_minutes=45,
                   started_at=datetime(2026, 9, 30, 22, 30, tzinfo=UTC)),
        time_entry(entry_id="T5", project_id="P-3", duration_minutes=60,
                   started_at=datetime(2026, 10, 1, 9, 0, tzinfo=UTC)),
    ]  # fmt: skip
    hours = driver_quantities(RULE, "2026-09", GB, entries, [])
    assert hours == {"P-1": D(2), "P-2": D("0.75"), "P-3": D(0)}
    heads = RULE.model_copy(update={"driver": Driver.HEADCOUNT})
    assert driver_quantities(heads, "2026-09", GB, entries, []) == {
        "P-1": D(2),
        "P-2": D(1),
        "P-3": D(0),
    }


# --- consolidation ---------------------------------------------------------------------

GROUP = ConsolidationGroup(
    group_id="HARBOR", version=1, book_entity_id="HARBOR-CONS", reporting_currency="USD",
    entities=("US10", "GB10"),
    pairs=(
        EliminationPair(name="receivable-payable", debit_account="1200", credit_account="2400"),
        EliminationPair(name="revenue-cost", debit_account="5050", credit_account="4050",
                        balance=False),
    ),
)  # fmt: skip
GB_SIDE = Dimensions(counterparty_entity_id="US10")
US_SIDE = Dimensions(counterparty_entity_id="GB10")


def _recharge(source_id: str, amount: str) -> PostLedgerEntry:
    legs = (Leg("1200", Side.DEBIT, D(amount), GB_SIDE), Leg("2150", Side.CREDIT, D(amount)))
    return _posted(GB, source_id, legs, kind="time_entry")


def _ic_cost(source_id: str, amount: str) -> PostLedgerEntry:
    legs = (
        Leg("5000", Side.DEBIT, D(amount), US_SIDE),
        Leg("2400", Side.CREDIT, D(amount), US_SIDE),
    )
    return _posted(US, source_id, legs, currency="GBP", rate="1.30", kind="time_entry")


MATCHED = [_recharge("TE-1", "100.00"), _recharge("TE-2", "50.00"),
           _ic_cost("TE-1", "100.00"), _ic_cost("TE-2", "50.00")]  # fmt: skip


def test_elimination_translates_at_the_closing_rate_with_the_difference_on_3900() -> None:
    # GB10 holds 150.00 GBP receivable: at the closing 1.34 that is 201.00 USD; US10 holds
    # the payable at 1.30 = 195.00 USD. Dr 2400 195.00 / Cr 1200 201.00 / Dr 3900 6.00.
    result = consolidate(GROUP, "2026-09", MATCHED, {"GBP": D("1.34")}, rule_version=RV)
    assert result.exceptions == ()
    (command,) = result.commands
    assert command.entity_id == "HARBOR-CONS"
    assert command.source.type == "elimination"
    assert command.transaction_currency == command.base_currency == "USD"
    assert [(ln.account, ln.side, ln.amount) for ln in command.lines] == [
        ("2400", Side.DEBIT, D("195.00")),
        ("1200", Side.CREDIT, D("201.00")),
        ("3900", Side.DEBIT, D("6.00")),
    ]
    assert command.related_source_ids == ("TE-1", "TE-2")
    assert "GBP/USD 1.34" in command.memo
    again = consolidate(GROUP, "2026-09", MATCHED, {"GBP": D("1.34")}, rule_version=RV)
    assert again.commands[0].command_id == command.command_id


def test_mismatches_are_exceptions_with_both_sides_source_ids() -> None:
    one_sided = _recharge("TE-3", "10.00")  # booked by GB10 only
    flow = _posted(
        US,
        "EX-9",
        (Leg("5050", Side.DEBIT, D("20.00"), US_SIDE), Leg("2100", Side.CREDIT, D("20.00"))),
    )
    result = consolidate(GROUP, "2026-09", [*MATCHED, one_sided, flow], {"GBP": D("1.34")},
                         rule_version=RV)  # fmt: skip
    assert result.commands == ()
    balance, revenue = result.exceptions
    assert (balance.pair, balance.debit_entity, balance.credit_entity) == (
        "receivable-payable", "GB10", "US10",
    )  # fmt: skip
    assert (balance.debit_amount, balance.credit_amount) == (D("214.40"), D("201.00"))
    assert balance.reason == "amounts differ by 13.40 USD"
    assert balance.debit_source_ids == ("TE-1", "TE-2", "TE-3")
    assert balance.credit_source_ids == ("TE-1", "TE-2")
    assert (revenue.pair, revenue.debit_entity, revenue.credit_entity) == (
        "revenue-cost", "US10", "GB10",
    )  # fmt: skip
    assert revenue.reason == "only US10 booked it"
    assert revenue.debit_source_ids == ("EX-9",)
    assert revenue.credit_source_ids == ()


def test_a_missing_closing_rate_is_a_precise_error() -> None:
    with pytest.raises(InvalidEventError, match="no GBP/USD rate for 2026-09-30"):
        consolidate(GROUP, "2026-09", MATCHED, {}, rule_version=RV)


# --- capex -----------------------------------------------------------------------------

SOFTWARE = AssetClass(class_id="SOFTWARE", depreciation_code="SL3", useful_life_months=3)
ASSET = Asset(asset_id="AS-1", entity_id="US10", project_id="P-CAPEX", class_id="SOFTWARE",
              in_service=date(2026, 9, 30))  # fmt: skip
CAPEX_DIMS = Dimensions(project_id="P-CAPEX")


def _auc(source_id: str, amount: str, on: date) -> PostLedgerEntry:
    legs = (Leg("1300", Side.DEBIT, D(amount), CAPEX_DIMS), Leg("2150", Side.CREDIT, D(amount)))
    return _posted(US, source_id, legs, on=on)


def test_in_service_moves_the_auc_balance_up_to_its_date_and_depreciates_straight_line() -> None:
    ledger = [
        _auc("TE-1", "500.00", date(2026, 9, 10)),
        _auc("EX-7", "250.50", date(2026, 9, 21)),
        _auc("TE-9", "100.00", date(2026, 10, 2)),  # after the in-service date
    ]
    moved = capitalise(ASSET, SOFTWARE, US, ledger, rule_version=RV)
    assert moved is not None
    assert [(ln.account, ln.side, ln.amount) for ln in moved.lines] == [
        ("1500", Side.DEBIT, D("750.50")),
        ("1300", Side.CREDIT, D("750.50")),
    ]
    assert moved.related_source_ids == ("EX-7", "TE-1")
    assert "AS-1 SL3" in moved.memo
    assert capitalise(ASSET, SOFTWARE, US, [*ledger, moved], rule_version=RV) == moved
    cost = asset_cost(ASSET, SOFTWARE, [*ledger, moved])
    assert cost == D("750.50")
    # 750.50 / 3 = 250.1666..: 250.17, 250.17, then 250.16 so the schedule sums to the cost
    assert schedule(cost, 3, "USD") == (D("250.17"), D("250.17"), D("250.16"))
    charges = {
        period: depreciate(ASSET, SOFTWARE, US, cost, period, rule_version=RV)
        for period in ("2026-09", "2026-10", "2026-11", "2026-12", "2027-01")
    }
    assert charges["2026-09"] is None  # from the month after the in-service month
    assert charges["2027-01"] is None  # the life is over
    december = charges["2026-12"]
    assert december is not None
    assert [(ln.account, ln.side, ln.amount) for ln in december.lines] == [
        ("6800", Side.DEBIT, D("250.16")),
        ("1590", Side.CREDIT, D("250.16")),
    ]
    assert december.source.type == "depreciation"
    assert december.source.id == "AS-1"
    assert "AS-1 SL3 2026-12 month 3/3" in december.memo
    total = sum(c.lines[0].amount for c in charges.values() if c is not None)
    assert total == D("750.50")
    ids = {c.command_id for c in charges.values() if c is not None}
    assert len(ids) == 3


def test_usage_driver_sums_one_category_and_refuses_mixed_currencies() -> None:
    def expense(eid: str, project_id: str, amount: str, currency: str = "GBP", **kw: Any) -> Any:
        return ExpenseRecorded.model_validate(
            {
                "expense_id": eid, "version": 1, "employee_id": "alice",
                "project_id": project_id, "incurred_on": date(2026, 9, 10),
                "amount": D(amount), "currency": currency, "category": "SOFTWARE",
                "billable": False, "markup_rate": D(0), "status": "APPROVED",
                "recorded_at": datetime(2026, 9, 11, tzinfo=UTC),
            }
            | kw
        )  # fmt: skip

    usage = RULE.model_copy(update={"driver": Driver.USAGE, "usage_category": "SOFTWARE"})
    expenses = [
        expense("X1", "P-1", "120.00"),
        expense("X2", "P-1", "30.00"),
        expense("X3", "P-2", "50.00"),
        expense("X4", "P-3", "99.00", category="TRAVEL"),  # another category
        expense("X5", "P-3", "10.00", incurred_on=date(2026, 8, 31)),  # another period
    ]
    assert driver_quantities(usage, "2026-09", GB, [], expenses) == {
        "P-1": D("150.00"),
        "P-2": D("50.00"),
        "P-3": D(0),
    }
    with pytest.raises(InvalidEventError, match="one currency"):
        driver_quantities(usage, "2026-09", GB, [], [*expenses, expense("X6", "P-2", "1", "EUR")])
