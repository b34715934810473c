"""Money: exponents, the one rounding function, allocation and the Money value."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streams.domain.exceptions import InvalidEventError, UnknownCurrencyError
from streams.domain.money import (
    CURRENCY_EXPONENTS,
    Money,
    RoundingMode,
    allocate,
    convert_amount,
    exponent,
    round_money,
)

D = Decimal
CURRENCIES = ["USD", "EUR", "JPY", "KRW", "BHD", "KWD", "CLF"]


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("JPY", 0),
        ("KRW", 0),
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("CHF", 2),
        ("INR", 2),
        ("BHD", 3),
        ("KWD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("TND", 3),
    ],
)
def test_exponent_follows_iso_4217(currency: str, places: int) -> None:
    assert exponent(currency) == places


def test_unknown_currency_is_an_invalid_event() -> None:
    with pytest.raises(UnknownCurrencyError) as info:
        exponent("XYZ")
    assert isinstance(info.value, InvalidEventError)
    assert info.value.code == "UNKNOWN_CURRENCY"
    assert len(CURRENCY_EXPONENTS) > 150


@pytest.mark.parametrize(
    ("amount", "currency", "mode", "expected"),
    [
        ("2.345", "USD", RoundingMode.HALF_UP, "2.35"),
        ("2.345", "USD", RoundingMode.HALF_EVEN, "2.34"),
        ("2.355", "USD", RoundingMode.HALF_EVEN, "2.36"),
        ("-2.345", "USD", RoundingMode.HALF_UP, "-2.35"),
        ("10292.5", "JPY", RoundingMode.HALF_UP, "10293"),
        ("10292.5", "JPY", RoundingMode.HALF_EVEN, "10292"),
        ("20.9375", "BHD", RoundingMode.HALF_UP, "20.938"),
        ("20.9365", "BHD", RoundingMode.HALF_EVEN, "20.936"),
        ("5", "USD", RoundingMode.HALF_UP, "5.00"),
    ],
)
def test_round_money_uses_the_currency_exponent_and_mode(
    amount: str, currency: str, mode: RoundingMode, expected: str
) -> None:
    assert str(round_money(D(amount), currency, mode)) == expected


def test_round_money_never_returns_negative_zero() -> None:
    assert str(round_money(D("-0.004"), "USD", RoundingMode.HALF_UP)) == "0.00"


def test_round_money_refuses_non_finite_amounts() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        round_money(D("NaN"), "USD", RoundingMode.HALF_UP)


def test_conversion_of_a_large_amount_rounds_once() -> None:
    # a x 1.000000000001 = a + a x 10^-12
    #   = 1234564999999999.99 + 1234.56499999999999 = 1234565000001234.55499999999999
    # -> HALF_UP to cents: .55. (A 28-digit intermediate, 1234565000001234.555000000000,
    # would round to .56: the product must be exact before the one rounding step.)
    result = convert_amount(
        D("1234564999999999.99"), D("1.000000000001"), "USD", RoundingMode.HALF_UP
    )
    assert result == D("1234565000001234.55")


def test_allocate_by_largest_remainder() -> None:
    # 100.00 over 1:1:1 -> 33.33 each, 1 cent left, first weight wins the tie
    assert allocate(D("100.00"), [D(1), D(1), D(1)], "USD") == [
        D("33.34"),
        D("33.33"),
        D("33.33"),
    ]
    # 10.00 over hours 5, 3, 2.5 (sum 10.5): quotas 4.7619, 2.8571, 2.3809
    # floors 4.76, 2.85, 2.38 = 9.99; largest remainder .0071 (second) gets the cent
    assert allocate(D("10.00"), [D(5), D(3), D("2.5")], "USD") == [
        D("4.76"),
        D("2.86"),
        D("2.38"),
    ]
    assert allocate(D("-7"), [D(1), D(1)], "JPY") == [D("-4"), D("-3")]
    assert allocate(D("1.000"), [D(0), D(3)], "BHD") == [D("0.000"), D("1.000")]


@pytest.mark.parametrize(
    ("total", "weights", "match"),
    [
        ("1.001", ["1"], "decimals"),
        ("1.00", ["-1", "2"], ">= 0"),
        ("1.00", ["0", "0"], "positive"),
        ("1.00", [], "positive"),
    ],
)
def test_allocate_rejects_bad_input(total: str, weights: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        allocate(D(total), [D(w) for w in weights], "USD")


def test_money_refuses_to_mix_currencies_and_floats() -> None:
    usd = Money(D("1.50"), "USD")
    assert usd + Money(D("2.25"), "USD") == Money(D("3.75"), "USD")
    assert usd - Money(D("2.00"), "USD") == Money(D("-0.50"), "USD")
    assert -usd == Money(D("-1.50"), "USD")
    assert usd < Money(D("2"), "USD")
    assert usd.times(D("0.333")).rounded(RoundingMode.HALF_UP) == Money(D("0.50"), "USD")
    assert Money.zero("BHD") == Money(D("0.000"), "BHD")
    assert Money.zero("JPY").is_zero()
    with pytest.raises(ValueError, match="USD with EUR"):
        _ = usd + Money(D("1"), "EUR")
    with pytest.raises(TypeError, match="Decimal"):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrencyError):
        Money(D(1), "XYZ")


amounts = st.decimals(
    min_value=D("-1e12"), max_value=D("1e12"), allow_nan=False, allow_infinity=False, places=6
)


@settings(max_examples=300)
@given(amounts, st.sampled_from(CURRENCIES), st.sampled_from(list(RoundingMode)))
def test_round_money_moves_at_most_half_a_minor_unit(
    amount: Decimal, currency: str, mode: RoundingMode
) -> None:
    rounded = round_money(amount, currency, mode)
    unit = D(1).scaleb(-exponent(currency))
    assert abs(rounded - amount) <= unit / 2
    assert rounded.as_tuple().exponent == -exponent(currency)
    assert round_money(rounded, currency, mode) == rounded


@settings(max_examples=300)
@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.lists(
        st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False), min_size=1, max_size=12
    ).filter(lambda ws: sum(ws) > 0),
    st.sampled_from(CURRENCIES),
)
def test_allocation_never_loses_or_invents_a_minor_unit(
    units: int, weights: list[Decimal], currency: str
) -> None:
    total = D(units).scaleb(-exponent(currency))
    shares = allocate(total, weights, currency)
    assert sum(shares, D(0)) == total
    assert len(shares) == len(weights)
    unit = Fraction(1, 10 ** exponent(currency))
    weight_sum = sum(Fraction(w) for w in weights)
    for share, weight in zip(shares, weights, strict=True):
        quota = Fraction(total) * Fraction(weight) / weight_sum
        assert abs(Fraction(share) - quota) < unit
        if weight == 0:
            assert share == 0
    # largest remainder is monotone: a larger driver never gets a smaller share, and
    # equal drivers get shares at most one minor unit apart
    for i, wi in enumerate(weights):
        for j, wj in enumerate(weights):
            if wi > wj:
                assert abs(shares[i]) >= abs(shares[j])
            elif wi == wj:
                assert abs(shares[i] - shares[j]) <= unit
