"""Largest-remainder rounding: split an amount by weights so the parts sum to it exactly."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

from streams.domain.exceptions import InvalidEventError
from streams.domain.money import MONEY_CONTEXT, exponent

__all__ = ["largest_remainder"]


def largest_remainder(
    total: Decimal, weights: Mapping[str, Decimal], currency: str
) -> dict[str, Decimal]:
    """Split ``total`` over ``weights`` at the currency's minor unit; the parts sum to ``total``.

    Each part gets the floor of its exact share in minor units; the units left over
    go one each to the parts with the largest fractional remainders (ties: the
    larger weight, then the key in sorted order), so the result depends only on
    the inputs. A negative ``total`` is split as its absolute value and negated.

    Args:
        total: The amount to split, at the currency's exponent.
        weights: Non-negative weight per key (e.g. hours per project); not all zero.
        currency: Sets the minor unit.

    Returns:
        The part per key (zero parts included), in the keys' sorted order.

    Raises:
        InvalidEventError: A weight is negative, or every weight is zero.

    """
    if any(w < 0 for w in weights.values()):
        raise InvalidEventError("driver: a weight is negative", field="driver")
    whole = sum(weights.values(), Decimal(0))
    if whole == 0:
        raise InvalidEventError("driver: every target's driver quantity is zero", field="driver")
    unit = Decimal(1).scaleb(-exponent(currency))
    sign = -1 if total < 0 else 1
    units = int(MONEY_CONTEXT.divide(abs(total), unit))
    floors: dict[str, int] = {}
    remainders: dict[str, Decimal] = {}
    for key in sorted(weights):
        exact = MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(Decimal(units), weights[key]), whole)
        floor = int(exact.to_integral_value(rounding=ROUND_FLOOR))
        floors[key], remainders[key] = floor, exact - floor
    left = units - sum(floors.values())
    for key in sorted(remainders, key=lambda k: (-remainders[k], -weights[k], k))[:left]:
        floors[key] += 1
    return {key: (unit * floors[key] * sign).quantize(unit) for key in sorted(weights)}
