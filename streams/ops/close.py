"""Period close, run by an operator: allocate, consolidate, capitalise, depreciate (audited).

Each run reads what it needs (``read_ledger``: every command on
``acct.ledger-commands``, the reference topics, the latest version of every time
entry and expense), computes the period's commands with ``streams/domain/close/``,
compares them with the commands of the same kind already sent, and publishes only
the difference: a REVERSE for each live command the run no longer makes, a POST for
each new one. A second run with the same inputs sends nothing. ``--dry-run`` prints
the plan and publishes nothing. Every run (dry or not) writes one audit record.

The rules, groups, asset classes and assets are versioned data in one YAML file
(``deploy/period-close.yaml`` unless ``LEDGERSTREAM_CLOSE_CONFIG`` names another).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

import yaml
from pydantic import ValidationError

from streams.adapters.audit import AUDIT_TOPIC, AuditLog
from streams.adapters.avro import AvroCodec
from streams.adapters.kafka_io import RecordProducer, read_topics
from streams.domain.accounts import Account
from streams.domain.close.allocation import (
    ALLOCATION,
    Allocation,
    allocate,
    driver_quantities,
    live_commands,
    plan_rerun,
)
from streams.domain.close.capex import (
    CAPITALISATION,
    DEPRECIATION,
    asset_cost,
    capitalise,
    depreciate,
)
from streams.domain.close.config import CloseConfig
from streams.domain.close.consolidation import ELIMINATION, Consolidation, consolidate
from streams.domain.close.period import last_day, parse_period
from streams.domain.commands import CommandAction, PostLedgerEntry, period_of
from streams.domain.events import ExpenseRecorded, TimeEntryRecorded, parse_event
from streams.domain.exceptions import LedgerstreamError
from streams.domain.money import show_amount
from streams.domain.period_locks import PeriodLocks, period_lock_of
from streams.domain.reference import REFERENCE_TOPICS, ReferenceBook
from streams.ops.action import Operator, audited
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.toggles import read_toggles
from streams.settings import Settings

__all__ = [
    "COMMANDS_TOPIC",
    "EXIT_EXCEPTIONS",
    "Ledger",
    "Plan",
    "latest_work",
    "ledger_of",
    "load_config",
    "plan_allocation",
    "plan_capitalisation",
    "plan_consolidation",
    "plan_depreciation",
    "read_ledger",
    "run_close",
]

COMMANDS_TOPIC: Final = "acct.ledger-commands"
ENTRIES_TOPIC: Final = "pm.time-entries"
EXPENSES_TOPIC: Final = "pm.expenses"
#: Exit status of a consolidation that reported intercompany exceptions.
EXIT_EXCEPTIONS: Final = 4


def load_config(path: Path) -> CloseConfig:
    """Read the period-close YAML (rules, groups, asset classes, assets).

    Raises:
        InvalidArgumentError: The file is missing, not YAML, or does not validate
            (the message names the field).

    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return CloseConfig.model_validate(data)
    except OSError as exc:
        raise InvalidArgumentError(f"{path}: {exc.strerror}", field="config") from exc
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"{path}: not YAML: {exc}", field="config") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidArgumentError(f"{path}: {where}: {first['msg']}", field=where) from exc


@dataclass(slots=True)
class Ledger:
    """What a period-close run reads: the commands sent, reference data, the work done."""

    commands: list[PostLedgerEntry] = field(default_factory=list)
    book: ReferenceBook = field(default_factory=ReferenceBook)
    entries: list[TimeEntryRecorded] = field(default_factory=list)
    expenses: list[ExpenseRecorded] = field(default_factory=list)


def latest_work(
    records: Iterable[tuple[str, str, Mapping[str, Any] | None]],
) -> tuple[list[TimeEntryRecorded], list[ExpenseRecorded]]:
    """Keep the newest version of each time entry and expense; a tombstone deletes it.

    Args:
        records: ``(topic, key, decoded value or None)`` in the order read.

    """
    entries: dict[str, TimeEntryRecorded] = {}
    expenses: dict[str, ExpenseRecorded] = {}
    for topic, key, value in records:
        if topic == ENTRIES_TOPIC:
            if value is None:
                entries.pop(key, None)
                continue
            entry = parse_event(TimeEntryRecorded, value)
            if key not in entries or entries[key].version < entry.version:
                entries[key] = entry
        elif topic == EXPENSES_TOPIC:
            if value is None:
                expenses.pop(key, None)
                continue
            expense = parse_event(ExpenseRecorded, value)
            if key not in expenses or expenses[key].version < expense.version:
                expenses[key] = expense
    return list(entries.values()), list(expenses.values())


