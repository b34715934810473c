"""Replay by offset reset: move a stopped consumer group back, show the move, audit it.

A replay makes the worker read records again from an earlier offset. What that
does and does not do (docs/runbooks/replay.md): every command id is a UUID5 of
the source record and rule version, so a replayed record produces the same
commands with the same ids, and stage 2's posted-records table finds them posted:
under the same rule version a replay sends none of them again.

The steps: plan (committed, earliest and target offset of every partition),
print the plan as a table, refuse if a worker of the group still runs or if a
partition would move forward past unread records (unless allowed), apply
(``alter_consumer_group_offsets``; on the embedded broker a stand-in group member
when the admin call fails with ``UNKNOWN_MEMBER_ID``), check the result, and write
the audit record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, TextIO

from streams.adapters.audit import AUDIT_TOPIC, AuditLog
from streams.adapters.exceptions import KafkaAdminError
from streams.adapters.offsets import GroupOffsets, ResetPath
from streams.ops.action import ActionRecord, Operator, audited
from streams.ops.exceptions import GroupActiveError, InvalidArgumentError, OffsetResetError
from streams.ops.render import plural
from streams.ops.selection import OffsetTarget
from streams.settings import Settings

__all__ = ["PlannedMove", "ReplayMode", "ReplayRequest", "plan_replay", "run_replay"]

_log = logging.getLogger(__name__)


class ReplayMode(StrEnum):
    """Where a replay moves the group to."""

    EARLIEST = "earliest"
    DATETIME = "datetime"
    OFFSET = "offset"


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """A replay as the operator asked for it (topics are logical names)."""

    group: str
    mode: ReplayMode
    topics: tuple[str, ...] = ()
    at: datetime | None = None
    targets: tuple[OffsetTarget, ...] = ()
    dry_run: bool = False
    allow_forward: bool = False

    def arguments(self) -> dict[str, Any]:
        """Return the request as audit arguments (JSON values)."""
        return {
            "group": self.group,
            "mode": str(self.mode),
            "topics": list(self.topics),
            "to_datetime": None if self.at is None else self.at.isoformat(),
            "to_offset": [f"{t.topic}:{t.partition}:{t.offset}" for t in self.targets],
            "dry_run": self.dry_run,
            "allow_forward": self.allow_forward,
        }


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """One partition of the plan: where the group is and where it goes.

    ``new`` None leaves the partition as it is (no record at or after the instant).
    """

    topic: str
    partition: int
    committed: int | None
    earliest: int
    new: int | None

    @property
    def current(self) -> int:
        """Where the group would resume: its committed offset, else the earliest one."""
        return self.committed if self.committed is not None else self.earliest

    @property
    def change(self) -> int:
        """Records the move re-reads (negative) or skips (positive)."""
        return 0 if self.new is None else self.new - self.current

    @property
    def moves(self) -> bool:
        """True if this partition's committed offset changes."""
        return self.new is not None and self.new != self.committed


