"""Golden worked examples: which FX rate converts an amount. Amounts computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from streams.domain.commands import RateType
from tests.unit.domain.billing_builders import Books, rows
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    time_entry,
)

D = Decimal


def eur_billed(*rates: tuple[str, str, str, date]) -> Books:
    """US entity (USD), P-100 billed in EUR 120/h, the given SPOT rates."""
    return Books(
        book_of(
            entity(),
            customer(),
            project(billing_currency="EUR", rate=D("120.0000")),
            employee(),
            *(spot(a, b, rate, on) for a, b, rate, on in rates),
        )
    )


def test_inverse_pair_converts_when_only_the_opposite_rate_is_quoted() -> None:
    """Rule: FX (SPOT of the inverse pair, its reciprocal; source says so)."""
    # only USD/EUR 0.8 is quoted: EUR/USD = 1 / 0.8 = 1.25;
    # 100 min x EUR 120/h = EUR 200.00 x 1.25 = USD 250.00
    books = eur_billed(("USD", "EUR", "0.8", date(2026, 3, 30)))
    revenue, _ = books.post(time_entry(duration_minutes=100))
    assert rows(revenue)[0] == ("1150", "DEBIT", D("200.00"), D("250.00"))
    assert (revenue.fx.rate, revenue.fx.rate_type, revenue.fx.source) == (
        D("1.25"),
        RateType.SPOT,
        "inverse:ecb",
    )


def test_newest_spot_within_the_staleness_window_wins_and_a_later_one_is_ignored() -> None:
    """Rule: FX (the newest SPOT rate dated on or before the business date, within staleness)."""
    # worked 2026-03-31: rates 03-26 1.05, 03-29 1.07, 04-01 1.20 -> 1.07 (03-29);
    # EUR 200.00 x 1.07 = USD 214.00
    books = eur_billed(
        ("EUR", "USD", "1.05", date(2026, 3, 26)),
        ("EUR", "USD", "1.07", date(2026, 3, 29)),
        ("EUR", "USD", "1.20", date(2026, 4, 1)),
    )
    revenue, _ = books.post(time_entry(duration_minutes=100))
    assert rows(revenue)[1] == ("4000", "CREDIT", D("200.00"), D("214.00"))
    assert (revenue.fx.rate, revenue.fx.rate_date) == (D("1.07"), date(2026, 3, 29))
