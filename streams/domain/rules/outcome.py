"""What a posting rule decided for one event: post these commands, hold it, or skip it."""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain.commands import PostLedgerEntry

__all__ = ["Held", "Posted", "Skipped"]


@dataclass(frozen=True, slots=True)
class Posted:
    """Send these commands, in order; an empty tuple is a deliberate no-op (zero amounts)."""

    commands: tuple[PostLedgerEntry, ...]


@dataclass(frozen=True, slots=True)
class Held:
    """Post nothing yet; a later version of the event (e.g. approval) will post."""

    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """Post nothing, deliberately and counted: an identical or older version (a replay)."""

    reason: str
