"""Is a worker of the group running? Judged by its canaries, with the interval it runs with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streams.adapters.offsets import GroupState, Heartbeat
from streams.ops.exceptions import GroupActiveError
from streams.ops.replay import LOOKBACK_SECONDS, _check_no_worker

NOW = 1_800_000_000.0


class FakeGroup:
    """A stopped group (no members, as the embedded broker says) and its recent canaries."""

    group = "ledgerstream"

    def __init__(self, *beats: Heartbeat) -> None:
        self.beats = beats
        self.since_ms: int | None = None

    def describe(self) -> GroupState:
        return GroupState(self.group, "EMPTY", ())

    def heartbeats(self, topic: str, since_ms: int) -> Iterator[Heartbeat]:
        self.since_ms = since_ms
        yield from (b for b in self.beats if b.timestamp_ms >= since_ms)


def beat(age: float, interval: float | None) -> Heartbeat:
    return Heartbeat(
        "__ledgerstream-heartbeat__/ledgerstream@w1/0", int((NOW - age) * 1000), interval
    )


def check(group: FakeGroup, window: float | None = None) -> None:
    _check_no_worker(group, "pm.time-entries", window, clock=lambda: NOW)  # type: ignore[arg-type]


def test_a_worker_with_a_long_interval_is_seen_running_whatever_the_operator_runs_with() -> None:
    """60 s interval, last canary 100 s ago: running (the operator's 10 s would say stopped)."""
    with pytest.raises(GroupActiveError, match="80s more"):
        check(FakeGroup(beat(100, 60.0)))


def test_each_worker_is_judged_by_its_own_interval() -> None:
    check(FakeGroup(beat(4, 1.0)))  # a 1 s worker silent for 4 s has stopped (3 s window)
    with pytest.raises(GroupActiveError):  # a 60 s worker silent for 120 s runs (180 s window)
        check(FakeGroup(beat(4, 1.0), beat(120, 60.0)))


def test_canaries_are_looked_for_far_enough_back_for_long_intervals() -> None:
    group = FakeGroup()
    check(group)
    assert group.since_ms == int((NOW - LOOKBACK_SECONDS) * 1000)


def test_a_canary_without_its_interval_is_judged_by_the_default_interval() -> None:
    with pytest.raises(GroupActiveError):
        check(FakeGroup(beat(20, None)))
    check(FakeGroup(beat(40, None)))


def test_an_explicit_window_overrides_the_workers_interval_and_zero_does_not_look() -> None:
    check(FakeGroup(beat(100, 60.0)), window=50)
    with pytest.raises(GroupActiveError):
        check(FakeGroup(beat(40, 1.0)), window=50)
    group = FakeGroup(beat(1, 1.0))
    check(group, window=0)
    assert group.since_ms is None
