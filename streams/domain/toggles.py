"""Control toggles (``ledgerstream.control``) and where they send a posting command.

Three toggles, keyed by name on the compacted control topic (docs/design.md §2):

* ``kill_switch``: posting is paused; the worker stops taking events (they wait in
  Kafka) until it is turned off. It does not change where a command goes.
* ``kill_switch/<entity_id>``: posting is paused for one legal entity; its events
  are held (parked, in order) and post when it is turned off.
* ``pilot``: only commands naming an allow-listed customer or project (on any of
  their lines' dimensions) reach the accounting sink; every other command goes to
  the shadow topic.
* ``dry_run``: every command goes to the shadow topic (it wins over the pilot).
* ``period_lock/<entity_id>/<YYYY-MM>``: on, the entity's period is closed (a command
  dated in it posts into the first open period after it, ``streams.domain.period_locks``);
  off, it was reopened (kept in ``reopened_periods`` until it is closed again or the
  record is deleted).

A deleted toggle (a tombstone) is off. Which sink a command goes to is decided by
:func:`sink_for`, a pure function of the command and the current toggles.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from streams.domain.commands import PostLedgerEntry
from streams.domain.period_locks import PeriodLocks, period_lock_of

__all__ = [
    "CONTROL_TOPIC",
    "Sink",
    "Toggle",
    "ToggleName",
    "Toggles",
    "entity_of",
    "entity_toggle",
    "sink_for",
]

#: The compacted topic of the toggles, keyed by toggle name (docs/design.md §2).
CONTROL_TOPIC = "ledgerstream.control"


class ToggleName(StrEnum):
    """The toggles the worker obeys (the control topic's keys)."""

    KILL_SWITCH = "kill_switch"
    PILOT = "pilot"
    DRY_RUN = "dry_run"


class Sink(StrEnum):
    """Where a posting command goes: the accounting sink or its shadow topic."""

    REAL = "real"
    SHADOW = "shadow"


class Toggle(BaseModel):
    """One toggle's current setting, as an operator last wrote it (``ledgerstream.control``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    enabled: bool
    allow_customers: tuple[str, ...] = ()
    allow_projects: tuple[str, ...] = ()
    reason: str
    changed_by: str
    changed_at: AwareDatetime


class Toggles(BaseModel):
    """The state of every toggle the worker obeys; all off by default."""

    model_config = ConfigDict(frozen=True)

    kill_switch: bool = False
    dry_run: bool = False
    pilot: bool = False
    allow_customers: frozenset[str] = frozenset()
    allow_projects: frozenset[str] = frozenset()
    paused_entities: frozenset[str] = frozenset()
    closed_periods: frozenset[tuple[str, str]] = frozenset()
    reopened_periods: frozenset[tuple[str, str]] = frozenset()

    def applied(self, name: str, toggle: Toggle | None) -> Toggles:
        """Return the state after one control record (``None``: the toggle was deleted = off).

        A name this version does not know is ignored (a newer operator tool may
        write toggles an older worker has no use for).
        """
        enabled = toggle is not None and toggle.enabled
        lock = period_lock_of(name)
        if lock is not None:
            closed, reopened = self.closed_periods - {lock}, self.reopened_periods - {lock}
            if enabled:
                closed |= {lock}
            elif toggle is not None:
                reopened |= {lock}
            return self.model_copy(update={"closed_periods": closed, "reopened_periods": reopened})
        entity = entity_of(name)
        if entity is not None:
            paused = self.paused_entities - {entity}
            return self.model_copy(
                update={"paused_entities": paused | {entity} if enabled else paused}
            )
        if name == ToggleName.KILL_SWITCH:
            return self.model_copy(update={"kill_switch": enabled})
        if name == ToggleName.DRY_RUN:
            return self.model_copy(update={"dry_run": enabled})
        if name == ToggleName.PILOT:
            return self.model_copy(
                update={
                    "pilot": enabled,
                    "allow_customers": frozenset(toggle.allow_customers if toggle else ()),
                    "allow_projects": frozenset(toggle.allow_projects if toggle else ()),
                }
            )
        return self

    def enabled(self, name: ToggleName) -> bool:
        """Say whether one toggle is on."""
        return bool(getattr(self, name.value))

    def period_locks(self) -> PeriodLocks:
        """Return the closed periods, for the posting functions."""
        return PeriodLocks(self.closed_periods)


def entity_toggle(entity_id: str) -> str:
    """Name the kill switch of one legal entity (``kill_switch/<entity_id>``)."""
    return f"{ToggleName.KILL_SWITCH}/{entity_id}"


def entity_of(name: str) -> str | None:
    """Return the entity an entity kill switch names, or None for any other toggle."""
    prefix = f"{ToggleName.KILL_SWITCH}/"
    entity = name.removeprefix(prefix)
    return entity if name.startswith(prefix) and entity else None


def sink_for(command: PostLedgerEntry, toggles: Toggles) -> Sink:
    """Choose the sink of a command: shadow under dry-run, or under pilot unless allow-listed.

    Args:
        command: The posting command about to be sent.
        toggles: The current control toggles.

    Returns:
        ``Sink.REAL`` (``acct.ledger-commands``) or ``Sink.SHADOW``
        (``acct.ledger-commands.shadow``).

    """
    if toggles.dry_run:
        return Sink.SHADOW
    if not toggles.pilot:
        return Sink.REAL
    for line in command.lines:
        dims = line.dimensions
        if dims.customer_id is not None and dims.customer_id in toggles.allow_customers:
            return Sink.REAL
        if dims.project_id is not None and dims.project_id in toggles.allow_projects:
            return Sink.REAL
    return Sink.SHADOW
