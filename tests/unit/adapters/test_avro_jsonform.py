"""JSON form <-> Python values: fixtures round-trip, bad input is reported precisely."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streams.adapters.avro import AvroCodec, SchemaCatalog, from_json_form, to_json_form
from streams.adapters.exceptions import JsonFormError
from tests.unit.adapters.avro_support import FixtureCase, is_subset, latest_case


def fixture(topic: str, index: int = 0) -> dict[str, Any]:
    return copy.deepcopy(latest_case(topic, index).record)


def test_every_fixture_round_trips_through_the_python_form(
    catalog: SchemaCatalog, fixture_case: FixtureCase
) -> None:
    schema = catalog.version(fixture_case.topic, fixture_case.version).parsed
    python = from_json_form(schema, fixture_case.record)
    json_form = to_json_form(schema, python)

    assert is_subset(fixture_case.record, json_form)  # plus any defaults filled in
    assert from_json_form(schema, json_form) == python
    assert to_json_form(schema, from_json_form(schema, json_form)) == json_form


def test_python_form_has_decimal_date_aware_datetime_and_bytes(catalog: SchemaCatalog) -> None:
    entry = from_json_form(catalog.latest("pm.time-entries").parsed, fixture("pm.time-entries", 1))
    assert entry["billable_fraction"] == Decimal("0.5")
    assert entry["started_at"] == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    assert entry["approved_at"] is None
    rate = from_json_form(catalog.latest("ref.fx-rates").parsed, fixture("ref.fx-rates"))
    assert rate["rate_date"] == date(2026, 3, 2)
    letter = from_json_form(catalog.latest("ledgerstream.dlq").parsed, fixture("ledgerstream.dlq"))
    assert letter["key"] == b"TE-5009"
    assert letter["headers"][1] == {"key": "x-empty", "value": None}


def test_missing_fields_with_defaults_are_filled(catalog: SchemaCatalog) -> None:
    entity = from_json_form(catalog.latest("ref.entities").parsed, fixture("ref.entities", 2))
    assert entity["rounding_mode"] == "HALF_UP"
    assert entity["account_overrides"] == {}
    assert entity["fx_max_staleness_days"] == 5


def test_timestamps_with_any_offset_become_utc(catalog: SchemaCatalog) -> None:
    record = {**fixture("ref.fx-rates"), "quoted_at": "2026-03-02T16:00:00+01:00"}
    rate = from_json_form(catalog.latest("ref.fx-rates").parsed, record)
    assert rate["quoted_at"] == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert rate["quoted_at"].utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("topic", "path", "value", "message"),
    [
        ("pm.time-entries", "version", "abc", 'version: expected int, got "abc"'),
        ("pm.time-entries", "ended_at", "abc", "ended_at: expected ISO-8601"),
        ("pm.time-entries", "billable", "yes", 'billable: expected boolean, got "yes"'),
        ("pm.customers", "default_rate", "abc", 'default_rate: expected decimal string, got "abc"'),
        ("pm.customers", "default_rate", 150.0, "default_rate: expected decimal string, got 150.0"),
        ("pm.customers", "default_rate", "1.23456", "default_rate: expected decimal of at most 20"),
        ("pm.customers", "default_rate", "1e3", "default_rate: expected decimal string"),
        ("ref.fx-rates", "rate_date", "02/03/2026", "rate_date: expected date string YYYY-MM-DD"),
        ("ref.fx-rates", "rate_date", "2026-02-30", "rate_date: expected date string"),
        ("ref.fx-rates", "quoted_at", "2026-03-02T15:00:00", "quoted_at: expected ISO-8601"),
        ("ref.fx-rates", "quoted_at", "2026-03-02T15:00:00.000001Z", "to the millisecond"),
        ("ref.fx-rates", "rate_type", "FORWARD", "rate_type: expected one of SPOT, CONTRACT"),
        ("pm.projects", "task_rates.T-QA", "x", "task_rates[T-QA]: expected decimal string"),
        ("pm.projects", "task_rates", ["180.00"], "task_rates: expected object"),
        ("acct.ledger-commands", "lines.0.amount", "x", "lines[0].amount: expected decimal"),
        ("acct.ledger-commands", "fx.rate_type", "MAGIC", "fx.rate_type: expected one of"),
        ("ledgerstream.dlq", "key", "not base64!", "key: expected base64 string"),
        ("ledgerstream.dlq", "headers.0.value", 7, "headers[0].value: expected base64 string"),
    ],
)
def test_bad_json_form_names_the_field_and_the_expected_type(
    catalog: SchemaCatalog, topic: str, path: str, value: Any, message: str
) -> None:
    record = fixture(topic)
    *parents, leaf = path.split(".")
    target: Any = record
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(leaf) if leaf.isdigit() else leaf] = value
    with pytest.raises(JsonFormError) as error:
        from_json_form(catalog.latest(topic).parsed, record)
    assert message in str(error.value)
    assert error.value.code == "INVALID_JSON_FORM"
    expected_field = str(error.value).split(":")[0]
    assert error.value.field == expected_field


def test_missing_required_and_unknown_fields_are_reported(catalog: SchemaCatalog) -> None:
    schema = catalog.latest("pm.time-entries").parsed
    record = fixture("pm.time-entries")
    del record["entry_id"]
    with pytest.raises(JsonFormError, match="entry_id: expected a value") as missing:
        from_json_form(schema, record)
    assert missing.value.field == "entry_id"
    with pytest.raises(JsonFormError, match="hours: unknown field") as unknown:
        from_json_form(schema, {**fixture("pm.time-entries"), "hours": "1.5"})
    assert unknown.value.field == "hours"


def test_to_json_form_rejects_naive_datetimes_and_floats(catalog: SchemaCatalog) -> None:
    schema = catalog.latest("pm.time-entries").parsed
    entry = from_json_form(schema, fixture("pm.time-entries"))
    with pytest.raises(JsonFormError, match="started_at: expected timezone-aware datetime"):
        to_json_form(schema, {**entry, "started_at": datetime(2026, 3, 2, 8, 0)})  # noqa: DTZ001
    with pytest.raises(JsonFormError, match=r"rate_override: expected Decimal, got 1\.5"):
        to_json_form(schema, {**entry, "rate_override": 1.5})


def test_to_json_form_writes_utc_millisecond_timestamps(catalog: SchemaCatalog) -> None:
    schema = catalog.latest("pm.time-entries").parsed
    paris = timezone(timedelta(hours=1))
    entry = {
        **from_json_form(schema, fixture("pm.time-entries")),
        "started_at": datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=paris),
    }
    assert to_json_form(schema, entry)["started_at"] == "2026-03-02T08:00:00.250+00:00"


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(
        min_value=Decimal("-9999999999999999.9999"),
        max_value=Decimal("9999999999999999.9999"),
        places=4,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_any_money_amount_survives_json_form_and_the_wire(
    catalog: SchemaCatalog, amount: Decimal
) -> None:
    schema = catalog.latest("pm.employees").parsed
    json_form = {**fixture("pm.employees"), "cost_rate": format(amount, "f")}
    python = from_json_form(schema, json_form)
    decoded = AvroCodec(catalog).decode(
        "pm.employees", AvroCodec(catalog).encode("pm.employees", python)
    )
    assert decoded.record["cost_rate"] == amount
    assert from_json_form(schema, to_json_form(schema, decoded.record)) == python
