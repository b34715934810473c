"""Properties of the billing rules and corrections over generated scenarios."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from streams.domain.commands import PostLedgerEntry, Side
from streams.domain.money import RoundingMode, allocate, exponent
from streams.domain.posted import ar_key
from streams.domain.reference import ReferenceModel, TaxRounding
from streams.domain.rules.tax import Taxable, tax_by_code
from tests.unit.domain.billing_builders import Books, expense, invoice, line, payment
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

CURRENCIES = ["USD", "EUR", "JPY", "BHD", "KWD", "GBP"]
MODES = ["HALF_UP", "HALF_EVEN"]
INVOICED = date(2026, 4, 30)


def minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-exponent(currency))


def rate() -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=6)


def assert_balanced(command: PostLedgerEntry) -> None:
    sums = {Side.DEBIT: [Decimal(0), Decimal(0)], Side.CREDIT: [Decimal(0), Decimal(0)]}
    for ln in command.lines:
        assert ln.amount >= 0
        assert ln.base_amount >= 0
        assert ln.amount == round(ln.amount, exponent(command.transaction_currency))
        assert ln.base_amount == round(ln.base_amount, exponent(command.base_currency))
        sums[ln.side][0] += ln.amount
        sums[ln.side][1] += ln.base_amount
    assert sums[Side.DEBIT] == sums[Side.CREDIT]


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


@st.composite
def version_runs(draw: st.DrawFn) -> tuple[list[int], dict[int, dict[str, object]]]:
    count = draw(st.integers(min_value=1, max_value=5))
    versions = {
        v: {
            "duration_minutes": draw(st.integers(0, 900)),
            "billable": draw(st.booleans()),
            "amount": Decimal(draw(st.integers(0, 10**6))) / 100,
        }
        for v in range(1, count + 1)
    }
    order = draw(st.lists(st.integers(1, count), min_size=1, max_size=10))
    return order, versions


def post_version(books: Books, version: int, data: dict[str, object]) -> None:
    books.post(
        time_entry(
            version=version,
            duration_minutes=data["duration_minutes"],
            billable=data["billable"],
        )
    )
    books.post(expense(version=version, amount=data["amount"], billable=data["billable"]))


@settings(max_examples=150, deadline=None)
@given(version_runs())
def test_replaying_any_sequence_of_versions_nets_to_posting_only_the_last(
    run: tuple[list[int], dict[int, dict[str, object]]],
) -> None:
    order, versions = run
    replayed = Books(standard_book())
    for version in order:
        post_version(replayed, version, versions[version])
    last = max(order)
    fresh = Books(standard_book())
    post_version(fresh, last, versions[last])
    assert replayed.net() == fresh.net()
    assert replayed.ledger.balances == fresh.ledger.balances
    assert (
        replayed.ledger.skipped
        == sum(1 for i, v in enumerate(order) if any(w >= v for w in order[:i])) * 2
    )


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
        st.tuples(st.integers(0, 10**8), st.sampled_from(["0.05", "0.075", "0.19", "0.0888"])),
        min_size=1,
        max_size=8,
    ),
)
def test_tax_rounding_never_loses_or_invents_a_minor_unit(
    currency: str, mode: str, lines: list[tuple[int, str]]
) -> None:
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
