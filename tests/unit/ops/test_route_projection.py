"""Stage 1 reads only the fields it routes by, and routes every record as a full decode would."""

from __future__ import annotations

from pathlib import Path

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.dlq import SourceRecord
from streams.adapters.exceptions import AvroDecodeError, BadMagicByteError
from streams.adapters.metrics import Metrics, Outcome
from streams.agents import reference
from streams.agents.route import decode_event, handle_route, routing_view
from streams.agents.runtime import Runtime
from streams.demo import sample
from streams.demo.month import mixed_month
from streams.domain.exceptions import LedgerstreamError, TransientError
from streams.domain.posting import EVENT_TOPICS
from streams.domain.reference import ReferenceBook
from streams.domain.routing import ledger_key

PARTITIONS = 6


@pytest.fixture(scope="module")
def rt() -> Runtime:
    codec = AvroCodec(SchemaCatalog.from_directory(Path("schemas")))
    runtime = Runtime(codec=codec, book=ReferenceBook({}), metrics=Metrics(), rule_version="r")
    month = mixed_month()
    for r in (*sample.reference_records(), *month.reference):
        value = codec.encode(r.topic, r.value, version=r.schema_version)
        reference.apply_reference(runtime, SourceRecord(r.topic, -1, -1, r.key.encode(), value, ()))
    return runtime


def _records(rt: Runtime) -> list[SourceRecord]:
    month = mixed_month()
    found = []
    for n, r in enumerate((*month.events, *sample.time_entries(40, bad_every=5))):
        if r.topic not in EVENT_TOPICS or r.value is None:
            continue
        value = sample.corrupt(
            rt.codec.encode(r.topic, r.value, version=r.schema_version), r.corruption
        )
        found.append(SourceRecord(r.topic, 0, n, r.key.encode(), value, []))
    return found


def test_every_record_routes_as_a_full_decode_routes_it(rt: Runtime) -> None:
    records = _records(rt)
    assert {r.topic for r in records} == set(EVENT_TOPICS)
    routed = 0
    for record in records:
        try:
            expected = ledger_key(decode_event(rt, record), rt.book).encode()
        except TransientError:
            expected = record.key
        except LedgerstreamError:
            continue  # invalid: stage 2 dead-letters it (or stage 1, if unreadable)
        outcome, (sent,) = handle_route(rt, record, PARTITIONS)
        assert outcome is Outcome.ROUTED
        assert sent.key == expected, record
        assert sent.value == record.value  # forwarded untouched
        routed += 1
    assert routed > 40


def test_an_invalid_but_readable_record_is_routed_for_stage_2_to_dead_letter(
    rt: Runtime,
) -> None:
    entry = next(iter(sample.time_entries(1)))
    value = dict(entry.value or {}) | {"duration_minutes": -30}
    raw = rt.codec.encode("pm.time-entries", value)
    record = SourceRecord("pm.time-entries", 0, 1, b"TE-1", raw, [])
    with pytest.raises(LedgerstreamError):
        decode_event(rt, record)  # what stage 2 does: the dead letter names the field
    assert routing_view(rt, record).project_id == value["project_id"]


@pytest.mark.parametrize(
    ("corruption", "error"), [("bad_magic", BadMagicByteError), ("truncate", AvroDecodeError)]
)
def test_unreadable_bytes_are_refused_in_stage_1(
    rt: Runtime, corruption: str, error: type[Exception]
) -> None:
    entry = next(iter(sample.time_entries(1)))
    raw = sample.corrupt(rt.codec.encode("pm.time-entries", entry.value or {}), corruption)
    record = SourceRecord("pm.time-entries", 0, 1, b"TE-1", raw, [])
    with pytest.raises(error):
        routing_view(rt, record)
