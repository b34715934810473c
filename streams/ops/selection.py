"""What an operator names on the command line: instants, time ranges, offsets, DLQ positions.

Pure parsing, no Kafka: every malformed value is an :class:`InvalidArgumentError`
naming the option, raised before anything is read or changed. Instants must say
their zone (``2026-11-10T14:00:00Z``, ``...+01:00``) or be an age before now
(``90s``, ``30m``, ``2h``, ``7d``, ``2w``): a replay or a redrive is never aimed at
the wrong hour because of a local clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from streams.ops.exceptions import InvalidArgumentError

__all__ = [
    "DlqPosition",
    "OffsetTarget",
    "TimeRange",
    "parse_dlq_position",
    "parse_instant",
    "parse_offset_targets",
    "parse_time_range",
]

_AGE: Final = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_INSTANT_HELP: Final = "an ISO 8601 instant with a zone (2026-11-10T14:00:00Z) or an age (2h, 7d)"


def parse_instant(text: str, *, now: datetime, option: str) -> datetime:
    """Read an operator's instant: ISO 8601 with a zone, or an age before ``now``.

    Args:
        text: e.g. ``2026-11-10T14:00:00Z``, ``2026-11-10T09:00-05:00`` or ``36h``.
        now: The aware instant ages count back from.
        option: The option being parsed (named in the error).

    Raises:
        InvalidArgumentError: Not an instant, or one without a zone.

    """
    value = text.strip()
    age = _AGE.match(value.lower())
    if age is not None:
        return now - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"{option}: {text!r} is not {_INSTANT_HELP}", field=option
        ) from exc
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidArgumentError(
            f"{option}: {text!r} has no zone; add Z or an offset (e.g. {value}Z)", field=option
        )
    return instant


@dataclass(frozen=True, slots=True)
class TimeRange:
    """An interval of instants; either end may be open."""

    since: datetime | None = None
    until: datetime | None = None


def parse_time_range(since: str | None, until: str | None, *, now: datetime) -> TimeRange:
    """Read ``--since`` / ``--until``; the range must not end before it starts.

    Raises:
        InvalidArgumentError: A malformed instant, or ``--until`` before ``--since``.

    """
    start = None if since is None else parse_instant(since, now=now, option="--since")
    end = None if until is None else parse_instant(until, now=now, option="--until")
    if start is not None and end is not None and end < start:
        raise InvalidArgumentError(
            f"--until {end.isoformat()} is before --since {start.isoformat()}", field="--until"
        )
    return TimeRange(start, end)


@dataclass(frozen=True, slots=True)
class OffsetTarget:
    """One partition to move and where to: ``TOPIC:PARTITION:OFFSET`` (logical topic)."""

    topic: str
    partition: int
    offset: int


def _whole(text: str, what: str, spec: str) -> int:
    if not text.isdigit():
        raise InvalidArgumentError(
            f"--to-offset {spec!r}: {what} {text!r} is not a whole number >= 0",
            field="--to-offset",
        )
    return int(text)


def parse_offset_targets(specs: Iterable[str]) -> list[OffsetTarget]:
    """Read ``--to-offset TOPIC:PARTITION:OFFSET`` values (topic names hold no colon).

    Raises:
        InvalidArgumentError: A malformed value, or the same partition named twice.

    """
    targets: list[OffsetTarget] = []
    seen: set[tuple[str, int]] = set()
    for spec in specs:
        parts = spec.strip().split(":")
        if len(parts) != 3 or not parts[0]:
            raise InvalidArgumentError(
                f"--to-offset {spec!r}: expected TOPIC:PARTITION:OFFSET, "
                "e.g. pm.time-entries:2:1500",
                field="--to-offset",
            )
        topic = parts[0]
        partition = _whole(parts[1], "partition", spec)
        offset = _whole(parts[2], "offset", spec)
        if (topic, partition) in seen:
            raise InvalidArgumentError(
                f"--to-offset: {topic}:{partition} is named twice", field="--to-offset"
            )
        seen.add((topic, partition))
        targets.append(OffsetTarget(topic, partition, offset))
    return targets


@dataclass(frozen=True, slots=True)
class DlqPosition:
    """Where a dead letter sits in the DLQ topic; ``partition`` None = any partition."""

    partition: int | None
    offset: int

    def __str__(self) -> str:
        return f"{'*' if self.partition is None else self.partition}:{self.offset}"


def parse_dlq_position(text: str) -> DlqPosition:
    """Read ``PARTITION:OFFSET`` (as ``dlq list`` prints it) or a bare ``OFFSET``.

    Raises:
        InvalidArgumentError: Not of either form.

    """
    value = text.strip()
    partition, _, offset = value.rpartition(":")
    bare = partition == "" and ":" not in value
    if offset.isdigit() and (bare or partition.isdigit()):
        return DlqPosition(int(partition) if partition else None, int(offset))
    raise InvalidArgumentError(
        f"{text!r} is not a dead letter's position: PARTITION:OFFSET (e.g. 2:41) or OFFSET",
        field="position",
    )
