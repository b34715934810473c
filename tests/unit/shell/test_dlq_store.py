"""Dead letters at rest: selecting them, and the record a redrive re-publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.adapters.audit import AuditEvent
from streams.adapters.dlq import SourceRecord, build_dead_letter
from streams.adapters.dlq_store import (
    REDRIVE_COUNT_HEADER,
    REDRIVEN_FROM_HEADER,
    DeadLetterFilter,
    StoredDeadLetter,
    collapse_copies,
    count_by_code,
    plan_redrive,
)
from streams.adapters.exceptions import BadMagicByteError
from streams.domain.exceptions import MissingReferenceError
from streams.ops.render import bytes_text

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def stored(
    error: Exception,
    *,
    key: bytes = b"TE-1",
    topic: str = "pm.time-entries",
    headers: list[tuple[str, bytes | None]] | None = None,
    first: datetime = T0,
    last: datetime = T0,
    position: tuple[int, int] = (1, 7),
) -> StoredDeadLetter:
    record = SourceRecord(
        topic, 4, 99, key, b"\x00value", headers or [("traceparent", b"00-abc")], 1
    )
    letter = build_dead_letter(record, error, processor="w@h", now=last, first_failed_at=first)
    return StoredDeadLetter(
        partition=position[0],
        offset=position[1],
        timestamp_ms=int(last.timestamp() * 1000),
        key=key,
        headers=letter.headers,
        envelope=letter.envelope,
    )


MISSING = MissingReferenceError("project", "P-X", field="project_id")
BAD_MAGIC = BadMagicByteError("magic byte is 0x07")


def test_an_empty_filter_selects_every_dead_letter() -> None:
    selection = DeadLetterFilter()
    assert selection.selects_all
    assert selection.matches(stored(MISSING))
    assert selection.matches(stored(BAD_MAGIC, topic="pm.customers"))


def test_a_filter_selects_by_code_source_topic_and_key_all_at_once() -> None:
    selection = DeadLetterFilter(
        codes=frozenset({"MISSING_REFERENCE"}),
        source_topics=frozenset({"pm.time-entries"}),
        keys=frozenset({b"TE-1", b"TE-2"}),
    )
    assert not selection.selects_all
    assert selection.matches(stored(MISSING))
    assert selection.matches(stored(MISSING, key=b"TE-2"))
    assert not selection.matches(stored(BAD_MAGIC))
    assert not selection.matches(stored(MISSING, topic="pm.customers"))
    assert not selection.matches(stored(MISSING, key=b"TE-3"))


def test_a_time_range_selects_dead_letters_whose_failures_meet_it() -> None:
    # failed first at 10:00, last at 12:00
    letter = stored(MISSING, first=T0, last=T0 + timedelta(hours=2))
    hour = timedelta(hours=1)

    def within(since: datetime | None, until: datetime | None) -> bool:
        return DeadLetterFilter(since=since, until=until).matches(letter)

    assert within(T0 + hour, None)  # last failure after since
    assert within(T0 + 2 * hour, None)  # bounds are inclusive
    assert not within(T0 + 2 * hour + timedelta(seconds=1), None)
    assert within(None, T0)  # first failure at until
    assert not within(None, T0 - timedelta(seconds=1))
    assert within(T0 + hour, T0 + hour)  # an instant inside the failures
    assert not within(T0 - 2 * hour, T0 - hour)


def test_a_redrive_republishes_the_original_bytes_with_a_count_and_a_marker() -> None:
    letter = stored(MISSING, headers=[("traceparent", b"00-abc"), ("tenant", None)])
    redrive = plan_redrive(letter)
    assert redrive is not None
    assert (redrive.topic, redrive.partition) == ("pm.time-entries", 4)
    assert (redrive.key, redrive.value) == (b"TE-1", b"\x00value")
    assert redrive.headers == [
        ("traceparent", b"00-abc"),
        ("tenant", None),
        (REDRIVE_COUNT_HEADER, b"1"),
        (REDRIVEN_FROM_HEADER, b"1:7"),
    ]
    assert (redrive.count, redrive.marker) == (1, "1:7")


def test_a_record_redriven_before_counts_up_and_carries_only_the_new_marker() -> None:
    earlier = [
        ("traceparent", b"00-abc"),
        (REDRIVE_COUNT_HEADER, b"2"),
        (REDRIVEN_FROM_HEADER, b"0:3"),
    ]
    letter = stored(MISSING, headers=earlier, position=(2, 40))
    assert letter.redrive_count == 2
    redrive = plan_redrive(letter)
    assert redrive is not None
    assert redrive.headers == [
        ("traceparent", b"00-abc"),
        (REDRIVE_COUNT_HEADER, b"3"),
        (REDRIVEN_FROM_HEADER, b"2:40"),
    ]


def test_an_unreadable_envelope_is_placed_by_its_headers_and_cannot_be_redriven() -> None:
    readable = stored(BAD_MAGIC)
    letter = StoredDeadLetter(
        partition=0,
        offset=5,
        timestamp_ms=int(T0.timestamp() * 1000),
        key=b"TE-9",
        headers=readable.headers,
        envelope=None,
        envelope_error="AVRO_DECODE_FAILED: truncated",
    )
    assert letter.code == "BAD_MAGIC_BYTE"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "pm.time-entries",
        4,
        99,
    )
    assert letter.first_failed_at == T0
    assert DeadLetterFilter(codes=frozenset({"BAD_MAGIC_BYTE"})).matches(letter)
    assert plan_redrive(letter) is None
    bare = StoredDeadLetter(0, 6, None, None, [], None, "AVRO_DECODE_FAILED: x")
    assert bare.code == "UNREADABLE_DEAD_LETTER"
    assert bare.message == "AVRO_DECODE_FAILED: x"


def test_dead_letters_are_counted_by_code_most_frequent_first() -> None:
    letters = [stored(BAD_MAGIC), stored(MISSING), stored(MISSING), stored(MISSING)]
    assert list(count_by_code(letters).items()) == [
        ("MISSING_REFERENCE", 3),
        ("BAD_MAGIC_BYTE", 1),
    ]


def test_an_audit_event_is_one_json_object_with_who_what_when_and_counts() -> None:
    event = AuditEvent(
        action_id="0f6c",
        action="dlq.redrive",
        operator="ada",
        host="ops-1",
        arguments={"code": ["MISSING_REFERENCE"], "dry_run": False},
        counts={"selected": 3, "redriven": 2},
        outcome="applied",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=4),
    )
    body: dict[str, Any] = json.loads(event.to_json())
    assert body == {
        "format": 1,
        "action_id": "0f6c",
        "action": "dlq.redrive",
        "operator": "ada",
        "host": "ops-1",
        "arguments": {"code": ["MISSING_REFERENCE"], "dry_run": False},
        "counts": {"selected": 3, "redriven": 2},
        "outcome": "applied",
        "error": None,
        "details": {},
        "started_at": "2026-11-26T10:00:00+00:00",
        "finished_at": "2026-11-26T10:00:04+00:00",
    }


def test_keys_print_as_text_when_printable_else_as_hex() -> None:
    assert bytes_text(b"TE-1") == "TE-1"
    assert bytes_text(b"\x00\xff") == "0x00ff"
    assert bytes_text(b"a\nb") == "0x610a62"
    assert bytes_text(None) == "(none)"


def test_copies_of_one_failed_record_collapse_into_one_dead_letter_and_redrives_do_not() -> None:
    """Issue 16.11: a replay dead-letters stage 1's poison again, at the same source position."""
    first = stored(BAD_MAGIC, position=(0, 3))
    replayed = stored(BAD_MAGIC, position=(2, 40), last=T0 + timedelta(hours=1))
    other = stored(BAD_MAGIC, key=b"TE-2", topic="pm.expenses", position=(1, 5))
    redriven = stored(
        BAD_MAGIC, headers=[(REDRIVE_COUNT_HEADER, b"1")], position=(1, 9)
    )  # the same record re-driven and failed again: a new failure
    kept = collapse_copies([replayed, other, first, redriven])
    assert [(k.position, k.copies) for k in kept] == [("0:3", 2), ("1:5", 1), ("1:9", 1)]
    assert count_by_code(kept) == {"BAD_MAGIC_BYTE": 3}