def plan_replay(
    offsets: GroupOffsets, request: ReplayRequest, physical: Callable[[str], str]
) -> list[PlannedMove]:
    """Work out every partition's move (nothing is changed).

    Raises:
        InvalidArgumentError: A named partition does not exist, or an offset is
            before the earliest one the partition still holds.
        KafkaAdminError: A topic does not exist, or the cluster failed.

    """
    if request.mode is ReplayMode.OFFSET:
        topics = list(dict.fromkeys(physical(t.topic) for t in request.targets))
    else:
        topics = [physical(topic) for topic in request.topics]
    existing = offsets.partitions(topics)
    if request.mode is ReplayMode.OFFSET:
        wanted = {(physical(t.topic), t.partition): t.offset for t in request.targets}
        for target in request.targets:
            topic, partition = target.topic, target.partition
            if (physical(topic), partition) not in existing:
                count = sum(1 for name, _ in existing if name == physical(topic))
                raise InvalidArgumentError(
                    f"--to-offset: {topic} has partitions 0..{count - 1}, not {partition}",
                    field="--to-offset",
                )
        partitions = list(wanted)
    else:
        partitions = existing
    committed = offsets.committed(partitions)
    earliest = offsets.earliest(partitions)
    if request.mode is ReplayMode.EARLIEST:
        targets: dict[tuple[str, int], int | None] = dict(earliest)
    elif request.mode is ReplayMode.DATETIME:
        if request.at is None:
            raise InvalidArgumentError("--to-datetime needs an instant", field="--to-datetime")
        targets = offsets.offsets_at(partitions, int(request.at.timestamp() * 1000))
    else:
        targets = dict(wanted)
        for tp, offset in wanted.items():
            if offset < earliest[tp]:
                raise InvalidArgumentError(
                    f"--to-offset: {tp[0]}:{tp[1]}:{offset} is before the earliest offset "
                    f"the partition still holds ({earliest[tp]})",
                    field="--to-offset",
                )
    return [
        PlannedMove(tp[0], tp[1], committed.get(tp), earliest[tp], targets.get(tp))
        for tp in partitions
    ]


def render_plan(moves: list[PlannedMove], logical: Callable[[str], str], out: TextIO) -> None:
    """Print the plan: one row per partition, old and new committed offsets."""
    width = max([len("TOPIC")] + [len(logical(m.topic)) for m in moves])
    out.write(f"{'TOPIC':<{width}}  PARTITION  {'OLD':>10}  {'NEW':>10}  CHANGE\n")
    for move in moves:
        old = "-" if move.committed is None else str(move.committed)
        if move.new is None:
            new, change = old, "unchanged (no record at or after the instant)"
        else:
            new = str(move.new)
            if move.change < 0:
                change = f"re-read {-move.change}"
            elif move.change > 0:
                change = f"SKIP {move.change} unread"
            else:
                change = "none"
            if move.committed is None:
                change += f" (nothing committed: would start at {move.earliest})"
        out.write(
            f"{logical(move.topic):<{width}}  {move.partition:>9}  {old:>10}  {new:>10}  {change}\n"
        )


#: How far back ``replay`` looks for canaries when no window is given: a worker whose
#: canary is younger than 3 x its own interval runs, so intervals up to 5 minutes.
LOOKBACK_SECONDS: Final = 900.0
#: The window of a canary that does not carry its interval (an older worker): 3 x the
#: default interval.
UNKNOWN_INTERVAL_SECONDS: Final = 10.0


