"""Properties of the billing rules and corrections over generated scenarios."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from streams.domain.commands import PostLedgerEntry, Side
from streams.domain.feedback import FeedbackStatus
from streams.domain.money import RoundingMode, allocate, exponent
from streams.domain.posted import ar_key
from streams.domain.reference import ReferenceModel, TaxRounding
from streams.domain.rules.tax import Taxable, tax_by_code, tax_by_line
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, payment
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    time_entry,
)

CURRENCIES = ["USD", "EUR", "JPY", "BHD", "KWD", "GBP"]
MODES = ["HALF_UP", "HALF_EVEN"]
INVOICED = date(2026, 4, 30)


def minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-exponent(currency))


def rate() -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=6)


def assert_balanced(command: PostLedgerEntry) -> None:
    """Debits = credits in both currencies; 7950 carries only per-line rounding.

    Each converted line is off its exact value by at most half a minor unit (carried
    lines too, once 7900 has taken their difference from today's rate), so the
    residual on 7950 is at most half a unit per line, and there is none at all when
    the transaction is in the base currency.
    """
    sums = {Side.DEBIT: [Decimal(0), Decimal(0)], Side.CREDIT: [Decimal(0), Decimal(0)]}
    for ln in command.lines:
        assert ln.amount >= 0
        assert ln.base_amount >= 0
        assert ln.amount == round(ln.amount, exponent(command.transaction_currency))
        assert ln.base_amount == round(ln.base_amount, exponent(command.base_currency))
        sums[ln.side][0] += ln.amount
        sums[ln.side][1] += ln.base_amount
    assert sums[Side.DEBIT] == sums[Side.CREDIT]
    unit = Decimal(1).scaleb(-exponent(command.base_currency))
    rounding = [ln for ln in command.lines if ln.account == "7950"]
    if command.transaction_currency == command.base_currency:
        assert not rounding
        assert all(ln.amount == ln.base_amount for ln in command.lines)
    for ln in rounding:
        assert ln.amount == 0
        assert 2 * ln.base_amount <= unit * (len(command.lines) - 1)


@st.composite
def billing_runs(draw: st.DrawFn) -> tuple[Books, list[int], str]:
    """Entries billed on one invoice, with discounts and taxes, then paid in parts."""
    base, billing = draw(st.sampled_from(CURRENCIES)), draw(st.sampled_from(CURRENCIES))
    pay_days = draw(st.integers(min_value=1, max_value=4))
    rates: list[ReferenceModel] = []
    if base != billing:
        days = [date(2026, 3, 30), INVOICED] + [INVOICED + timedelta(d) for d in range(1, 5)]
        rates = [spot(billing, base, str(draw(rate())), on) for on in days]
    models: list[ReferenceModel] = [
        entity(
            base_currency=base,
            rounding_mode=draw(st.sampled_from(MODES)),
            tax_rounding=draw(st.sampled_from(list(TaxRounding))),
        ),
        customer(currency=billing),
        project(
            billing_currency=billing, rate=draw(st.decimals(min_value=1, max_value=900, places=2))
        ),
        employee(cost_currency=base),
        *rates,
    ]
    books = Books(book_of(*models))
    entries = draw(st.integers(min_value=1, max_value=4))
    lines = []
    for n in range(entries):
        books.post(time_entry(entry_id=f"TE-{n}", duration_minutes=draw(st.integers(1, 600))))
        amount = draw(st.integers(min_value=0, max_value=10**7))
        tax = draw(st.sampled_from([None, "0.05", "0.075", "0.19", "0.2"]))
        lines.append(
            line(
                n + 1,
                amount=minor(amount, billing),
                discount=minor(draw(st.integers(0, amount)), billing),
                tax_code=None if tax is None else f"T{tax}",
                tax_rate=None if tax is None else Decimal(tax),
                time_entry_ids=[f"TE-{n}"],
            )
        )
    books.post(invoice(currency=billing, lines=lines))
    receivable = books.ledger.balance(ar_key("INV-1"))
    units = 0 if receivable is None else int(receivable.amount.scaleb(exponent(billing)))
    cuts = sorted(
        draw(st.lists(st.integers(0, units), min_size=pay_days - 1, max_size=pay_days - 1))
    )
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, units], strict=True)]
    return books, parts, billing


@settings(max_examples=120, deadline=None)
@given(billing_runs())
def test_every_billing_command_balances_and_paying_in_full_clears_ar_in_both_currencies(
    run: tuple[Books, list[int], str],
) -> None:
    books, parts, currency = run
    for day, units in enumerate(parts, start=1):
        amount = minor(units, currency)
        books.post(
            payment(
                payment_id=f"PAY-{day}",
                currency=currency,
                amount=amount,
                received_on=INVOICED + timedelta(day),
                allocations=[{"invoice_id": "INV-1", "amount": amount}],
            )
        )
    for command in books.commands:
        assert_balanced(command)
    zero = minor(0, currency)
    assert books.balance("1150")[0] == zero
    assert books.balance("1150")[1] == 0
    assert books.balance("1100")[0] == zero
    assert books.balance("1100")[1] == 0
    assert books.ledger.balance(ar_key("INV-1")) is None


TAX_CODES = {"A": Decimal("0.05"), "B": Decimal("0.075"), "C": Decimal("0.19")}
KINDS = ["TIME", "FIXED_FEE", "MILESTONE"]


@st.composite
def credited_runs(
    draw: st.DrawFn,
) -> tuple[Books, list[list[int]], str, tuple[Decimal, Decimal], tuple[Decimal, Decimal]]:
    """An invoice of time, fee and milestone lines with taxes; its lines grouped into memos."""
    base, billing = draw(st.sampled_from(CURRENCIES)), draw(st.sampled_from(CURRENCIES))
    rates: list[ReferenceModel] = []
    if base != billing:
        rates = [spot(billing, base, str(draw(rate())), on) for on in (date(2026, 3, 30), INVOICED)]
    books = Books(
        book_of(
            entity(
                base_currency=base,
                rounding_mode=draw(st.sampled_from(MODES)),
                tax_rounding=draw(st.sampled_from(list(TaxRounding))),
            ),
            customer(currency=billing),
            project(
                billing_currency=billing,
                rate=draw(st.decimals(min_value=1, max_value=900, places=2)),
            ),
            employee(cost_currency=base),
            *rates,
        )
    )
    lines = []
    for n in range(1, draw(st.integers(min_value=1, max_value=6)) + 1):
        kind = draw(st.sampled_from(KINDS))
        entries = []
        if kind == "TIME":
            books.post(time_entry(entry_id=f"TE-{n}", duration_minutes=draw(st.integers(1, 600))))
            entries = [f"TE-{n}"]
        amount = draw(st.integers(min_value=0, max_value=10**6))
        code = draw(st.sampled_from([None, *TAX_CODES]))
        lines.append(
            line(
                n,
                kind=kind,
                amount=minor(amount, billing),
                discount=minor(draw(st.integers(0, amount)), billing),
                tax_code=code,
                tax_rate=TAX_CODES.get(code or ""),
                time_entry_ids=entries,
            )
        )
    wip, revenue = books.balance("1150"), books.balance("4000")
    books.post(invoice(currency=billing, lines=lines))
    order = draw(st.permutations([ln["line_no"] for ln in lines]))
    inner = st.sets(st.integers(1, len(order) - 1)) if len(order) > 1 else st.just(set[int]())
    cuts = sorted(draw(inner))
    groups = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    return books, groups, billing, wip, revenue


@settings(max_examples=120, deadline=None)
@given(credited_runs())
def test_crediting_every_line_in_any_grouping_gives_the_invoice_back_exactly(
    run: tuple[Books, list[list[int]], str, tuple[Decimal, Decimal], tuple[Decimal, Decimal]],
) -> None:
    """Tax shares lose no minor unit: memos on all lines return AR, tax, revenue, WIP exactly."""
    books, groups, currency, wip, revenue = run
    invoiced = len(books.commands)
    taxed = -books.balance("2200")[0]
    for n, group in enumerate(groups, start=1):
        books.post(
            credit_memo(
                invoice_id=f"CM-{n}",
                currency=currency,
                credited_line_nos=group,
                issued_on=INVOICED + timedelta(n),
            )
        )
    for command in books.commands:
        assert_balanced(command)
    memo_tax = sum(
        (ln.amount for c in books.commands[invoiced:] for ln in c.lines if ln.account == "2200"),
        Decimal(0),
    )
    assert memo_tax == taxed
    assert books.balance("2200")[0] == 0
    assert books.balance("4900")[0] == 0
    assert books.balance("4000")[0] == revenue[0]
    assert books.balance("1150") == wip
    assert books.balance("1100") == (Decimal(0), Decimal(0))
    assert books.ledger.balance(ar_key("INV-1")) is None
    assert dict(books.ledger.billed) == {}
    released = {f.source_id for f in books.feedback if f.status is FeedbackStatus.RELEASED}
    accrued = {r.source_id for r in books.ledger.records.values() if r.source_type == "time_entry"}
    assert released == accrued


def oracle(value: Fraction, exp: int, mode: str) -> Fraction:
    scaled = value * 10**exp
    floor = math.floor(scaled)
    rest = scaled - floor
    up = rest > Fraction(1, 2) or (rest == Fraction(1, 2) and (mode == "HALF_UP" or floor % 2))
    return Fraction(floor + up, 10**exp)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CURRENCIES),
    st.sampled_from(MODES),
    st.lists(
        st.tuples(
            st.integers(0, 10**8), st.sampled_from(["0.05", "0.075", "0.19", "0.0888", "0.08875"])
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_tax_rounding_never_loses_or_invents_a_minor_unit(
    currency: str, mode: str, lines: list[tuple[int, str]]
) -> None:
    """Per code, per line or per invoice, and split back over the lines (credit memos)."""
    exp = exponent(currency)
    taxable = [
        Taxable(n, minor(units, currency), f"T{r}", Decimal(r))
        for n, (units, r) in enumerate(lines)
    ]
    per_line = tax_by_code(taxable, currency, RoundingMode(mode), TaxRounding.PER_LINE)
    per_invoice = tax_by_code(taxable, currency, RoundingMode(mode), TaxRounding.PER_INVOICE)
    for code in per_invoice:
        mine = [t for t in taxable if t.tax_code == code]
        exact = [Fraction(t.net) * Fraction(t.tax_rate or 0) for t in mine]
        assert Fraction(per_invoice[code]) == oracle(sum(exact, Fraction(0)), exp, mode)
        assert Fraction(per_line[code]) == sum((oracle(e, exp, mode) for e in exact), Fraction(0))
        assert per_line[code] == round(per_line[code], exp)
    # tax_by_line: every line's share, summing per code exactly to tax_by_code
    unit = Fraction(1, 10**exp)
    for policy, totals in (
        (TaxRounding.PER_LINE, per_line),
        (TaxRounding.PER_INVOICE, per_invoice),
    ):
        shares = tax_by_line(taxable, currency, RoundingMode(mode), policy)
        assert set(shares) == {t.line_no for t in taxable}
        for code, total in totals.items():
            mine = [t for t in taxable if t.tax_code == code]
            assert sum((shares[t.line_no] for t in mine), Decimal(0)) == total
            for t in mine:
                line_tax = Fraction(t.net) * Fraction(t.tax_rate or 0)
                assert shares[t.line_no] == round(shares[t.line_no], exp)
                if policy is TaxRounding.PER_LINE:
                    assert Fraction(shares[t.line_no]) == oracle(line_tax, exp, mode)
                else:  # largest remainder of a total within half a unit: < 1.5 units off
                    assert abs(Fraction(shares[t.line_no]) - line_tax) < unit * 3 / 2


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CURRENCIES),
    st.integers(-(10**9), 10**9),
    st.lists(st.integers(0, 1000), min_size=1, max_size=12).filter(any),
)
def test_allocation_never_loses_or_invents_a_minor_unit(
    currency: str, units: int, weights: list[int]
) -> None:
    total = minor(units, currency)
    shares = allocate(total, [Decimal(w) for w in weights], currency)
    assert sum(shares, Decimal(0)) == total
    quotas = [Fraction(total) * w / sum(weights) for w in weights]
    unit = Fraction(1, 10 ** exponent(currency))
    assert all(abs(Fraction(s) - q) < unit for s, q in zip(shares, quotas, strict=True))
