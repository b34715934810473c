"""Period locks: a closed accounting period receives no entry; late records post after it.

An operator closes a period of one legal entity (``ledgerstream period close``) once
its books are final. From then on a command whose period is closed is posted into the
*first open period after it* instead: its ``effective_date`` keeps the record's own
date, its ``period`` names the open period, and ``late_for_period`` names the closed
one (the feedback to the project system says the same). That holds for every
command, a reversal of an entry posted before the close included: nothing ever
lands in a closed period. Reopening the period (``period reopen``) lets entries
dated in it post there again.

A lock is a record on the control topic keyed ``period_lock/<entity>/<YYYY-MM>``
(``streams.domain.toggles``): on = closed, off = reopened. Moving a command does not
change its ``command_id`` (the id hashes the source and the effect, not the period).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from streams.domain.commands import PostLedgerEntry
from streams.domain.trusted import trusted

__all__ = [
    "NO_LOCKS",
    "PERIOD_LOCK_PREFIX",
    "PeriodLocks",
    "is_period",
    "next_period",
    "period_lock_name",
    "period_lock_of",
]

PERIOD_LOCK_PREFIX: Final = "period_lock/"
_PERIOD: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def is_period(text: str) -> bool:
    """Say whether ``text`` names an accounting period: ``YYYY-MM``."""
    return _PERIOD.match(text) is not None


def next_period(period: str) -> str:
    """Return the period after ``period`` (``"2026-12"`` -> ``"2027-01"``).

    Raises:
        ValueError: ``period`` is not ``YYYY-MM``.

    """
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"not a period (YYYY-MM): {period!r}")
    year, month = int(match.group(1)), int(match.group(2))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def period_lock_name(entity_id: str, period: str) -> str:
    """Name the control record of one entity's period lock: ``period_lock/<entity>/<period>``."""
    return f"{PERIOD_LOCK_PREFIX}{entity_id}/{period}"


def period_lock_of(name: str) -> tuple[str, str] | None:
    """Return the (entity, period) a lock's name names, or None for any other name."""
    if not name.startswith(PERIOD_LOCK_PREFIX):
        return None
    entity, _, period = name.removeprefix(PERIOD_LOCK_PREFIX).rpartition("/")
    return (entity, period) if entity and is_period(period) else None


@dataclass(frozen=True, slots=True)
class PeriodLocks:
    """The closed periods of every entity: ``{(entity_id, "YYYY-MM"), ...}``."""

    closed: frozenset[tuple[str, str]] = frozenset()

    def is_closed(self, entity_id: str, period: str) -> bool:
        """Say whether an entity's period is closed."""
        return (entity_id, period) in self.closed

    def open_period(self, entity_id: str, period: str) -> str:
        """Return ``period`` if it is open, else the first open period after it."""
        while (entity_id, period) in self.closed:
            period = next_period(period)
        return period

    def placed(self, command: PostLedgerEntry) -> PostLedgerEntry:
        """Return the command as it posts under these locks.

        A command whose period is open is returned as is. One whose period is
        closed gets the first open period after it and ``late_for_period`` set to
        the closed period it belongs to; its date, lines and id stay.
        """
        if not self.closed or (command.entity_id, command.period) not in self.closed:
            return command
        return trusted(
            PostLedgerEntry,
            {
                **command.__dict__,
                "period": self.open_period(command.entity_id, command.period),
                "late_for_period": command.period,
            },
        )

    def placed_all(self, commands: Iterable[PostLedgerEntry]) -> tuple[PostLedgerEntry, ...]:
        """Place every command (:meth:`placed`)."""
        return tuple(self.placed(c) for c in commands)


NO_LOCKS: Final = PeriodLocks()
"""No period is closed (the default of the posting functions and the dry run)."""
