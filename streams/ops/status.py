"""Has a consumer group caught up? Per partition of both stages: lag, and the parked count.

After a restart or a replay an operator wants one answer: has the group read
everything its topics hold? For every partition of the worker's input topics
(the ``pm.*`` events, the reference topics) and of stage 2's
``ledgerstream.ledger-events``: the group's committed offset, the exact end of
the log, and the real records in between (heartbeat canaries are not counted: a
running worker always has one in flight). The end is read exactly: on the
embedded broker the listed end is the last batch's base offset + 1
(docs/embedded-broker.md), so the tail is read (``kafka_io.log_ends``). The
group has caught up when no partition has a real record left to read. Parked
records (waiting in stage 2's table) are counted beside it: they were read, and
wait for reference data, an entry or a paused entity (``ledgerstream parked``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, TextIO

__all__ = ["PartitionStatus", "StatusReport", "gather_status", "render_status", "run_status"]

Partition = tuple[str, int]

#: Beyond this many records behind, the lag is end - committed (canaries included)
#: rather than read record by record.
READ_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    """One partition: where the group stands and how many real records it has to read."""

    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int

    @property
    def caught_up(self) -> bool:
        """True when no real record of the partition is left to read."""
        return self.lag == 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The group's partitions and its parked records."""

    group: str
    partitions: tuple[PartitionStatus, ...]
    parked: int

    @property
    def caught_up(self) -> bool:
        """True when every partition is caught up."""
        return all(p.caught_up for p in self.partitions)

    def as_json(self) -> dict[str, Any]:
        """Return the report as JSON values."""
        return {
            "group": self.group,
            "caught_up": self.caught_up,
            "parked": self.parked,
            "lag": sum(p.lag for p in self.partitions),
            "partitions": [asdict(p) | {"caught_up": p.caught_up} for p in self.partitions],
        }


#: ``(listed end, count from)`` per partition -> ``(exact end, real records from there)``.
EndReader = Callable[[Mapping[Partition, tuple[int, int]]], dict[Partition, tuple[int, int]]]


def gather_status(
    group: str,
    committed: Mapping[Partition, int | None],
    listed_ends: Mapping[Partition, int],
    read_ends: EndReader,
    *,
    parked: int,
    logical: Callable[[str], str] = str,
) -> StatusReport:
    """Work out every partition's exact end and lag from the committed offsets.

    A partition with nothing committed starts at 0 (the workers read from the
    earliest offset). Far behind (more than ``READ_LIMIT``), the records are not
    read one by one: the lag is then end - committed, canaries included.
    """
    starts: dict[Partition, tuple[int, int]] = {}
    for tp, listed in listed_ends.items():
        position = committed.get(tp) or 0
        start = position if listed - position <= READ_LIMIT else listed
        starts[tp] = (listed, start)
    ends = read_ends(starts)
    rows = []
    for tp in sorted(listed_ends):
        end, real = ends[tp]
        position = committed.get(tp) or 0
        _, start = starts[tp]
        lag = real if start == position else (start - position) + real
        topic, partition = tp
        rows.append(PartitionStatus(logical(topic), partition, committed.get(tp), end, lag))
    return StatusReport(group, tuple(rows), parked)


def render_status(report: StatusReport, out: TextIO) -> None:
    """Print one row per partition, then the totals and the answer."""
    width = max([len("TOPIC")] + [len(p.topic) for p in report.partitions])
    out.write(
        f"{'TOPIC':<{width}}  PARTITION  {'COMMITTED':>10}  {'END':>10}  {'LAG':>8}  CAUGHT UP\n"
    )
    for p in report.partitions:
        committed = "-" if p.committed is None else str(p.committed)
        out.write(
            f"{p.topic:<{width}}  {p.partition:>9}  {committed:>10}  {p.end:>10}  {p.lag:>8}"
            f"  {'yes' if p.caught_up else 'no'}\n"
        )
    behind = [p for p in report.partitions if not p.caught_up]
    lag = sum(p.lag for p in report.partitions)
    out.write(f"group {report.group}: {lag} records to read on {len(behind)} partition(s)\n")
    out.write(f"parked: {report.parked}\n")
    out.write(f"caught up: {'yes' if report.caught_up else 'no'}\n")


def run_status(
    settings: Any,
    out: TextIO,
    *,
    topics: Sequence[str],
    as_json: bool,
    idle_seconds: float = 2.0,
) -> int:
    """Read the group's offsets, the exact ends and the parked records; print the report.

    Returns:
        0 when caught up, 4 when not (so scripts can wait on it).

    """
    from streams.adapters.kafka_io import log_ends  # noqa: PLC0415
    from streams.adapters.offsets import GroupOffsets  # noqa: PLC0415
    from streams.ops.parked import read_parked  # noqa: PLC0415

    client = settings.kafka_client_config()
    offsets = GroupOffsets(client, settings.app_id)
    partitions = offsets.partitions([settings.topic(t) for t in topics])
    report = gather_status(
        settings.app_id,
        offsets.committed(partitions),
        offsets.latest(partitions),
        lambda starts: log_ends(client, starts),
        parked=len(read_parked(settings, idle_seconds=idle_seconds)),
        logical=lambda name: name.removeprefix(settings.topic_prefix),
    )
    if as_json:
        out.write(json.dumps(report.as_json()) + "\n")
    else:
        render_status(report, out)
    return 0 if report.caught_up else NOT_CAUGHT_UP


#: Exit code of ``ledgerstream status`` while the group has records left to read.
NOT_CAUGHT_UP: Final = 4
