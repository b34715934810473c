"""Largest-remainder rounding by key: split an amount by weights so the parts sum to it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from streams.domain.exceptions import InvalidEventError
from streams.domain.money import allocate

__all__ = ["largest_remainder"]


def largest_remainder(
    total: Decimal, weights: Mapping[str, Decimal], currency: str
) -> dict[str, Decimal]:
    """Split ``total`` over ``weights`` at the currency's minor unit; the parts sum to ``total``.

    ``streams.domain.money.allocate`` does the arithmetic (exact fractions): each part
    gets the floor of its exact share in minor units, the units left over go one each
    to the largest remainders, ties to the first key in sorted order, so the result
    depends only on the inputs. A negative ``total`` is split by magnitude and negated.

    Args:
        total: The amount to split, at the currency's exponent.
        weights: Non-negative weight per key (e.g. hours per project); not all zero.
        currency: Sets the minor unit.

    Returns:
        The part per key (zero parts included), in the keys' sorted order.

    Raises:
        InvalidEventError: A weight is negative, or every weight is zero.

    """
    keys = sorted(weights)
    try:
        parts = allocate(total, [weights[k] for k in keys], currency)
    except ValueError as exc:
        if all(w == 0 for w in weights.values()):
            reason = "every target's driver quantity is zero"
        else:
            reason = str(exc)
        raise InvalidEventError(f"driver: {reason}", field="driver") from exc
    return dict(zip(keys, parts, strict=True))
