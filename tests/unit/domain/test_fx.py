"""resolve_rate: identity, then the project's contract, then spot within staleness."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from streams.domain.commands import RateType
from streams.domain.exceptions import MissingFxRateError
from streams.domain.fx import resolve_rate
from tests.unit.domain.builders import QUOTED_AT, book_of, entity, project, spot

D = Decimal
ON = date(2026, 3, 31)
CONTRACT_PROJECT = project(billing_currency="EUR", contract_fx_rate=D("1.1"), contract_id="K-7")


def test_same_currency_is_identity() -> None:
    fx = resolve_rate(book_of(), from_ccy="USD", to_ccy="USD", on=ON, entity=entity())
    assert (fx.rate, fx.rate_type, fx.rate_date, fx.source) == (
        D(1),
        RateType.IDENTITY,
        ON,
        "identity",
    )


def test_contract_rate_beats_spot() -> None:
    book = book_of(spot("EUR", "USD", "1.08"))
    fx = resolve_rate(
        book, from_ccy="EUR", to_ccy="USD", on=ON, entity=entity(), project=CONTRACT_PROJECT
    )
    assert (fx.rate, fx.rate_type, fx.rate_date, fx.contract_id) == (
        D("1.1"),
        RateType.CONTRACT,
        ON,
        "K-7",
    )
    assert fx.source == "project-contract"


def test_contract_rate_applies_only_to_its_billing_currency_and_entity() -> None:
    book = book_of(spot("GBP", "USD", "1.27"), spot("EUR", "USD", "1.08"))
    other_ccy = resolve_rate(
        book, from_ccy="GBP", to_ccy="USD", on=ON, entity=entity(), project=CONTRACT_PROJECT
    )
    assert other_ccy.rate_type is RateType.SPOT
    other_entity = resolve_rate(
        book,
        from_ccy="EUR",
        to_ccy="USD",
        on=ON,
        entity=entity(entity_id="US2"),
        project=CONTRACT_PROJECT,
    )
    assert other_entity.rate == D("1.08")


def test_spot_carries_its_provenance() -> None:
    fx = resolve_rate(
        book_of(spot("EUR", "USD", "1.08", date(2026, 3, 27))),
        from_ccy="EUR",
        to_ccy="USD",
        on=ON,
        entity=entity(),
    )
    assert (fx.rate, fx.rate_type, fx.rate_date, fx.source, fx.quoted_at) == (
        D("1.08"),
        RateType.SPOT,
        date(2026, 3, 27),
        "ecb",
        QUOTED_AT,
    )


def test_spot_older_than_the_entity_allows_is_missing() -> None:
    book = book_of(spot("EUR", "USD", "1.08", date(2026, 3, 27)))
    with pytest.raises(MissingFxRateError) as info:
        resolve_rate(
            book, from_ccy="EUR", to_ccy="USD", on=ON, entity=entity(fx_max_staleness_days=3)
        )
    assert info.value.key == "EUR/USD"
