"""Properties of the expense rule over generated currencies, projects, markups and rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from streams.domain.events import ExpenseRecorded
from streams.domain.money import exponent
from streams.domain.reference import Project, ProjectKind, ReferenceModel
from streams.domain.rules import Posted
from streams.domain.rules.expense import post_expense
from tests.unit.domain.billing_builders import expense, rows, source_of
from tests.unit.domain.builders import RULE_VERSION, book_of, customer, employee, entity, project
from tests.unit.domain.builders import spot as spot_rate
from tests.unit.domain.test_billing_properties import assert_balanced, oracle

CURRENCIES = ["USD", "EUR", "JPY", "BHD", "GBP"]
ON = date(2026, 3, 31)
COST_ACCOUNT = {
    ProjectKind.CLIENT_TM: "5100",
    ProjectKind.CLIENT_FIXED: "5100",
    ProjectKind.RETAINER: "5100",
    ProjectKind.INTERNAL_OPEX: "6000",
    ProjectKind.INTERNAL_CAPEX: "1300",
}


@dataclass(frozen=True)
class Case:
    models: tuple[ReferenceModel, ...]
    spent: ExpenseRecorded
    project: Project | None
    base: str
    mode: str
    rates: dict[tuple[str, str], Decimal]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    base, currency, billing = (draw(st.sampled_from(CURRENCIES)) for _ in range(3))
    used = sorted({base, currency, billing})
    # rates with few decimals make exact half-unit ties, where HALF_UP and HALF_EVEN differ
    ties = st.sampled_from([Decimal(r) for r in ("0.5", "1.5", "1.25", "0.125", "2.5")])
    rates = {
        (a, b): draw(
            ties | ties | st.decimals(min_value=Decimal("0.0001"), max_value=500, places=6)
        )
        for a in used
        for b in used
        if a != b
    }
    kind = draw(st.sampled_from([None, *ProjectKind]))
    contract = draw(st.none() | st.decimals(min_value=Decimal("0.001"), max_value=300, places=6))
    proj = (
        None
        if kind is None
        else project(
            kind=kind,
            billing_currency=billing,
            contract_fx_rate=contract,
            contract_id=None if contract is None else "K-1",
        )
    )
    client = kind in {ProjectKind.CLIENT_TM, ProjectKind.CLIENT_FIXED, ProjectKind.RETAINER}
    mode = draw(st.sampled_from(["HALF_UP", "HALF_EVEN"]))
    spent = expense(
        project_id=None if proj is None else proj.project_id,
        amount=draw(st.decimals(min_value=0, max_value=10**6, places=exponent(currency))),
        currency=currency,
        markup_rate=draw(st.decimals(min_value=0, max_value=2, places=4)),
        billable=client and draw(st.booleans()),
    )
    models: tuple[ReferenceModel, ...] = (
        entity(base_currency=base, rounding_mode=mode),
        customer(currency=billing),
        employee(),
        *((proj,) if proj is not None else ()),
        *(spot_rate(a, b, str(r), ON) for (a, b), r in rates.items()),
    )
    return Case(models, spent, proj, base, mode, rates)


def dec(value: Fraction, currency: str) -> Decimal:
    """The oracle's exact value (whole minor units) as a Decimal at the currency's exponent."""
    exp = exponent(currency)
    units = value * 10**exp
    assert units.denominator == 1
    return Decimal(units.numerator).scaleb(-exp)


def convert(amount: Fraction, rate: Fraction, currency: str, mode: str) -> Decimal:
    return dec(oracle(amount * rate, exponent(currency), mode), currency)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_expense_commands_balance_and_match_an_independent_oracle(case: Case) -> None:
    """Cost at SPOT on the right account; re-bill = amount x (1 + markup), rounded once."""
    spent, proj, base, mode = case.spent, case.project, case.base, case.mode
    outcome = post_expense(
        spent, book_of(*case.models), source=source_of(spent), rule_version=RULE_VERSION
    )
    assert isinstance(outcome, Posted)
    for command in outcome.commands:
        assert_balanced(command)

    def rate(a: str, b: str) -> Fraction:
        return Fraction(1) if a == b else Fraction(case.rates[(a, b)])

    expected = []
    cost = oracle(Fraction(spent.amount), exponent(spent.currency), mode)
    if cost:
        account = "6100" if proj is None else COST_ACCOUNT[proj.kind]
        cost_base = convert(cost, rate(spent.currency, base), base, mode)
        cost_amount = dec(cost, spent.currency)
        expected.append(
            [
                (account, "DEBIT", cost_amount, cost_base),
                ("2100", "CREDIT", cost_amount, cost_base),
            ]
        )
    if spent.billable and proj is not None:
        billing = proj.billing_currency
        gross = Fraction(spent.amount) * (1 + Fraction(spent.markup_rate))
        rebill = oracle(gross * rate(spent.currency, billing), exponent(billing), mode)
        if rebill:
            to_base = (
                Fraction(proj.contract_fx_rate)
                if proj.contract_fx_rate is not None and billing != base
                else rate(billing, base)
            )
            rebill_base = convert(rebill, to_base, base, mode)
            amount = dec(rebill, billing)
            expected.append(
                [("1150", "DEBIT", amount, rebill_base), ("4100", "CREDIT", amount, rebill_base)]
            )
    assert [rows(c) for c in outcome.commands] == expected
