"""parse_event: a bad record becomes an InvalidEventError naming the field and why."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.events import TimeEntryRecorded, TimeEntryStatus, parse_event
from streams.domain.exceptions import InvalidEventError
from tests.unit.domain.builders import entry_record

D = Decimal


def test_valid_record_becomes_an_immutable_event() -> None:
    entry = parse_event(TimeEntryRecorded, entry_record(billable_fraction=D("0.2500")))
    assert entry.status is TimeEntryStatus.APPROVED
    assert entry.billable_fraction == D("0.25")
    with pytest.raises(ValueError, match="frozen"):
        entry.duration_minutes = 1  # type: ignore[misc]


def test_approved_needs_no_approver() -> None:
    entry = parse_event(TimeEntryRecorded, entry_record(approved_by=None, approved_at=None))
    assert entry.status is TimeEntryStatus.APPROVED


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"duration_minutes": -30}, "ended_at", "ended_at: must not be before started_at"),
        ({"version": 0}, "version", "version: must be >= 1 (got 0)"),
        ({"billable_fraction": D("0")}, "billable_fraction", "billable_fraction: must be > 0"),
        ({"billable_fraction": D("1.5")}, "billable_fraction", "billable_fraction: must be <= 1"),
        ({"rate_override": D("-1")}, "rate_override", "rate_override: must be >= 0"),
        ({"rate_override": 150.0}, "rate_override", "not a float"),
        ({"status": "DRAFT"}, "status", "status: "),
        ({"started_at": datetime(2026, 3, 31, 9)}, "started_at", "timezone-aware"),  # noqa: DTZ001
        ({"entry_id": None}, "entry_id", "entry_id: "),
    ],
)
def test_invalid_records_name_the_first_offending_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_event(TimeEntryRecorded, entry_record(**overrides))
    assert info.value.field == field
    assert message in str(info.value)
    assert info.value.code == "INVALID_EVENT"


def test_missing_field_is_reported_as_required() -> None:
    record = entry_record()
    del record["recorded_at"]
    with pytest.raises(InvalidEventError) as info:
        parse_event(TimeEntryRecorded, record)
    assert (info.value.field, str(info.value)) == ("recorded_at", "recorded_at: is required")


def test_several_errors_report_the_first_and_count_the_rest() -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_event(TimeEntryRecorded, entry_record(version=0, duration_minutes=-1))
    assert info.value.field == "version"
    assert str(info.value).endswith("(+1 more)")
