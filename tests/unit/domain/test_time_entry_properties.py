"""Properties of the time entry rule over generated entries, rates and currencies."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from streams.domain.commands import PostLedgerEntry, Side, command_id
from streams.domain.events import TimeEntryRecorded
from streams.domain.money import exponent
from streams.domain.reference import LegalEntity, Project, ProjectKind, ReferenceModel
from streams.domain.rules import Posted, post_time_entry
from tests.unit.domain.builders import (
    RULE_VERSION,
    book_of,
    customer,
    employee,
    entity,
    project,
    source_for,
    spot,
    time_entry,
)

CURRENCIES = ["USD", "EUR", "GBP", "JPY", "BHD", "KWD", "CHF"]
ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"]
MODES = ["HALF_UP", "HALF_EVEN"]


@dataclass(frozen=True)
class Scenario:
    models: tuple[ReferenceModel, ...]
    entry: TimeEntryRecorded
    project: Project
    entity: LegalEntity


def places(n: int, low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=n)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    base, home_base, billing, cost_ccy = (draw(st.sampled_from(CURRENCIES)) for _ in range(4))
    intercompany = draw(st.booleans())
    started = draw(
        st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31))  # noqa: DTZ001
    ).replace(tzinfo=UTC)
    rate_date = started.date() - timedelta(days=1)  # within 5 days of any local date
    used = sorted({base, home_base, billing, cost_ccy})
    fx_rates = tuple(
        spot(a, b, str(draw(places(12, "0.000001", "5000"))), rate_date)
        for a in used
        for b in used
        if a != b
    )
    contract = draw(st.none() | places(12, "0.0001", "1000"))
    proj = project(
        kind=draw(st.sampled_from(list(ProjectKind))),
        billing_currency=billing,
        rate=draw(places(4, "0", "100000")),
        rounding_increment_minutes=draw(st.sampled_from([0, 1, 6, 15, 30, 60])),
        contract_fx_rate=contract,
        contract_id="K-1" if contract is not None else None,
    )
    home_id = "HOME" if intercompany else "US"
    posting = entity(
        base_currency=base,
        timezone=draw(st.sampled_from(ZONES)),
        rounding_mode=draw(st.sampled_from(MODES)),
    )
    models: tuple[ReferenceModel, ...] = (
        posting,
        entity(
            entity_id="HOME",
            base_currency=home_base,
            timezone=draw(st.sampled_from(ZONES)),
            rounding_mode=draw(st.sampled_from(MODES)),
        ),
        customer(),
        proj,
        employee(
            entity_id=home_id, cost_currency=cost_ccy, cost_rate=draw(places(4, "0", "20000"))
        ),
        *fx_rates,
    )
    entry = time_entry(
        started_at=started,
        duration_minutes=draw(st.integers(min_value=0, max_value=3 * 24 * 60)),
        billable=draw(st.booleans()),
        billable_fraction=draw(st.none() | places(4, "0.0001", "1")),
        version=draw(st.integers(min_value=1, max_value=50)),
    )
    return Scenario(models, entry, proj, posting)


def post(scenario: Scenario) -> tuple[PostLedgerEntry, ...]:
    entry = scenario.entry
    outcome = post_time_entry(
        entry, book_of(*scenario.models), source=source_for(entry), rule_version=RULE_VERSION
    )
    assert isinstance(outcome, Posted)
    return outcome.commands


def oracle_round(value: Fraction, exp: int, mode: str) -> Decimal:
    """Round an exact value to ``exp`` places, written independently of the domain."""
    scaled = value * 10**exp
    floor = math.floor(scaled)
    rest = scaled - floor
    up = rest > Fraction(1, 2) or (rest == Fraction(1, 2) and (mode == "HALF_UP" or floor % 2 == 1))
    return Decimal(floor + up).scaleb(-exp)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_every_command_balances_in_both_currencies(scenario: Scenario) -> None:
    for command in post(scenario):
        txn_exp = exponent(command.transaction_currency)
        base_exp = exponent(command.base_currency)
        totals = {Side.DEBIT: [Decimal(0), Decimal(0)], Side.CREDIT: [Decimal(0), Decimal(0)]}
        for line in command.lines:
            assert line.amount >= 0
            assert line.base_amount >= 0
            assert line.amount == round(line.amount, txn_exp)
            assert line.base_amount == round(line.base_amount, base_exp)
            totals[line.side][0] += line.amount
            totals[line.side][1] += line.base_amount
        assert totals[Side.DEBIT] == totals[Side.CREDIT]
        assert totals[Side.DEBIT][0] > 0
        assert PostLedgerEntry.model_validate(command.model_dump()) == command


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_same_input_gives_identical_commands(scenario: Scenario) -> None:
    first, second = post(scenario), post(scenario)
    assert first == second
    assert [c.command_id for c in first] == [c.command_id for c in second]
    assert len({c.command_id for c in first}) == len(first)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_revenue_is_billable_minutes_times_rate_rounded_once(scenario: Scenario) -> None:
    entry, proj = scenario.entry, scenario.project
    commands = {c.command_id: c for c in post(scenario)}
    revenue_id = command_id("time_entry", entry.entry_id, entry.version, RULE_VERSION, "revenue")
    step = proj.rounding_increment_minutes
    minutes = entry.duration_minutes
    if step:
        minutes = math.ceil(minutes / step) * step
    fraction = Fraction(entry.billable_fraction or 1)
    exact = Fraction(minutes) * fraction * Fraction(proj.rate or 0) / 60
    mode = scenario.entity.rounding_mode
    expected = oracle_round(exact, exponent(proj.billing_currency), mode)
    billable = entry.billable and proj.kind in {"CLIENT_TM", "RETAINER"}
    if billable and expected > 0:
        assert commands[revenue_id].lines[0].amount == expected
    else:
        assert revenue_id not in commands
