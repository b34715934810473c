"""Old versions become the canonical model: same business content, same event, same commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.avro.translate import TRANSLATORS, TranslatorGapError, Translators
from streams.domain.events import ExpenseCategory, ExpenseRecorded, TimeEntryRecorded, parse_event
from streams.domain.exceptions import InvalidEventError
from streams.domain.rules.outcome import Posted
from streams.domain.rules.time_entry import post_time_entry
from streams.producer import EVENT_TOPICS
from tests.unit.domain.builders import RULE_VERSION, source_for, standard_book

TIME = "pm.time-entries"
EXPENSES = "pm.expenses"
STARTED = datetime(2026, 3, 31, 14, 0, tzinfo=UTC)


def v1_entry(**overrides: Any) -> dict[str, Any]:
    record = {
        "entry_id": "TE-1",
        "version": 1,
        "employee_id": "alice",
        "project_id": "P-100",
        "task_id": None,
        "started_at": STARTED,
        "duration_minutes": 75,
        "billable": True,
        "billable_fraction": None,
        "rate_override": None,
        "status": "APPROVED",
        "approved_by": "bob",
        "approved_at": datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
        "description": "homepage",
        "recorded_at": datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
    }
    return record | overrides


def v2_entry(**overrides: Any) -> dict[str, Any]:
    record = v1_entry()
    del record["duration_minutes"]
    return record | {"ended_at": STARTED + timedelta(minutes=75), "external_id": None} | overrides


def test_v1_and_v2_of_the_same_entry_decode_to_the_same_event_and_post_the_same_commands(
    catalog: SchemaCatalog,
) -> None:
    codec = AvroCodec(catalog)
    old = codec.encode(TIME, v1_entry())  # shaped like v1: written with v1, as an old producer
    new = codec.encode(TIME, v2_entry())

    decoded_old, decoded_new = codec.decode(TIME, old), codec.decode(TIME, new)

    assert (decoded_old.version, decoded_new.version) == (1, 2)
    assert decoded_old.schema_id == catalog.version(TIME, 1).schema_id
    assert decoded_old.record == decoded_new.record
    entries = [parse_event(TimeEntryRecorded, d.record) for d in (decoded_old, decoded_new)]
    assert entries[0] == entries[1]
    assert entries[0].duration_minutes == 75
    book = standard_book()
    outcomes = [
        post_time_entry(e, book, source=source_for(e), rule_version=RULE_VERSION) for e in entries
    ]
    assert isinstance(outcomes[0], Posted)
    assert outcomes[0] == outcomes[1]


def test_a_negative_v1_duration_is_rejected_naming_the_field_the_producer_sent(
    catalog: SchemaCatalog,
) -> None:
    codec = AvroCodec(catalog)
    data = codec.encode(TIME, v1_entry(duration_minutes=-30))
    with pytest.raises(InvalidEventError) as error:
        codec.decode(TIME, data)
    assert (error.value.field, str(error.value)) == (
        "duration_minutes",
        "duration_minutes: must be >= 0 (got -30)",
    )
    assert error.value.schema_id == catalog.version(TIME, 1).schema_id
    assert error.value.code == "INVALID_EVENT"


def test_a_v2_entry_without_ended_at_is_rejected_by_the_canonical_model(
    catalog: SchemaCatalog,
) -> None:
    decoded = AvroCodec(catalog).decode(
        TIME, AvroCodec(catalog).encode(TIME, v2_entry(ended_at=None))
    )
    with pytest.raises(InvalidEventError) as error:
        parse_event(TimeEntryRecorded, decoded.record)
    assert str(error.value) == "ended_at: is required (null is not allowed)"


@pytest.mark.parametrize(
    ("ended", "minutes"),
    [
        (timedelta(minutes=95, seconds=29, milliseconds=999), 95),
        (timedelta(minutes=95, seconds=30), 96),
        (timedelta(0), 0),
    ],
)
def test_duration_is_whole_minutes_a_part_minute_of_30_s_counting(
    ended: timedelta, minutes: int
) -> None:
    entry = parse_event(TimeEntryRecorded, v2_entry(ended_at=STARTED + ended))
    assert entry.duration_minutes == minutes


def expense_v1(**overrides: Any) -> dict[str, Any]:
    record = {
        "expense_id": "EX-1",
        "version": 1,
        "employee_id": "alice",
        "project_id": None,
        "incurred_on": date(2026, 3, 3),
        "amount": Decimal("412.8000"),
        "currency": "EUR",
        "category": "LODGING",
        "billable": False,
        "markup_rate": None,
        "receipt_ref": None,
        "status": "SUBMITTED",
        "approved_by": None,
        "approved_at": None,
        "description": "Hotel",
        "recorded_at": STARTED,
    }
    return record | overrides


def test_an_expense_v1_becomes_the_canonical_expense(catalog: SchemaCatalog) -> None:
    codec = AvroCodec(catalog)
    decoded = codec.decode(EXPENSES, codec.encode(EXPENSES, expense_v1()))

    expense = parse_event(ExpenseRecorded, decoded.record)

    assert decoded.version == 1
    assert expense.business_purpose == "Hotel"
    assert expense.merchant == ""
    assert expense.markup_rate == Decimal(0)  # v1 null meant "no markup"
    assert expense.category is ExpenseCategory.LODGING


def test_an_expense_v2_without_markup_is_rejected(catalog: SchemaCatalog) -> None:
    record = expense_v1()
    record["business_purpose"] = record.pop("description")
    codec = AvroCodec(catalog)
    decoded = codec.decode(EXPENSES, codec.encode(EXPENSES, record | {"merchant": "Inn"}))
    assert decoded.version == 2
    with pytest.raises(InvalidEventError, match=r"^markup_rate: is required \(null"):
        parse_event(ExpenseRecorded, decoded.record)


def test_encode_picks_the_version_a_record_is_shaped_like_or_the_one_forced(
    catalog: SchemaCatalog,
) -> None:
    codec = AvroCodec(catalog)
    ids = {v: catalog.version(TIME, v).schema_id for v in (1, 2)}

    def written_id(data: bytes) -> int:
        return int.from_bytes(data[1:5], "big")

    assert written_id(codec.encode(TIME, v1_entry())) == ids[1]
    assert written_id(codec.encode(TIME, v2_entry())) == ids[2]
    minimal = {k: v for k, v in v2_entry().items() if k not in ("external_id", "description")}
    assert written_id(codec.encode(TIME, minimal)) == ids[2]
    assert written_id(codec.encode(TIME, v2_entry(), version=2)) == ids[2]


def test_every_topic_with_translators_has_one_for_every_step(catalog: SchemaCatalog) -> None:
    for topic in TRANSLATORS.topics():
        latest = catalog.latest(topic).version
        for version in range(1, latest):
            assert TRANSLATORS.chain(topic, version, latest) is not None


def test_a_gap_in_the_translators_is_refused() -> None:
    partial = Translators({("pm.x", 1): lambda r: r})
    assert partial.chain("pm.y", 1, 3) is None  # no translators: Avro resolution
    with pytest.raises(TranslatorGapError, match="no translator from v2 to v3"):
        partial.chain("pm.x", 1, 3)


@pytest.mark.parametrize("topic", sorted(EVENT_TOPICS))
def test_canonical_models_have_exactly_the_newest_schema_fields(
    catalog: SchemaCatalog, topic: str
) -> None:
    fields = {f["name"] for f in catalog.latest(topic).raw["fields"]}
    assert set(EVENT_TOPICS[topic].model.model_fields) == fields