def _check_no_worker(
    offsets: GroupOffsets,
    heartbeat_topic: str | None,
    window_seconds: float | None,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Refuse while the group has a member, or a worker of it sent a heartbeat lately.

    ``window_seconds`` None: each canary is judged by the interval its own worker
    runs with (it carries it): younger than 3 x that interval means running. A
    number: a canary younger than that many seconds means running (0: don't look).
    """
    state = offsets.describe()
    if state.active:
        members = ", ".join(state.members) or "none listed"
        raise GroupActiveError(
            f"group {state.group} is {state.state} with active members ({members}): "
            "stop every worker of the group first"
        )
    if heartbeat_topic is None or window_seconds == 0:
        _log.warning(
            "heartbeat check off: only describe_consumer_groups guards against a running "
            "worker (the embedded broker lists no members)"
        )
        return
    now = clock()
    lookback = LOOKBACK_SECONDS if window_seconds is None else window_seconds
    for beat in offsets.heartbeats(heartbeat_topic, int((now - lookback) * 1000)):
        window = window_seconds
        if window is None:
            window = 3 * (beat.interval_seconds or UNKNOWN_INTERVAL_SECONDS)
        age = max(0.0, now - beat.timestamp_ms / 1000)
        if age < window:
            raise GroupActiveError(
                f"a worker of group {offsets.group} is running: it sent a heartbeat canary "
                f"{age:.0f}s ago ({beat.key}); stop every worker of the group and wait "
                f"{window - age:.0f}s more"
            )


def run_replay(
    settings: Settings,
    request: ReplayRequest,
    operator: Operator,
    out: TextIO,
    *,
    heartbeat_topic: str | None,
    heartbeat_window_seconds: float | None = None,
) -> int:
    """Plan, show, check and apply a replay; write its audit record. Return the exit code.

    Args:
        settings: Connection settings and topic naming.
        request: The replay as asked.
        operator: Who runs it (audit).
        out: Where the plan and result are printed.
        heartbeat_topic: Logical topic carrying the workers' heartbeat canaries
            (the liveness check; None: describe_consumer_groups only).
        heartbeat_window_seconds: How recent a canary means a running worker (None:
            3 x the interval its worker runs with, which the canary carries; 0: no check).

    Raises:
        GroupActiveError: A worker of the group is running (nothing changed).
        OffsetResetError: A partition would skip unread records without ``allow_forward``.
        InvalidArgumentError: A named partition or offset does not exist.
        KafkaAdminError: The cluster refused (its error code kept).

    """
    client = settings.kafka_client_config()
    offsets = GroupOffsets(client, request.group)
    log = AuditLog(client, settings.topic(AUDIT_TOPIC))

    def logical(name: str) -> str:
        return name.removeprefix(settings.topic_prefix)

    with audited(log, operator, "replay", request.arguments()) as action:
        moves = plan_replay(offsets, request, settings.topic)
        moving = [m for m in moves if m.moves]
        reread = sum(-m.change for m in moving if m.change < 0)
        skipped = sum(m.change for m in moving if m.change > 0)
        action.counts.update(
            partitions=len(moves),
            partitions_moved=len(moving),
            records_to_reread=reread,
            records_skipped=skipped,
        )
        out.write(
            f"group {request.group}: {plural(len(moves), 'partition')}, {len(moving)} to move "
            f"({reread} records to re-read" + (f", {skipped} to SKIP" if skipped else "") + ")\n"
        )
        render_plan(moves, logical, out)
        heartbeat = None if heartbeat_topic is None else settings.topic(heartbeat_topic)
        _check_no_worker(offsets, heartbeat, heartbeat_window_seconds)
        forward = [m for m in moving if m.change > 0]
        if forward and not request.allow_forward:
            names = ", ".join(f"{logical(m.topic)}[{m.partition}]" for m in forward)
            raise OffsetResetError(
                f"{plural(len(forward), 'partition')} would move forward and skip "
                f"{plural(skipped, 'unread record')} ({names}): pass --allow-forward "
                "if that is meant"
            )
        if request.dry_run:
            action.outcome = "dry-run"
            out.write("dry run: nothing changed\n")
            return 0
        if not moving:
            out.write("nothing to move\n")
            return 0
        _apply(offsets, moving, settings, action, out)
    return 0


def _apply(
    offsets: GroupOffsets,
    moving: list[PlannedMove],
    settings: Settings,
    action: ActionRecord,
    out: TextIO,
) -> None:
    wanted = {(m.topic, m.partition): m.new for m in moving if m.new is not None}
    path = offsets.alter(wanted, member_fallback=settings.embedded_profile)
    action.details["applied_through"] = path.name.lower()
    now = offsets.committed(list(wanted))
    wrong = [
        f"{topic}[{partition}] is at {now.get((topic, partition))}, not {offset}"
        for (topic, partition), offset in wanted.items()
        if now.get((topic, partition)) != offset
    ]
    if wrong:
        raise KafkaAdminError("offsets not as planned after the reset: " + "; ".join(wrong))
    note = " (the admin call failed with UNKNOWN_MEMBER_ID)" if path is ResetPath.MEMBER else ""
    out.write(f"applied {plural(len(wanted), 'partition')} through the {path.value}{note}\n")
    out.write("start the workers again: they resume from the new offsets\n")
