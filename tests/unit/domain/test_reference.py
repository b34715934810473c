"""Reference models validate the contract; the book finds records and FX rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.events import parse_event
from streams.domain.exceptions import (
    InvalidEventError,
    MissingFxRateError,
    MissingReferenceError,
    UnknownCurrencyError,
)
from streams.domain.reference import (
    Customer,
    Employee,
    FxRate,
    LegalEntity,
    Project,
    ReferenceBook,
    fx_key,
)
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    standard_book,
)

D = Decimal


def test_entity_defaults_follow_the_contract() -> None:
    e = entity()
    assert (e.rounding_mode, e.account_overrides, e.fx_max_staleness_days) == (
        "HALF_UP",
        {},
        5,
    )
    assert str(e.zone) == "America/New_York"


@pytest.mark.parametrize(
    ("model", "record", "field", "error"),
    [
        (LegalEntity, entity().model_dump() | {"timezone": "Mars/Base"}, "timezone", None),
        (
            LegalEntity,
            entity().model_dump() | {"base_currency": "usd"},
            "base_currency",
            UnknownCurrencyError,
        ),
        (LegalEntity, entity().model_dump() | {"fx_max_staleness_days": -1}, None, None),
        (Customer, customer().model_dump() | {"default_rate": D("-1")}, "default_rate", None),
        (Project, project().model_dump() | {"rate": D("-0.01")}, "rate", None),
        (
            Project,
            project().model_dump() | {"task_rates": {"T-1": D("-5")}},
            "task_rates.T-1",
            None,
        ),
        (Project, project().model_dump() | {"rate": D("1.00001")}, "rate", None),
        (Project, project().model_dump() | {"contract_fx_rate": D("0")}, None, None),
        (Project, project().model_dump() | {"kind": "CLIENT_HOURLY"}, "kind", None),
        (Employee, employee().model_dump() | {"cost_rate": 80.5}, "cost_rate", None),
        (Employee, employee().model_dump() | {"cost_currency": "ZZZ"}, None, UnknownCurrencyError),
    ],
)
def test_reference_records_are_validated(
    model: type[Any],
    record: dict[str, Any],
    field: str | None,
    error: type[InvalidEventError] | None,
) -> None:
    with pytest.raises(error or InvalidEventError) as info:
        parse_event(model, record)
    if field is not None:
        assert info.value.field == field


def test_rates_keep_their_value_but_fit_the_avro_scale() -> None:
    p = project(rate=D("150.000000"), contract_fx_rate=D("1.10000000000000"))
    assert str(p.rate) == "150.0000"
    assert str(p.contract_fx_rate) == "1.100000000000"


def test_book_returns_records_and_names_the_missing_ones() -> None:
    book = standard_book()
    assert book.project("P-100").rate == D("150.0000")
    assert book.entity("US").base_currency == "USD"
    assert book.customer("C-1").name == "Acme"
    assert book.employee("alice").cost_rate == D("80")
    for lookup, kind in (
        (book.entity, "entity"),
        (book.customer, "customer"),
        (book.project, "project"),
        (book.employee, "employee"),
    ):
        with pytest.raises(MissingReferenceError) as info:
            lookup("nope")
        assert (info.value.kind, info.value.key) == (kind, "nope")
    assert book.sizes() == {
        "entity": 1,
        "customer": 1,
        "project": 1,
        "employee": 1,
        "fx_rate": 0,
    }


def test_tombstone_deletes_and_update_replaces() -> None:
    book = standard_book()
    book.put("P-100", project(rate=D("175")))
    assert book.project("P-100").rate == D("175")
    book.delete("project", "P-100")
    book.delete("project", "P-100")  # a second tombstone is harmless
    with pytest.raises(MissingReferenceError):
        book.project("P-100")


def test_put_refuses_a_key_that_does_not_match_the_record() -> None:
    book = ReferenceBook()
    with pytest.raises(InvalidEventError) as info:
        book.put("P-999", project())
    assert info.value.field == "key"


def test_fx_key_format() -> None:
    assert fx_key(spot("EUR", "USD", "1.08", date(2026, 3, 30))) == "EUR/USD/2026-03-30/SPOT"


def test_fx_rate_is_the_newest_spot_within_the_staleness_window() -> None:
    book = book_of(
        spot("EUR", "USD", "1.01", date(2026, 3, 20)),
        spot("EUR", "USD", "1.02", date(2026, 3, 26)),
        spot("EUR", "USD", "1.03", date(2026, 3, 30)),
        spot("EUR", "USD", "1.04", date(2026, 4, 2)),  # after the business date
    )
    assert book.fx_rate("EUR", "USD", date(2026, 3, 31), 5).rate == D("1.03")
    assert book.fx_rate("EUR", "USD", date(2026, 3, 29), 5).rate == D("1.02")
    # 2026-03-31 minus 5 days is 2026-03-26: the boundary date still counts
    assert book.fx_rate("EUR", "USD", date(2026, 3, 31), 5).rate_date == date(2026, 3, 30)
    assert book.fx_rate("EUR", "USD", date(2026, 3, 26), 0).rate == D("1.02")
    with pytest.raises(MissingFxRateError) as info:
        book.fx_rate("EUR", "USD", date(2026, 3, 25), 4)  # window 03-21..03-25: empty
    assert info.value.earliest == date(2026, 3, 21)
    with pytest.raises(MissingFxRateError):
        book.fx_rate("EUR", "USD", date(2026, 3, 19), 30)  # before the first rate


def test_fx_index_follows_updates_and_deletes() -> None:
    book = book_of(
        spot("EUR", "USD", "1.02", date(2026, 3, 26)),
        spot("EUR", "USD", "1.03", date(2026, 3, 30)),
    )
    book.put("EUR/USD/2026-03-30/SPOT", spot("EUR", "USD", "1.0333", date(2026, 3, 30)))
    assert book.fx_rate("EUR", "USD", date(2026, 3, 31), 5).rate == D("1.0333")
    book.delete("fx_rate", "EUR/USD/2026-03-30/SPOT")
    assert book.fx_rate("EUR", "USD", date(2026, 3, 31), 5).rate == D("1.02")
    book.delete("fx_rate", "EUR/USD/2026-03-26/SPOT")
    with pytest.raises(MissingFxRateError):
        book.fx_rate("EUR", "USD", date(2026, 3, 31), 5)
    assert book.sizes()["fx_rate"] == 0


def test_contract_rates_on_the_fx_topic_are_not_spot() -> None:
    contract = spot("EUR", "USD", "1.2", date(2026, 3, 30), rate_type="CONTRACT", contract_id="K")
    book = book_of(contract)
    assert book.sizes()["fx_rate"] == 1
    with pytest.raises(MissingFxRateError):
        book.fx_rate("EUR", "USD", date(2026, 3, 31), 5)


def test_inverse_pair_is_used_as_its_reciprocal_when_newer() -> None:
    # 1 / 0.8 = 1.25 exactly; 1 / 0.3 = 3.333333333333 (12 places, half-even)
    book = book_of(spot("USD", "EUR", "0.8", date(2026, 3, 30)))
    rate = book.fx_rate("EUR", "USD", date(2026, 3, 31), 5)
    assert (rate.from_currency, rate.to_currency, rate.rate) == ("EUR", "USD", D("1.25"))
    assert rate.source == "inverse:ecb"
    book.put(fx_key(spot("GBP", "EUR", "0.3")), spot("GBP", "EUR", "0.3"))
    assert book.fx_rate("EUR", "GBP", date(2026, 3, 30), 0).rate == D("3.333333333333")
    # a direct rate of the same date wins; an older direct rate loses to a newer inverse
    book.put(fx_key(spot("EUR", "USD", "1.26")), spot("EUR", "USD", "1.26"))
    assert book.fx_rate("EUR", "USD", date(2026, 3, 31), 5).rate == D("1.26")
    newer_inverse = spot("USD", "EUR", "0.5", date(2026, 3, 31))
    book.put(fx_key(newer_inverse), newer_inverse)
    assert book.fx_rate("EUR", "USD", date(2026, 3, 31), 5).rate == D("2")


def test_fx_rate_requires_an_aware_quote_time() -> None:
    record = spot("EUR", "USD", "1.1").model_dump() | {"quoted_at": datetime(2026, 3, 30)}  # noqa: DTZ001
    with pytest.raises(InvalidEventError) as info:
        parse_event(FxRate, record)
    assert info.value.field == "quoted_at"
