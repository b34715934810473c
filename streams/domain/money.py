"""Money: Decimal amounts at their currency's ISO 4217 exponent, rounded in one place.

Never ``float``. All arithmetic on money runs in ``MONEY_CONTEXT`` (60 significant
digits), so that multiplying an amount by an FX rate or an hourly rate is exact and
the only rounding step is ``round_money``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from streams.domain.exceptions import UnknownCurrencyError

__all__ = [
    "CURRENCY_EXPONENTS",
    "MONEY_CONTEXT",
    "Money",
    "RoundingMode",
    "allocate",
    "convert_amount",
    "exponent",
    "is_known_currency",
    "round_money",
    "show_amount",
    "show_number",
]

MONEY_CONTEXT: Final = Context(
    prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""Context for money arithmetic: wide enough that products of amounts and rates are exact."""

_BY_EXPONENT: Final[dict[int, str]] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    2: (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL "
        "BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK "
        "DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF "
        "IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA "
        "MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB "
        "PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD "
        "SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
        "VES WST XCD XCG YER ZAR ZMW ZWG"
    ),
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}

CURRENCY_EXPONENTS: Final = MappingProxyType(
    {code: exp for exp, codes in _BY_EXPONENT.items() for code in codes.split()}
)
"""ISO 4217 minor-unit exponents (JPY 0, USD 2, BHD 3, CLF 4), read-only."""

_QUANTUM: Final = {exp: Decimal(1).scaleb(-exp) for exp in _BY_EXPONENT}


class RoundingMode(StrEnum):
    """How an entity rounds half a minor unit (Avro enum ``RoundingMode``)."""

    HALF_UP = "HALF_UP"
    HALF_EVEN = "HALF_EVEN"


_ROUNDING: Final = {
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
}


def is_known_currency(currency: str) -> bool:
    """Tell whether amounts in ``currency`` can be booked (it has an ISO exponent)."""
    return currency in CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    """Return how many decimal places amounts in ``currency`` are booked with.

    Args:
        currency: ISO 4217 alphabetic code, upper case (``"USD"``).

    Returns:
        The minor-unit exponent: 0 for JPY, 2 for USD, 3 for BHD.

    Raises:
        UnknownCurrencyError: The code is not in the table.

    """
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrencyError(f"unknown currency {currency!r}") from None


def round_money(amount: Decimal, currency: str, mode: RoundingMode) -> Decimal:
    """Round an amount to the minor unit of its currency: the one rounding step.

    Args:
        amount: Any finite Decimal (e.g. hours times rate, or amount times FX rate).
        currency: ISO 4217 code whose exponent sets the precision.
        mode: The entity's rounding mode.

    Returns:
        The amount with exactly ``exponent(currency)`` decimal places; never ``-0``.

    Raises:
        UnknownCurrencyError: The currency is unknown.
        ValueError: The amount is NaN or infinite.

    """
    if not amount.is_finite():
        raise ValueError(f"cannot round non-finite amount {amount}")
    quantum = _QUANTUM[exponent(currency)]
    rounded = amount.quantize(quantum, rounding=_ROUNDING[mode], context=MONEY_CONTEXT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def show_amount(amount: Decimal, currency: str) -> str:
    """Show an amount in text (a memo) the same whatever scale it was read with.

    With the currency's decimals (``1353.80`` whether it was read as ``1353.8000``
    from Avro or ``1353.80`` from JSON), or more if it has them (a rate ``12.3456``).
    """
    shown = amount.quantize(_QUANTUM[exponent(currency)], context=MONEY_CONTEXT)
    return f"{shown:f}" if shown == amount else show_number(amount)


def show_number(value: Decimal) -> str:
    """Show a number in text without trailing zeros: ``0.1`` for ``0.1000`` and ``0.10``."""
    shown = value.normalize(MONEY_CONTEXT)
    return f"{shown.copy_abs() if shown.is_zero() else shown:f}"


def convert_amount(amount: Decimal, rate: Decimal, currency: str, mode: RoundingMode) -> Decimal:
    """Convert an amount at an FX rate, rounded to the target currency's minor unit.

    Args:
        amount: Amount in the source currency.
        rate: Units of ``currency`` per one unit of the source currency.
        currency: The target currency.
        mode: The rounding mode of the entity that books the result.

    Returns:
        ``round_money(amount * rate)``, the product computed exactly.

    """
    return round_money(MONEY_CONTEXT.multiply(amount, rate), currency, mode)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split a booked total over weights by largest remainder, losing no minor unit.

    Each share first gets the floor of its exact quota in minor units; the units left
    over go one each to the largest remainders (ties: the earlier weight). A negative
    total is split by magnitude and negated.

    Args:
        total: The amount to split, already at the currency's exponent.
        weights: Non-negative drivers (hours, headcount); at least one positive.
        currency: ISO 4217 code of ``total``.

    Returns:
        One amount per weight, each at the currency's exponent, summing to ``total``.

    Raises:
        ValueError: ``total`` has more decimals than the currency allows, or the
            weights are empty, negative or all zero.
        UnknownCurrencyError: The currency is unknown.

    """
    exp = exponent(currency)
    units_exact = Fraction(total) * 10**exp
    if units_exact.denominator != 1:
        raise ValueError(f"total {total} has more than {exp} decimals for {currency}")
    if any(w < 0 for w in weights):
        raise ValueError("allocation weights must be >= 0")
    fractions = [Fraction(w) for w in weights]
    weight_sum = sum(fractions, Fraction(0))
    if weight_sum == 0:
        raise ValueError("allocation needs at least one positive weight")
    sign = -1 if units_exact < 0 else 1
    units = abs(units_exact.numerator)
    quotas = [units * f / weight_sum for f in fractions]
    shares = [q.numerator // q.denominator for q in quotas]
    leftover = units - sum(shares)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in by_remainder[:leftover]:
        shares[i] += 1
    return [Decimal(sign * s).scaleb(-exp, MONEY_CONTEXT) for s in shares]


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency; arithmetic refuses to mix currencies.

    Attributes:
        amount: The Decimal amount (not necessarily rounded; see ``rounded``).
        currency: ISO 4217 code, validated against the exponent table.

    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        """Refuse floats and unknown currencies."""
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be Decimal, not {type(self.amount).__name__}")
        exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return nothing of ``currency``, booked at its exponent."""
        return cls(_QUANTUM[exponent(currency)] * 0, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        """Add an amount of the same currency."""
        self._same(other)
        return Money(MONEY_CONTEXT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        """Subtract an amount of the same currency."""
        self._same(other)
        return Money(MONEY_CONTEXT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        """Flip the sign."""
        return Money(self.amount.copy_negate(), self.currency)

    def __lt__(self, other: Money) -> bool:
        """Compare with an amount of the same currency."""
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        """Compare with an amount of the same currency."""
        self._same(other)
        return self.amount <= other.amount

    def times(self, factor: Decimal) -> Money:
        """Scale by a Decimal factor exactly (hours, a fraction); round afterwards."""
        return Money(MONEY_CONTEXT.multiply(self.amount, factor), self.currency)

    def rounded(self, mode: RoundingMode) -> Money:
        """Round to the currency's minor unit with ``round_money``."""
        return Money(round_money(self.amount, self.currency, mode), self.currency)

    def is_zero(self) -> bool:
        """Tell whether the amount is zero (which posts nothing)."""
        return self.amount.is_zero()