def ledger_of(
    commands: Iterable[PostLedgerEntry],
    reference: Iterable[tuple[str, str, Mapping[str, Any] | None]],
    work: Iterable[tuple[str, str, Mapping[str, Any] | None]],
) -> Ledger:
    """Build a ledger from records already decoded (the demo, a dry run, tests).

    Args:
        commands: The commands sent so far.
        reference: ``(topic, key, value)`` of the reference topics, in order.
        work: ``(topic, key, value or None)`` of time entries and expenses, in order.

    """
    ledger = Ledger(commands=list(commands))
    for topic, key, value in reference:
        kind, model = REFERENCE_TOPICS[topic]
        if value is None:
            ledger.book.delete(kind, key)
        else:
            ledger.book.put(key, parse_event(model, value))
    ledger.entries, ledger.expenses = latest_work(work)
    return ledger


def read_ledger(settings: Settings, codec: AvroCodec, *, idle_seconds: float = 2.0) -> Ledger:
    """Read the commands, the reference topics and the work, each to its end.

    Undecodable records are skipped here (the worker dead-letters them); a command
    that does not decode is an error, since a close computed without it would be wrong.
    """
    ledger = Ledger()
    physical = {settings.topic(t): t for t in [COMMANDS_TOPIC, *REFERENCE_TOPICS]}
    physical |= {settings.topic(ENTRIES_TOPIC): ENTRIES_TOPIC}
    physical |= {settings.topic(EXPENSES_TOPIC): EXPENSES_TOPIC}
    work: list[tuple[str, str, Mapping[str, Any] | None]] = []
    client = settings.kafka_client_config()
    for record in read_topics(client, list(physical), idle_seconds=idle_seconds, max_seconds=600):
        topic = physical[record.topic]
        key = (record.key or b"").decode(errors="replace")
        if topic == COMMANDS_TOPIC:
            if record.value is not None:
                decoded = codec.decode(topic, record.value).record
                ledger.commands.append(PostLedgerEntry.model_validate(decoded))
            continue
        try:
            value = None if record.value is None else codec.decode(topic, record.value).record
        except LedgerstreamError:
            continue
        if topic in REFERENCE_TOPICS:
            kind, model = REFERENCE_TOPICS[topic]
            if value is None:
                ledger.book.delete(kind, key)
            else:
                try:
                    ledger.book.put(key, parse_event(model, value))
                except LedgerstreamError:
                    continue
        else:
            work.append((topic, key, value))
    try:
        ledger.entries, ledger.expenses = latest_work(work)
    except LedgerstreamError:
        ledger.entries, ledger.expenses = _tolerant(work)
    return ledger


