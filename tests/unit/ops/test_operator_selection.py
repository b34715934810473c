"""What operators type: instants, time ranges, TOPIC:PARTITION:OFFSET and DLQ positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.selection import (
    DlqPosition,
    OffsetTarget,
    parse_dlq_position,
    parse_instant,
    parse_offset_targets,
    parse_time_range,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-10T14:00:00Z", datetime(2026, 11, 10, 14, 0, tzinfo=UTC)),
        ("2026-11-10T09:00:00-05:00", datetime(2026, 11, 10, 14, 0, tzinfo=UTC)),
        ("2026-11-10T15:30+01:00", datetime(2026, 11, 10, 14, 30, tzinfo=UTC)),
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 36H ", NOW - timedelta(hours=36)),
    ],
)
def test_an_instant_is_iso_with_a_zone_or_an_age_before_now(text: str, expected: datetime) -> None:
    assert parse_instant(text, now=NOW, option="--since") == expected


def test_a_zone_given_as_an_offset_is_kept() -> None:
    parsed = parse_instant("2026-11-10T09:00:00-05:00", now=NOW, option="--since")
    assert parsed.utcoffset() == timedelta(hours=-5)
    assert parsed.tzinfo == timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-11-10T14:00:00", "has no zone"),
        ("2026-11-10", "has no zone"),
        ("yesterday", "not an ISO 8601 instant"),
        ("5y", "not an ISO 8601 instant"),
        ("-2h", "not an ISO 8601 instant"),
        ("", "not an ISO 8601 instant"),
    ],
)
def test_an_instant_without_a_zone_or_unreadable_is_refused_naming_the_option(
    text: str, reason: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=reason) as caught:
        parse_instant(text, now=NOW, option="--to-datetime")
    assert caught.value.field == "--to-datetime"
    assert caught.value.code == "INVALID_ARGUMENT"


def test_a_time_range_may_be_open_at_either_end() -> None:
    assert parse_time_range(None, None, now=NOW).since is None
    window = parse_time_range("2h", None, now=NOW)
    assert (window.since, window.until) == (NOW - timedelta(hours=2), None)
    window = parse_time_range(None, "2026-11-26T11:00:00Z", now=NOW)
    assert (window.since, window.until) == (None, datetime(2026, 11, 26, 11, tzinfo=UTC))


def test_a_time_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="before --since") as caught:
        parse_time_range("1h", "2h", now=NOW)
    assert caught.value.field == "--until"
    assert parse_time_range("2h", "1h", now=NOW).until == NOW - timedelta(hours=1)
    same = parse_time_range("2026-11-26T11:00:00Z", "2026-11-26T11:00:00Z", now=NOW)
    assert same.since == same.until


def test_offset_targets_name_topic_partition_and_offset() -> None:
    assert parse_offset_targets(["pm.time-entries:2:1500", "ref.fx-rates:0:0"]) == [
        OffsetTarget("pm.time-entries", 2, 1500),
        OffsetTarget("ref.fx-rates", 0, 0),
    ]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("pm.time-entries:2", "expected TOPIC:PARTITION:OFFSET"),
        ("pm.time-entries", "expected TOPIC:PARTITION:OFFSET"),
        ("pm.time-entries:2:3:4", "expected TOPIC:PARTITION:OFFSET"),
        (":2:3", "expected TOPIC:PARTITION:OFFSET"),
        ("pm.time-entries:two:3", "partition 'two' is not a whole number"),
        ("pm.time-entries:-1:3", "partition '-1' is not a whole number"),
        ("pm.time-entries:1:-3", "offset '-3' is not a whole number"),
        ("pm.time-entries:1:", "offset '' is not a whole number"),
        ("pm.time-entries:1:1e3", "offset '1e3' is not a whole number"),
    ],
)
def test_a_malformed_offset_target_is_refused_before_anything_is_read(
    spec: str, reason: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=reason) as caught:
        parse_offset_targets([spec])
    assert caught.value.field == "--to-offset"
    assert spec in str(caught.value)


def test_the_same_partition_named_twice_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match=r"pm\.projects:1 is named twice"):
        parse_offset_targets(["pm.projects:1:5", "pm.projects:2:0", "pm.projects:1:7"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2:41", DlqPosition(2, 41)),
        ("0:0", DlqPosition(0, 0)),
        ("41", DlqPosition(None, 41)),
        (" 7 ", DlqPosition(None, 7)),
    ],
)
def test_a_dead_letter_is_named_by_partition_and_offset_or_a_bare_offset(
    text: str, expected: DlqPosition
) -> None:
    assert parse_dlq_position(text) == expected


@pytest.mark.parametrize("text", ["a:1", ":5", "1:2:3", "1:", "-1", "x"])
def test_a_malformed_dead_letter_position_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match="PARTITION:OFFSET"):
        parse_dlq_position(text)
