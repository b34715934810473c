"""Every operator action leaves one audit record, however it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from streams.adapters.audit import AuditEvent
from streams.ops.action import Operator, audited
from streams.ops.exceptions import GroupActiveError

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class FakeLog:
    def __init__(self, *, missing: bool = False) -> None:
        self.missing = missing
        self.events: list[AuditEvent] = []

    def check(self) -> None:
        if self.missing:
            raise RuntimeError("audit topic missing")

    def write(self, event: AuditEvent) -> None:
        self.events.append(event)


def clock() -> object:
    ticks = count()
    return lambda: T0 + timedelta(seconds=next(ticks))


OPERATOR = Operator("ada", host="ops-1")


def test_a_completed_action_records_its_counts_outcome_and_times() -> None:
    log = FakeLog()
    with audited(log, OPERATOR, "replay", {"group": "g"}, clock=clock()) as action:  # type: ignore[arg-type]
        action.counts["partitions_moved"] = 4
        action.details["applied_through"] = "admin"
    (event,) = log.events
    assert (event.action, event.operator, event.host, event.outcome) == (
        "replay",
        "ada",
        "ops-1",
        "applied",
    )
    assert event.action_id == action.action_id
    assert dict(event.counts) == {"partitions_moved": 4}
    assert dict(event.arguments) == {"group": "g"}
    assert (event.started_at, event.finished_at) == (T0, T0 + timedelta(seconds=1))
    assert event.error is None


def test_a_refused_action_is_recorded_as_refused_and_the_refusal_raised() -> None:
    log = FakeLog()
    with (
        pytest.raises(GroupActiveError),
        audited(log, OPERATOR, "replay", {}, clock=clock()),  # type: ignore[arg-type]
    ):
        raise GroupActiveError("a worker is running")
    assert [(e.outcome, e.error) for e in log.events] == [("refused", "a worker is running")]


def test_a_failed_action_is_recorded_as_failed_with_its_error() -> None:
    log = FakeLog()

    def redrive_that_fails() -> None:
        with audited(log, OPERATOR, "dlq.redrive", {}, clock=clock()) as action:  # type: ignore[arg-type]
            action.counts["redriven"] = 2
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        redrive_that_fails()
    (event,) = log.events
    assert (event.outcome, event.error, dict(event.counts)) == (
        "failed",
        "ValueError: boom",
        {"redriven": 2},
    )


def test_nothing_runs_when_the_audit_topic_cannot_be_written() -> None:
    ran = []
    with (
        pytest.raises(RuntimeError, match="audit topic missing"),
        audited(FakeLog(missing=True), OPERATOR, "replay", {}),  # type: ignore[arg-type]
    ):
        ran.append(True)
    assert ran == []