def _tolerant(
    work: Sequence[tuple[str, str, Mapping[str, Any] | None]],
) -> tuple[list[TimeEntryRecorded], list[ExpenseRecorded]]:
    """Like ``latest_work``, leaving out the records that do not validate (dead letters)."""
    good = []
    for item in work:
        try:
            latest_work([item])
        except LedgerstreamError:
            continue
        good.append(item)
    return latest_work(good)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run sends (REVERSEs then POSTs), what it says, and its exceptions."""

    action: str
    send: tuple[PostLedgerEntry, ...]
    report: tuple[str, ...]
    exceptions: tuple[str, ...] = ()
    unchanged: int = 0


def _period(period: str) -> str:
    try:
        parse_period(period)
    except LedgerstreamError as exc:
        raise InvalidArgumentError(
            f"--period: expected YYYY-MM, got {period!r}", field="--period"
        ) from exc
    return period


def plan_allocation(
    config: CloseConfig, ledger: Ledger, entity_id: str, period: str, *, rule_version: str
) -> Plan:
    """Allocate each of the entity's pools for the period; reverse and re-post what changed.

    Raises:
        InvalidArgumentError: The entity has no allocation rule, or the period is malformed.

    """
    _period(period)
    rules = config.rules_for(entity_id)
    if not rules:
        raise InvalidArgumentError(
            f"--entity: no allocation rule for entity {entity_id}", field="--entity"
        )
    entity = ledger.book.entity(entity_id)
    send: list[PostLedgerEntry] = []
    report: list[str] = []
    unchanged = 0
    for rule in rules:
        quantities = driver_quantities(rule, period, entity, ledger.entries, ledger.expenses)
        result = allocate(
            rule, period, ledger.book, ledger.commands, quantities, rule_version=rule_version
        )
        live = live_commands(ledger.commands, ALLOCATION, f"{rule.rule_id}/{period}/")
        changes = plan_rerun(live, result.commands, rule_version=rule_version)
        unchanged += sum(1 for c in result.commands if c.command_id in live)
        send += changes
        report += _allocation_report(result, ledger.commands)
    return Plan("allocate", tuple(send), tuple(report), unchanged=unchanged)


def _allocation_report(result: Allocation, commands: Sequence[PostLedgerEntry]) -> list[str]:
    rule, ccy = result.rule, result.currency
    whole = sum(result.quantities.values(), Decimal(0))
    lines = [
        f"allocation {rule.rule_id} v{rule.version} {rule.entity_id} {result.period}: pool "
        f"{rule.pool_account} {show_amount(result.pool, ccy)} {ccy} from "
        f"{len(result.pool_source_ids)} record(s) by {rule.driver.lower()} (total {_qty(whole)})"
    ]
    for target in rule.targets:
        share = result.shares.get(target, Decimal(0))
        lines.append(
            f"  {target:<10} {rule.driver.lower()} "
            f"{_qty(result.quantities.get(target, Decimal(0))):>10}"
            f"  allocated {show_amount(share, ccy):>12} {ccy}"
        )
    lines += _profitability(result, commands)
    return lines


#: Where a project's own costs post (time and expenses; docs/posting-rules.md).
_DIRECT_COST: Final = (
    Account.COST_OF_SERVICES,
    Account.PROJECT_EXPENSES,
    Account.INTERNAL_PROJECT_EXPENSE,
    Account.CAPITALISED_DEVELOPMENT,
)


def _profitability(result: Allocation, commands: Sequence[PostLedgerEntry]) -> list[str]:
    """Each target's direct cost and allocated cost for the period (base currency).

    Computed from the commands (there is no books report to read it from): direct =
    net debits on 5000/5100/6000/1300 tagged with the project; allocated = its share.
    """
    rule, ccy = result.rule, result.currency
    codes = {str(a) for a in _DIRECT_COST}
    direct = dict.fromkeys(rule.targets, Decimal(0))
    for command in commands:
        if command.entity_id != rule.entity_id or command.period != result.period:
            continue
        if command.source.type == ALLOCATION:
            continue
        for line in command.lines:
            project = line.dimensions.project_id
            if project in direct and line.account in codes:
                signed = line.base_amount if line.side == "DEBIT" else -line.base_amount
                direct[project] += signed
    lines = [f"  project cost {result.period} ({ccy}): direct + allocated = total"]
    for target in rule.targets:
        allocated = result.shares.get(target, Decimal(0))
        lines.append(
            f"  {target:<10} {show_amount(direct[target], ccy):>12} + "
            f"{show_amount(allocated, ccy):>10} = "
            f"{show_amount(direct[target] + allocated, ccy):>12}"
        )
    return lines


def plan_consolidation(
    config: CloseConfig, ledger: Ledger, group_id: str, period: str, *, rule_version: str
) -> Plan:
    """Eliminate the group's intercompany balances for the period at its closing rates.

    Raises:
        InvalidArgumentError: No such group, or the period is malformed.
        MissingFxRateError: No closing rate for an entity's currency.

    """
    _period(period)
    try:
        group = config.group(group_id)
    except LedgerstreamError as exc:
        raise InvalidArgumentError(str(exc), field="--group") from exc
    on = last_day(period)
    staleness = max(
        (ledger.book.entity(e).fx_max_staleness_days for e in group.entities), default=5
    )
    rates: dict[str, Decimal] = {}
    for entity_id in group.entities:
        ccy = ledger.book.entity(entity_id).base_currency
        if ccy != group.reporting_currency and ccy not in rates:
            rates[ccy] = ledger.book.fx_rate(ccy, group.reporting_currency, on, staleness).rate
    result = consolidate(group, period, ledger.commands, rates, rule_version=rule_version)
    live = live_commands(ledger.commands, ELIMINATION, f"{group.group_id}/{period}/")
    changes = plan_rerun(live, result.commands, rule_version=rule_version)
    return Plan(
        "consolidate",
        changes,
        tuple(_consolidation_report(result, rates)),
        tuple(_exception_lines(result)),
        unchanged=sum(1 for c in result.commands if c.command_id in live),
    )


def _consolidation_report(result: Consolidation, rates: Mapping[str, Decimal]) -> list[str]:
    group = result.group
    shown = ", ".join(f"{k}/{group.reporting_currency} {v}" for k, v in sorted(rates.items()))
    lines = [
        f"consolidation {group.group_id} v{group.version} {result.period} into "
        f"{group.book_entity_id} ({group.reporting_currency}; closing {shown or 'none needed'}): "
        f"{len(result.commands)} elimination(s), {len(result.exceptions)} exception(s)"
    ]
    for command in result.commands:
        legs = " ".join(
            f"{'Dr' if ln.side == 'DEBIT' else 'Cr'} {ln.account} "
            f"{show_amount(ln.amount, command.transaction_currency)}"
            for ln in command.lines
        )
        lines.append(f"  {command.source.id}: {legs} {command.transaction_currency}")
    return lines


def _exception_lines(result: Consolidation) -> list[str]:
    ccy = result.group.reporting_currency
    return [
        f"exception {e.pair} {e.debit_entity}/{e.credit_entity}: {e.reason} "
        f"({e.debit_entity} {show_amount(e.debit_amount, ccy)} {ccy}: "
        f"{','.join(e.debit_source_ids) or '-'}; "
        f"{e.credit_entity} {show_amount(e.credit_amount, ccy)} {ccy}: "
        f"{','.join(e.credit_source_ids) or '-'})"
        for e in result.exceptions
    ]


def plan_capitalisation(
    config: CloseConfig, ledger: Ledger, asset_id: str, *, rule_version: str
) -> Plan:
    """Place an asset in service: move its project's AUC balance to the fixed-asset account.

    Raises:
        InvalidArgumentError: No such asset in the config, or its class is unknown.

    """
    asset = next((a for a in config.assets if a.asset_id == asset_id), None)
    if asset is None:
        raise InvalidArgumentError(
            f"--asset: no asset {asset_id} in the period-close config", field="--asset"
        )
    try:
        asset_class = config.asset_class(asset.class_id)
    except LedgerstreamError as exc:
        raise InvalidArgumentError(str(exc), field="--asset") from exc
    entity = ledger.book.entity(asset.entity_id)
    moved = capitalise(asset, asset_class, entity, ledger.commands, rule_version=rule_version)
    live = {
        cid: c
        for cid, c in live_commands(ledger.commands, CAPITALISATION, asset.asset_id).items()
        if c.source.id == asset.asset_id
    }
    wanted = () if moved is None else (moved,)
    report = (
        f"in service {asset.asset_id} ({asset_class.class_id} {asset_class.depreciation_code}, "
        f"{asset_class.useful_life_months} months) on {asset.in_service.isoformat()}: "
        + (
            moved.memo if moved is not None else f"nothing under construction on {asset.project_id}"
        ),
    )
    changes = plan_rerun(live, wanted, rule_version=rule_version)
    return Plan(
        "capitalise", changes, report, unchanged=sum(1 for c in wanted if c.command_id in live)
    )


def plan_depreciation(
    config: CloseConfig, ledger: Ledger, entity_id: str, period: str, *, rule_version: str
) -> Plan:
    """Post the period's straight-line depreciation of every capitalised asset of the entity."""
    _period(period)
    entity = ledger.book.entity(entity_id)
    send: list[PostLedgerEntry] = []
    report: list[str] = []
    unchanged = 0
    for asset in (a for a in config.assets if a.entity_id == entity_id):
        asset_class = config.asset_class(asset.class_id)
        cost = asset_cost(asset, asset_class, ledger.commands)
        charge = depreciate(asset, asset_class, entity, cost, period, rule_version=rule_version)
        live = {
            cid: c
            for cid, c in live_commands(ledger.commands, DEPRECIATION, asset.asset_id).items()
            if c.source.id == asset.asset_id and period_of(c.effective_date) == period
        }
        wanted = () if charge is None else (charge,)
        unchanged += sum(1 for c in wanted if c.command_id in live)
        send += plan_rerun(live, wanted, rule_version=rule_version)
        ccy = entity.base_currency
        report.append(
            charge.memo
            if charge is not None
            else f"depreciation {asset.asset_id} {period}: none "
            f"(cost {show_amount(cost, ccy)} {ccy}; "
            "not capitalised yet, or outside its life)"
        )
    return Plan("depreciate", tuple(send), tuple(report), unchanged=unchanged)


