"""Planning a replay: which partitions move where, and which moves are refused."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.replay import PlannedMove, ReplayMode, ReplayRequest, plan_replay, render_plan
from streams.ops.selection import OffsetTarget

Partition = tuple[str, int]


class FakeOffsets:
    """A group's offsets as the admin API would report them."""

    def __init__(
        self,
        layout: dict[str, int],
        committed: dict[Partition, int],
        at_time: dict[Partition, int | None] | None = None,
    ) -> None:
        self.layout = layout
        self._committed = committed
        self._at_time = at_time or {}
        self.asked_at: int | None = None

    def partitions(self, topics: Sequence[str]) -> list[Partition]:
        return [(t, p) for t in topics for p in range(self.layout[t])]

    def committed(self, partitions: Sequence[Partition]) -> dict[Partition, int | None]:
        return {tp: self._committed.get(tp) for tp in partitions}

    def earliest(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        return dict.fromkeys(partitions, 2)  # the first two records have expired

    def offsets_at(self, partitions: Sequence[Partition], at_ms: int) -> dict[Partition, Any]:
        self.asked_at = at_ms
        return {tp: self._at_time.get(tp) for tp in partitions}


def physical(name: str) -> str:
    return f"p.{name}"


OFFSETS = FakeOffsets(
    {"p.pm.time-entries": 3, "p.pm.projects": 1},
    {("p.pm.time-entries", 0): 10, ("p.pm.time-entries", 1): 2, ("p.pm.projects", 0): 7},
    {("p.pm.time-entries", 0): 8, ("p.pm.time-entries", 1): None, ("p.pm.projects", 0): 7},
)


def plan(request: ReplayRequest) -> list[PlannedMove]:
    return plan_replay(OFFSETS, request, physical)  # type: ignore[arg-type]


def test_to_earliest_moves_every_partition_of_the_topics_to_its_log_start() -> None:
    moves = plan(ReplayRequest("g", ReplayMode.EARLIEST, topics=("pm.time-entries",)))
    assert [(m.partition, m.committed, m.new, m.change) for m in moves] == [
        (0, 10, 2, -8),  # re-reads 8 records
        (1, 2, 2, 0),  # already there: does not move
        (2, None, 2, 0),  # nothing committed: would start at the earliest anyway
    ]
    assert [m.moves for m in moves] == [True, False, True]


def test_to_datetime_leaves_partitions_without_a_record_that_recent_as_they_are() -> None:
    at = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    moves = plan(
        ReplayRequest("g", ReplayMode.DATETIME, topics=("pm.time-entries", "pm.projects"), at=at)
    )
    assert OFFSETS.asked_at == int(at.timestamp() * 1000)
    assert [(m.topic, m.partition, m.new, m.moves) for m in moves] == [
        ("p.pm.time-entries", 0, 8, True),
        ("p.pm.time-entries", 1, None, False),
        ("p.pm.time-entries", 2, None, False),
        ("p.pm.projects", 0, 7, False),
    ]


def test_to_offset_moves_exactly_the_named_partitions_and_marks_forward_moves() -> None:
    targets = (OffsetTarget("pm.time-entries", 1, 5), OffsetTarget("pm.projects", 0, 3))
    moves = plan(ReplayRequest("g", ReplayMode.OFFSET, targets=targets))
    assert [(m.topic, m.partition, m.new, m.change) for m in moves] == [
        ("p.pm.time-entries", 1, 5, 3),  # forward: would skip 3 unread records
        ("p.pm.projects", 0, 3, -4),
    ]
    out = io.StringIO()
    render_plan(moves, lambda name: name.removeprefix("p."), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TOPIC", "PARTITION", "OLD", "NEW", "CHANGE"]
    assert lines[1].split() == ["pm.time-entries", "1", "2", "5", "SKIP", "3", "unread"]
    assert lines[2].split() == ["pm.projects", "0", "7", "3", "re-read", "4"]


def test_to_offset_refuses_a_partition_that_does_not_exist() -> None:
    request = ReplayRequest(
        "g", ReplayMode.OFFSET, targets=(OffsetTarget("pm.time-entries", 3, 0),)
    )
    with pytest.raises(InvalidArgumentError, match=r"has partitions 0\.\.2, not 3"):
        plan(request)


def test_to_offset_refuses_an_offset_the_partition_no_longer_holds() -> None:
    request = ReplayRequest("g", ReplayMode.OFFSET, targets=(OffsetTarget("pm.projects", 0, 1),))
    with pytest.raises(InvalidArgumentError, match=r"before the earliest offset .* \(2\)"):
        plan(request)
