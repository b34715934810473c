"""`period close|reopen` arguments: refused precisely before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.periods import lock_record

AT = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def test_a_close_is_a_control_record_keyed_by_entity_and_period() -> None:
    record = lock_record("US01", "2026-03", closed=True, reason="month end", operator="ana", at=AT)
    assert record.name == "period_lock/US01/2026-03"
    assert (record.enabled, record.changed_by) == (True, "ana")
    reopen = lock_record("US01", "2026-03", closed=False, reason="fix", operator="ana", at=AT)
    assert reopen.enabled is False


@pytest.mark.parametrize(
    ("entity", "period", "reason", "field"),
    [
        ("US01", "2026-3", "x", "--period"),
        ("US01", "2026-13", "x", "--period"),
        ("", "2026-03", "x", "--entity"),
        ("US/01", "2026-03", "x", "--entity"),
        ("US01", "2026-03", "  ", "--reason"),
    ],
)
def test_bad_arguments_are_refused_naming_the_option(
    entity: str, period: str, reason: str, field: str
) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        lock_record(entity, period, closed=True, reason=reason, operator="ana", at=AT)
    assert raised.value.field == field