def run_close(
    settings: Settings,
    codec: AvroCodec,
    *,
    action: str,
    arguments: Mapping[str, Any],
    planner: Callable[[Ledger], Plan],
    dry_run: bool,
    operator: Operator,
    out: TextIO,
) -> int:
    """Read the ledger, plan, print, publish (unless a dry run) and audit one close action.

    Returns:
        0, or ``EXIT_EXCEPTIONS`` when the plan reported exceptions.

    """
    log = AuditLog(settings.kafka_client_config(), settings.topic(AUDIT_TOPIC))
    with audited(log, operator, f"close.{action}", {**arguments, "dry_run": dry_run}) as record:
        plan = planner(read_ledger(settings, codec))
        # a closed period takes nothing new: its close commands post into the first open
        # period, with late_for_period, as the stream's do (docs/period-close.md)
        locks = _period_locks(settings, codec)
        plan = replace(plan, send=locks.placed_all(plan.send))
        for line in (*plan.report, *plan.exceptions):
            out.write(line + "\n")
        for command in plan.send:
            verb = "REVERSE" if command.action is CommandAction.REVERSE else "POST   "
            out.write(
                f"{'would send' if dry_run else 'sent'} {verb} "
                f"{command.command_id} {command.memo}\n"
            )
        if not dry_run and plan.send:
            producer = RecordProducer(settings.kafka_client_config(), linger_ms=0)
            topic = settings.topic(COMMANDS_TOPIC)
            for command in plan.send:
                value = codec.encode(COMMANDS_TOPIC, command.model_dump())
                producer.send(topic, command.entity_id.encode(), value)
            producer.flush()
        reversed_n = sum(1 for c in plan.send if c.action is CommandAction.REVERSE)
        record.counts.update(
            {
                "reversed": reversed_n,
                "posted": len(plan.send) - reversed_n,
                "unchanged": plan.unchanged,
                "exceptions": len(plan.exceptions),
            }
        )
        record.details["command_ids"] = [c.command_id for c in plan.send]
        if dry_run:
            record.outcome = "dry-run"
        out.write(
            f"{action}: {len(plan.send) - reversed_n} to post, {reversed_n} to reverse, "
            f"{plan.unchanged} unchanged, {len(plan.exceptions)} exception(s)"
            f"{' (dry run: nothing sent)' if dry_run else ''}\n"
        )
    return EXIT_EXCEPTIONS if plan.exceptions else 0


def _period_locks(settings: Settings, codec: AvroCodec) -> PeriodLocks:
    """Read the closed periods from the control topic (as every worker does)."""
    closed = set()
    for name, toggle in read_toggles(settings, codec, idle_seconds=1.0).items():
        lock = period_lock_of(name)
        if lock is not None and toggle is not None and toggle.enabled:
            closed.add(lock)
    return PeriodLocks(frozenset(closed))


def _qty(quantity: Decimal) -> str:
    """Show a driver quantity to two places (hours of 50 minutes are 0.8333...)."""
    return str(quantity.quantize(Decimal("0.01")))
