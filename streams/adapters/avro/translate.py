"""Translators: a record written with an older schema version, in the newest version's shape.

The codec reads each record with the schema it was *written* with. For an older
version of a topic that has translators, each step's translator turns the dict of
version N into the dict of version N+1, up to the newest: the canonical shape the
domain models validate. Avro resolution alone cannot express every change a real
producer makes (a duration replaced by start/end instants, a null that now means
a value), and a step of Python is cheaper than schema resolution anyway.

A topic with no translator at all is resolved by Avro (fields added with defaults,
aliases, enum defaults): that is also how a version newer than ours is read. A topic
with translators needs one for *every* step; :meth:`Translators.chain` refuses a gap.

A translator may reuse and return the dict it is given (it is a fresh decode). It
raises :class:`~streams.domain.exceptions.InvalidEventError` naming the field *as the
producer wrote it*, so a dead letter tells an old producer what to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from streams.domain.exceptions import InvalidEventError

__all__ = ["TRANSLATORS", "Translator", "TranslatorGapError", "Translators"]

Translator = Callable[[dict[str, Any]], dict[str, Any]]

_NO_MARKUP: Final = Decimal("0.0000")


class TranslatorGapError(LookupError):
    """A topic has translators for some version steps but not for this one (a bug)."""


def time_entry_v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """``pm.time-entries`` v1 -> v2: ``duration_minutes`` becomes ``ended_at``.

    Raises:
        InvalidEventError: ``duration_minutes`` is negative (field ``duration_minutes``).

    """
    minutes = record.pop("duration_minutes")
    if minutes < 0:
        raise InvalidEventError(
            f"duration_minutes: must be >= 0 (got {minutes})", field="duration_minutes"
        )
    record["ended_at"] = record["started_at"] + timedelta(minutes=minutes)
    record["external_id"] = None
    return record


def expense_v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """``pm.expenses`` v1 -> v2: ``description`` renamed, ``merchant`` added, markup required.

    In v1 a null ``markup_rate`` meant "no markup"; from v2 on it is required, so the
    null becomes an explicit zero.
    """
    record["business_purpose"] = record.pop("description")
    record["merchant"] = ""
    if record["markup_rate"] is None:
        record["markup_rate"] = _NO_MARKUP
    return record


def _compose(steps: list[Translator]) -> Translator:
    if len(steps) == 1:
        return steps[0]

    def chained(record: dict[str, Any]) -> dict[str, Any]:
        for step in steps:
            record = step(record)
        return record

    return chained


@dataclass(frozen=True)
class Translators:
    """The version-step translators of every topic, keyed by ``(topic, from_version)``."""

    steps: Mapping[tuple[str, int], Translator]

    def topics(self) -> set[str]:
        """Return the topics that have at least one translator."""
        return {topic for topic, _ in self.steps}

    def chain(self, topic: str, from_version: int, to_version: int) -> Translator | None:
        """Return the translator from one version of a topic to a newer one.

        Args:
            topic: Logical topic name.
            from_version: The version the record was written with.
            to_version: The newest local version (the canonical shape).

        Returns:
            One callable applying every step in order, or None when the topic has no
            translators (plain Avro resolution applies) or the versions are equal.

        Raises:
            TranslatorGapError: The topic has translators, but not for every step.

        """
        if from_version >= to_version or topic not in self.topics():
            return None
        missing = [v for v in range(from_version, to_version) if (topic, v) not in self.steps]
        if missing:
            raise TranslatorGapError(
                f"{topic}: no translator from v{missing[0]} to v{missing[0] + 1}; a topic with "
                "translators needs one for every version step"
            )
        return _compose([self.steps[(topic, v)] for v in range(from_version, to_version)])


TRANSLATORS: Final = Translators(
    {
        ("pm.time-entries", 1): time_entry_v1_to_v2,
        ("pm.expenses", 1): expense_v1_to_v2,
    }
)
"""Every translator ledgerstream knows; the codec uses these unless given others."""
