"""Allocate a shared cost pool to projects by a driver (docs/period-close.md, Allocation).

Worked rule: the pool is the net debit of the entity's pool account (6100 Shared
cost pool by default) over the period's commands, allocation commands excluded. A
driver gives each target project a quantity for the period: ``HOURS`` (minutes of
its approved time entries / 60), ``HEADCOUNT`` (distinct people who booked time on
it) or ``USAGE`` (the amount of its approved expenses of one category). The pool is
split by largest remainder, so the parts sum to the pool to the cent, and each
target gets one command in journal ``ALLOCATION`` on the period's last day, in the
entity's base currency: Dr 5200 Allocated overhead (tagged with the project) / Cr
6100, with the pool's source ids in ``related_source_ids``.

The command id hashes the rule, period, target and the amounts, so a re-run with the
same inputs makes the same ids; ``plan_rerun`` reverses the live allocation commands
the new run no longer makes and posts only the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from streams.domain.accounts import Account, resolve_account
from streams.domain.close.period import close_source, identity_fx, last_day, parse_period
from streams.domain.close.rounding import largest_remainder
from streams.domain.commands import (
    CommandAction,
    CommandDraft,
    CostClass,
    Dimensions,
    Leg,
    PostLedgerEntry,
    Side,
    build_command,
    period_of,
)
from streams.domain.events import ExpenseRecorded, ExpenseStatus, TimeEntryRecorded, TimeEntryStatus
from streams.domain.exceptions import InvalidEventError
from streams.domain.money import MONEY_CONTEXT, show_amount
from streams.domain.posting import reverse_command
from streams.domain.reference import LegalEntity, ReferenceBook

__all__ = [
    "ALLOCATION",
    "Allocation",
    "AllocationRule",
    "Driver",
    "allocate",
    "driver_quantities",
    "live_commands",
    "plan_rerun",
    "pool_of",
]

ALLOCATION: Final = "allocation"
JOURNAL: Final = "ALLOCATION"
_SIXTY: Final = Decimal(60)


class Driver(StrEnum):
    """What a target's share is proportional to."""

    HOURS = "HOURS"
    HEADCOUNT = "HEADCOUNT"
    USAGE = "USAGE"


class AllocationRule(BaseModel):
    """One allocation rule, as versioned data (``deploy/period-close.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    version: int = Field(ge=1)
    entity_id: str
    pool_account: str = str(Account.SHARED_COST_POOL)
    target_account: str = str(Account.ALLOCATED_OVERHEAD)
    driver: Driver
    usage_category: str | None = None
    targets: tuple[str, ...] = Field(min_length=1)
    methodology: str


@dataclass(frozen=True, slots=True)
class Allocation:
    """What a run computed: the pool, each target's quantity and share, the commands."""

    rule: AllocationRule
    period: str
    currency: str
    pool: Decimal
    pool_source_ids: tuple[str, ...]
    quantities: Mapping[str, Decimal]
    shares: Mapping[str, Decimal]
    commands: tuple[PostLedgerEntry, ...]


def pool_of(
    commands: Iterable[PostLedgerEntry], entity: LegalEntity, account: str, period: str
) -> tuple[Decimal, tuple[str, ...]]:
    """Return the pool account's net debit (base currency) over the period, and its source ids.

    Allocation commands (which credit the pool) are left out: the pool is what was
    booked to it, whatever was allocated before.
    """
    code = resolve_account(account, entity.account_overrides)
    total, ids = Decimal(0), set[str]()
    for command in commands:
        if command.entity_id != entity.entity_id or command.period != period:
            continue
        if command.source.type == ALLOCATION:
            continue
        for line in command.lines:
            if line.account == code:
                signed = line.base_amount if line.side is Side.DEBIT else -line.base_amount
                total = MONEY_CONTEXT.add(total, signed)
                ids.add(command.source.id)
    return total, tuple(sorted(ids))


def driver_quantities(
    rule: AllocationRule,
    period: str,
    entity: LegalEntity,
    entries: Iterable[TimeEntryRecorded],
    expenses: Iterable[ExpenseRecorded],
) -> dict[str, Decimal]:
    """Return each target's driver quantity for the period (targets with none get 0).

    ``entries`` and ``expenses`` are the latest version of each record (deleted ones
    left out); only APPROVED ones count when the entity requires approval. A time
    entry belongs to the period of its start in the entity's timezone.

    Raises:
        InvalidEventError: A USAGE rule has no ``usage_category``, or its expenses
            are in more than one currency (their amounts cannot be added).

    """
    parse_period(period)
    if rule.driver is Driver.HOURS or rule.driver is Driver.HEADCOUNT:
        hours, people = _time_drivers(rule, period, entity, entries)
        if rule.driver is Driver.HOURS:
            return hours
        return {t: Decimal(len(people[t])) for t in rule.targets}
    return _usage(rule, period, entity, expenses)


def _time_drivers(
    rule: AllocationRule, period: str, entity: LegalEntity, entries: Iterable[TimeEntryRecorded]
) -> tuple[dict[str, Decimal], dict[str, set[str]]]:
    targets = set(rule.targets)
    hours = dict.fromkeys(rule.targets, Decimal(0))
    people: dict[str, set[str]] = {t: set() for t in rule.targets}
    for entry in entries:
        if entry.project_id not in targets:
            continue
        if entity.approval_required and entry.status is not TimeEntryStatus.APPROVED:
            continue
        if period_of(entry.started_at.astimezone(entity.zone).date()) != period:
            continue
        minutes = Decimal(entry.duration_minutes)
        hours[entry.project_id] += MONEY_CONTEXT.divide(minutes, _SIXTY)
        people[entry.project_id].add(entry.employee_id)
    return hours, people


