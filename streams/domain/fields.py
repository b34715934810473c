"""Field types of the data contract: currency codes and the Avro decimal families.

Decoded Avro dicts validate straight into the domain models, and ``model_dump()``
encodes straight back, so each Decimal type enforces what its Avro
``bytes/decimal`` can carry: at most ``scale`` decimal places (trailing zeros
beyond it are dropped so the encoder accepts the value). Floats are refused:
money is never binary floating point.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from streams.domain.money import MONEY_CONTEXT, is_known_currency

__all__ = [
    "FRACTION_SCALE",
    "FXRATE_SCALE",
    "MONEY_SCALE",
    "RATE_SCALE",
    "TAX_RATE_SCALE",
    "CurrencyCode",
    "FractionValue",
    "FxRateValue",
    "MoneyValue",
    "RateValue",
    "SignedMoneyValue",
    "TaxRateValue",
]

MONEY_SCALE: Final = 4
RATE_SCALE: Final = 4
TAX_RATE_SCALE: Final = 8
FXRATE_SCALE: Final = 12
FRACTION_SCALE: Final = 4


def _currency(value: str) -> str:
    if not is_known_currency(value):
        raise PydanticCustomError(
            "unknown_currency", "unknown currency {currency}", {"currency": value}
        )
    return value


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise PydanticCustomError(
            "float_money", "must be a Decimal or a decimal string, not a float"
        )
    return value


class _Scale:
    """After-validator: at most ``places`` decimals, exponent no finer than that."""

    __slots__ = ("places", "quantum")

    def __init__(self, places: int) -> None:
        self.places = places
        self.quantum = Decimal(1).scaleb(-places)

    def __call__(self, value: Decimal) -> Decimal:
        exp = value.as_tuple().exponent
        if not isinstance(exp, int) or exp >= -self.places:
            return value
        fitted = value.quantize(self.quantum, context=MONEY_CONTEXT)
        if fitted != value:
            raise PydanticCustomError(
                "decimal_scale",
                "must have at most {places} decimal places",
                {"places": self.places},
            )
        return fitted


CurrencyCode = Annotated[str, AfterValidator(_currency)]
"""An ISO 4217 code with a known minor-unit exponent."""

MoneyValue = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, lt=Decimal(10) ** (20 - MONEY_SCALE)),
    AfterValidator(_Scale(MONEY_SCALE)),
]
"""Avro MONEY (precision 20, scale 4), non-negative."""

SignedMoneyValue = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(gt=-(Decimal(10) ** (20 - MONEY_SCALE)), lt=Decimal(10) ** (20 - MONEY_SCALE)),
    AfterValidator(_Scale(MONEY_SCALE)),
]
"""Avro MONEY (precision 20, scale 4), either sign (the owner checks the sign)."""

RateValue = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, lt=Decimal(10) ** (20 - RATE_SCALE)),
    AfterValidator(_Scale(RATE_SCALE)),
]
"""Avro RATE (precision 20, scale 4): an hourly or cost rate (or a v1 tax rate), non-negative."""

TaxRateValue = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, lt=Decimal(10) ** (12 - TAX_RATE_SCALE)),
    AfterValidator(_Scale(TAX_RATE_SCALE)),
]
"""Avro TAXRATE (precision 12, scale 8): a tax rate as a fraction (0.08875 = 8.875 %)."""

FxRateValue = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(gt=0, lt=Decimal(10) ** (24 - FXRATE_SCALE)),
    AfterValidator(_Scale(FXRATE_SCALE)),
]
"""Avro FXRATE (precision 24, scale 12): units of the quote currency per base unit, > 0."""

FractionValue = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(gt=0, le=1),
    AfterValidator(_Scale(FRACTION_SCALE)),
]
"""Avro FRACTION (precision 5, scale 4): a share in (0, 1]."""
