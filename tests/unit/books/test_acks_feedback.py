"""The books' acks turned into sync feedback, encoded with the real schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.domain.acks import AckStatus, LedgerAck, feedback_of
from streams.domain.feedback import FeedbackStatus

REPO = Path(__file__).resolve().parents[3]
CODEC = AvroCodec(SchemaCatalog.from_directory(REPO / "schemas"))
EVENT_TIME = datetime(2026, 9, 30, 17, tzinfo=UTC)


def _ack(status: AckStatus, **fields: object) -> LedgerAck:
    return LedgerAck.model_validate(
        {
            "command_id": "c-1",
            "status": status,
            "action": "POST",
            "entity_id": "US10",
            "period": "2026-09",
            "source_type": "time_entry",
            "source_id": "TE-9",
            "source_version": 2,
            "source_event_time": EVENT_TIME,
            "command_partition": 1,
            "command_offset": 5,
            "decided_at": EVENT_TIME,
        }
        | fields
    )


def test_a_booked_command_tells_the_project_system_booked() -> None:
    feedback = feedback_of(_ack(AckStatus.BOOKED))
    assert feedback is not None
    assert (feedback.source_type, feedback.source_id, feedback.version) == ("time_entry", "TE-9", 2)
    assert (feedback.status, feedback.command_ids, feedback.reason) == (
        FeedbackStatus.BOOKED,
        ("c-1",),
        "",
    )
    assert feedback.event_time == EVENT_TIME


@pytest.mark.parametrize(
    "status", [AckStatus.REJECTED, AckStatus.REJECTED_EXISTS_WITH_DIFFERENT_BODY]
)
def test_a_rejection_tells_rejected_with_the_books_reason(status: AckStatus) -> None:
    ack = _ack(status, reason_code="CLOSED_PERIOD", reason="period 2026-09 of US10 is closed")
    feedback = feedback_of(ack)
    assert feedback is not None
    assert feedback.status is FeedbackStatus.REJECTED
    assert feedback.reason == f"{status.value} CLOSED_PERIOD: period 2026-09 of US10 is closed"


def test_exists_tells_nothing_new() -> None:
    assert feedback_of(_ack(AckStatus.EXISTS)) is None


def test_acks_and_their_feedback_round_trip_through_the_schemas() -> None:
    ack = _ack(AckStatus.BOOKED, action="REVERSE", reverses="c-0")
    decoded = CODEC.decode("acct.ledger-acks", CODEC.encode("acct.ledger-acks", ack.model_dump()))
    assert LedgerAck.model_validate(decoded.record) == ack
    feedback = feedback_of(ack)
    assert feedback is not None
    assert feedback.related_id == "c-0"
    raw = CODEC.encode("pm.sync-feedback", feedback.model_dump())
    assert CODEC.decode("pm.sync-feedback", raw).record["status"] == "BOOKED"