def _usage(
    rule: AllocationRule, period: str, entity: LegalEntity, expenses: Iterable[ExpenseRecorded]
) -> dict[str, Decimal]:
    targets = set(rule.targets)
    usage = dict.fromkeys(rule.targets, Decimal(0))
    if rule.usage_category is None:
        raise InvalidEventError(
            "usage_category: a USAGE rule names an expense category", field="usage_category"
        )
    currencies = set()
    for expense in expenses:
        if expense.project_id not in targets or str(expense.category) != rule.usage_category:
            continue
        if entity.approval_required and expense.status is not ExpenseStatus.APPROVED:
            continue
        if period_of(expense.incurred_on) != period:
            continue
        currencies.add(expense.currency)
        usage[expense.project_id] = MONEY_CONTEXT.add(usage[expense.project_id], expense.amount)
    if len(currencies) > 1:
        raise InvalidEventError(
            f"usage_category: {rule.usage_category} expenses are in {sorted(currencies)}; "
            "a USAGE driver needs one currency",
            field="usage_category",
        )
    return usage


def allocate(
    rule: AllocationRule,
    period: str,
    book: ReferenceBook,
    commands: Sequence[PostLedgerEntry],
    quantities: Mapping[str, Decimal],
    *,
    rule_version: str,
) -> Allocation:
    """Split the period's pool over the targets: one Dr 5200 / Cr 6100 command per non-zero share.

    Raises:
        InvalidEventError: Every quantity is zero (while the pool is not), or a
            target project belongs to another entity.
        MissingReferenceError: The entity or a target project is not in the book.

    """
    entity = book.entity(rule.entity_id)
    currency = entity.base_currency
    pool, pool_ids = pool_of(commands, entity, rule.pool_account, period)
    for target in rule.targets:
        if book.project(target).entity_id != entity.entity_id:
            raise InvalidEventError(
                f"targets: project {target} is not in entity {entity.entity_id}", field="targets"
            )
    if pool == 0:
        return Allocation(rule, period, currency, pool, pool_ids, dict(quantities), {}, ())
    shares = largest_remainder(
        pool, {t: quantities.get(t, Decimal(0)) for t in rule.targets}, currency
    )
    on = last_day(period)
    built = []
    for target, share in shares.items():
        if share == 0:
            continue
        project = book.project(target)
        dims = Dimensions(
            project_id=target, customer_id=project.customer_id, cost_class=CostClass.OPEX
        )
        # Only what the command books goes into its id and memo: a changed driver or
        # pool that leaves this share as it was keeps the command (and its id) as sent.
        memo = (
            f"Allocation {rule.rule_id} v{rule.version} {period}: {show_amount(share, currency)} "
            f"{currency} of {rule.pool_account} to {target} by {rule.driver.lower()}"
        )
        draft = CommandDraft(
            effect=f"allocate:{rule.pool_account}:{rule.target_account}:{share}",
            journal=JOURNAL,
            effective_date=on,
            transaction_currency=currency,
            legs=(
                Leg(rule.target_account, Side.DEBIT, share, dims, rule.methodology),
                Leg(
                    rule.pool_account,
                    Side.CREDIT,
                    share,
                    Dimensions(cost_class=CostClass.OPEX),
                    rule.methodology,
                ),
            ),
            source=close_source(
                ALLOCATION, f"{rule.rule_id}/{period}/{target}", rule.version, period
            ),
            rule_version=rule_version,
            memo=memo,
            related_source_ids=pool_ids,
        )
        built.append(build_command(entity, draft, identity_fx(on)))
    return Allocation(
        rule, period, currency, pool, pool_ids, dict(quantities), shares, tuple(built)
    )


def live_commands(
    commands: Iterable[PostLedgerEntry], kind: str, id_prefix: str
) -> dict[str, PostLedgerEntry]:
    """Return the live POSTs of one run: its kind and id prefix, and no REVERSE undid them.

    Args:
        commands: Commands already sent (read from ``acct.ledger-commands``).
        kind: ``SourceRef.type``, e.g. ``"allocation"``.
        id_prefix: e.g. ``"<rule>/<period>/"``: one run's commands.

    Returns:
        command id -> command, in the order they were sent.

    """
    posted: dict[str, PostLedgerEntry] = {}
    reversed_ids: set[str] = set()
    for command in commands:
        if command.source.type != kind or not command.source.id.startswith(id_prefix):
            continue
        if command.action is CommandAction.REVERSE and command.reverses is not None:
            reversed_ids.add(command.reverses)
        else:
            posted[command.command_id] = command
    return {cid: c for cid, c in posted.items() if cid not in reversed_ids}


def plan_rerun(
    live: Mapping[str, PostLedgerEntry], wanted: Sequence[PostLedgerEntry], *, rule_version: str
) -> tuple[PostLedgerEntry, ...]:
    """Return what a re-run sends: REVERSE each live command not wanted, then POST each new one.

    A wanted command already live (same id: same inputs) is sent again by nobody.
    """
    wanted_ids = {c.command_id for c in wanted}
    reversals = [
        reverse_command(command, command.source, rule_version)
        for cid, command in live.items()
        if cid not in wanted_ids
    ]
    return (*reversals, *(c for c in wanted if c.command_id not in live))
