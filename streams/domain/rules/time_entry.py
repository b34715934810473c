"""Time entry rule (docs/design.md §4): accrue revenue and labour cost for time worked.

One approved time entry (or any entry, if no entity it posts in requires approval:
the project's entity, and for intercompany time the employee's too) becomes up to
three commands, all in journal ``TIME`` on the entry's business date (``started_at``
in the timezone of the entity each command posts in):

- ``revenue`` (billable entries on CLIENT_TM and RETAINER projects only), in the
  project entity, in the billing currency: Dr 1150 Unbilled / Cr 4000 Revenue,
  billable minutes (rounded UP to the project's increment, times the billable
  fraction) / 60 x rate.
- ``cost``, in the project entity, in the employee's cost currency: Dr 5000 (1300
  on INTERNAL_CAPEX, 6000 on INTERNAL_OPEX) / Cr 2150 Accrued payroll, actual
  minutes / 60 x cost rate.
- Intercompany (employee's home entity is not the project's) replaces ``cost`` by
  ``ic-cost`` in the project entity (Dr cost account / Cr 2400 Intercompany
  payable) and ``ic-recharge`` in the home entity (Dr 1200 Intercompany receivable
  / Cr 2150), each tagged with the other entity as counterparty.

An effect whose amount rounds to zero posts nothing. The project's contract FX rate
applies to revenue only; costs convert at SPOT (or IDENTITY).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, TypeAlias

from streams.domain.accounts import Account
from streams.domain.commands import (
    Approval,
    CommandDraft,
    CostClass,
    Dimensions,
    Leg,
    PostLedgerEntry,
    Side,
    SourceRef,
    build_command,
)
from streams.domain.events import TimeEntryRecorded, TimeEntryStatus
from streams.domain.exceptions import NoBillingRateError
from streams.domain.fx import resolve_rate
from streams.domain.money import MONEY_CONTEXT, round_money, show_amount
from streams.domain.reference import (
    Employee,
    LegalEntity,
    Project,
    ProjectKind,
    ReferenceBook,
)
from streams.domain.rules.outcome import Held, Posted

__all__ = [
    "JOURNAL",
    "TimeEntryOutcome",
    "billable_minutes",
    "billing_rate",
    "post_time_entry",
]

TimeEntryOutcome: TypeAlias = Posted | Held

JOURNAL: Final = "TIME"
AWAITING_APPROVAL: Final = "awaiting approval"
_BILLABLE_KINDS: Final = frozenset({ProjectKind.CLIENT_TM, ProjectKind.RETAINER})
_SIXTY: Final = Decimal(60)
_HOURS_SHOWN: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class _Work:
    """One entry with everything resolved that every effect needs."""

    entry: TimeEntryRecorded
    project: Project
    entity: LegalEntity
    employee: Employee
    home: LegalEntity
    on: date
    source: SourceRef
    rule_version: str

    def local_date(self, entity: LegalEntity) -> date:
        """Return the business date of the entry in ``entity``'s timezone."""
        if entity.entity_id == self.entity.entity_id:
            return self.on
        return self.entry.started_at.astimezone(entity.zone).date()

    def draft(
        self,
        effect: str,
        currency: str,
        legs: tuple[Leg, ...],
        memo: str,
        on: date | None = None,
    ) -> CommandDraft:
        entry = self.entry
        approval = (
            Approval(approved_by=entry.approved_by, approved_at=entry.approved_at)
            if entry.approved_by is not None and entry.approved_at is not None
            else None
        )
        return CommandDraft(
            effect=effect,
            journal=JOURNAL,
            effective_date=self.on if on is None else on,
            transaction_currency=currency,
            legs=legs,
            source=self.source,
            rule_version=self.rule_version,
            memo=memo,
            approval=approval,
        )

    def dimensions(
        self, counterparty: str | None = None, cost_class: CostClass | None = None
    ) -> Dimensions:
        return Dimensions(
            project_id=self.project.project_id,
            customer_id=self.project.customer_id,
            task_id=self.entry.task_id,
            employee_id=self.entry.employee_id,
            counterparty_entity_id=counterparty,
            cost_class=cost_class,
        )

    def memo(
        self, label: str, minutes: Decimal, rate: Decimal, currency: str, on: date | None = None
    ) -> str:
        hours = MONEY_CONTEXT.divide(minutes, _SIXTY).quantize(_HOURS_SHOWN, context=MONEY_CONTEXT)
        day = (self.on if on is None else on).isoformat()
        return (
            f"{label} {day} {self.entry.employee_id} {hours}h"
            f" @ {show_amount(rate, currency)} {currency} on {self.project.project_id}"
        )


def post_time_entry(
    entry: TimeEntryRecorded,
    book: ReferenceBook,
    *,
    source: SourceRef,
    rule_version: str,
) -> TimeEntryOutcome:
    """Accrue revenue (Dr 1150 / Cr 4000) and labour cost (Dr 5000 / Cr 2150) for time.

    Args:
        entry: The time entry version to post.
        book: Reference data: project, entities, employee, customer, FX rates.
        source: Where the entry was read; its ``id`` and ``version`` must be the
            entry's (they name the commands).
        rule_version: Version of this rule, part of every ``command_id``.

    Returns:
        ``Held("awaiting approval")`` if the project entity (or, for intercompany
        time, the employee's entity) requires approval and the entry is not
        APPROVED; else ``Posted`` with the commands in the order
        revenue, cost (or ic-cost, ic-recharge). Zero-amount effects are left out.

    Raises:
        MissingReferenceError: The project, an entity, the employee or (when its
            default rate is needed) the customer is not in the book yet.
        MissingFxRateError: No SPOT rate within the posting entity's staleness.
        NoBillingRateError: A billable entry has no rate at any level.
        ValueError: ``source`` does not name this entry and version.

    """
    if source.id != entry.entry_id or source.version != entry.version:
        raise ValueError(
            f"source {source.id} v{source.version} is not entry {entry.entry_id} v{entry.version}"
        )
    project = book.project(entry.project_id)
    entity = book.entity(project.entity_id)
    if entity.approval_required and entry.status is not TimeEntryStatus.APPROVED:
        return Held(AWAITING_APPROVAL)
    employee = book.employee(entry.employee_id)
    home = entity if employee.entity_id == entity.entity_id else book.entity(employee.entity_id)
    if home.approval_required and entry.status is not TimeEntryStatus.APPROVED:
        # intercompany: the recharge posts in the employee's entity, under its policy too
        return Held(f"{AWAITING_APPROVAL} (required by {home.entity_id}, the employee's entity)")
    work = _Work(
        entry=entry,
        project=project,
        entity=entity,
        employee=employee,
        home=home,
        on=entry.started_at.astimezone(entity.zone).date(),
        source=source,
        rule_version=rule_version,
    )
    return Posted((*_revenue(work, book), *_costs(work, book)))


def billable_minutes(entry: TimeEntryRecorded, project: Project) -> Decimal:
    """Return the minutes to bill: duration rounded UP to the increment, times the fraction.

    Args:
        entry: The time entry (duration and billable fraction; null fraction = 1).
        project: The project (``rounding_increment_minutes``; 0 = no rounding).

    Returns:
        The billable minutes as an exact Decimal (may be fractional).

    """
    minutes = entry.duration_minutes
    step = project.rounding_increment_minutes
    if step > 0:
        minutes = -(-minutes // step) * step
    fraction = entry.billable_fraction if entry.billable_fraction is not None else Decimal(1)
    return MONEY_CONTEXT.multiply(Decimal(minutes), fraction)


def billing_rate(entry: TimeEntryRecorded, project: Project, book: ReferenceBook) -> Decimal:
    """Return the hourly rate to bill, in the project's billing currency.

    Precedence: the entry's ``rate_override``, the project's rate for the task, its
    rate for the employee, the project rate, then the customer's default rate if
    the customer bills in the project's currency.

    Raises:
        NoBillingRateError: No level has a rate.
        MissingReferenceError: The customer's default is needed but not in the book.

    """
    candidates = (
        entry.rate_override,
        project.task_rates.get(entry.task_id) if entry.task_id is not None else None,
        project.employee_rates.get(entry.employee_id),
        project.rate,
    )
    for rate in candidates:
        if rate is not None:
            return rate
    if project.customer_id is not None:
        customer = book.customer(project.customer_id)
        if customer.default_rate is not None and customer.currency == project.billing_currency:
            return customer.default_rate
    raise NoBillingRateError(
        f"no billing rate for employee {entry.employee_id} on project {project.project_id}"
        f" (task {entry.task_id}) in {project.billing_currency}"
    )


def _revenue(work: _Work, book: ReferenceBook) -> list[PostLedgerEntry]:
    entry, project, entity = work.entry, work.project, work.entity
    if not entry.billable or project.kind not in _BILLABLE_KINDS or entry.duration_minutes == 0:
        return []
    minutes = billable_minutes(entry, project)
    rate = billing_rate(entry, project, book)
    currency = project.billing_currency
    amount = round_money(
        MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(minutes, rate), _SIXTY),
        currency,
        entity.rounding_mode,
    )
    if amount.is_zero():
        return []
    fx = resolve_rate(
        book,
        from_ccy=currency,
        to_ccy=entity.base_currency,
        on=work.on,
        entity=entity,
        project=project,
    )
    dims = work.dimensions()
    legs = (
        Leg(Account.UNBILLED_RECEIVABLES, Side.DEBIT, amount, dims, entry.description),
        Leg(Account.SERVICE_REVENUE, Side.CREDIT, amount, dims, entry.description),
    )
    memo = work.memo("Time", minutes, rate, currency)
    return [build_command(entity, work.draft("revenue", currency, legs, memo), fx)]


def _cost_account(kind: ProjectKind) -> tuple[Account, CostClass | None]:
    if kind is ProjectKind.INTERNAL_CAPEX:
        return Account.CAPITALISED_DEVELOPMENT, CostClass.CAPEX
    if kind is ProjectKind.INTERNAL_OPEX:
        return Account.INTERNAL_PROJECT_EXPENSE, CostClass.OPEX
    return Account.COST_OF_SERVICES, None


def _costs(work: _Work, book: ReferenceBook) -> list[PostLedgerEntry]:
    entry, employee, entity, home = work.entry, work.employee, work.entity, work.home
    currency = employee.cost_currency
    minutes = Decimal(entry.duration_minutes)
    amount = round_money(
        MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(minutes, employee.cost_rate), _SIXTY),
        currency,
        home.rounding_mode,
    )
    if amount.is_zero():
        return []
    account, cost_class = _cost_account(work.project.kind)
    memo = work.memo("Time cost", minutes, employee.cost_rate, currency)
    if home.entity_id == entity.entity_id:
        dims = work.dimensions(cost_class=cost_class)
        legs = (
            Leg(account, Side.DEBIT, amount, dims, entry.description),
            Leg(Account.ACCRUED_PAYROLL, Side.CREDIT, amount, dims, entry.description),
        )
        return [_in_base(work, book, entity, work.draft("cost", currency, legs, memo))]
    ic_dims = work.dimensions(counterparty=home.entity_id, cost_class=cost_class)
    ic_cost = (
        Leg(account, Side.DEBIT, amount, ic_dims, entry.description),
        Leg(Account.INTERCOMPANY_PAYABLE, Side.CREDIT, amount, ic_dims, entry.description),
    )
    recharge_dims = work.dimensions(counterparty=entity.entity_id, cost_class=cost_class)
    recharge = (
        Leg(Account.INTERCOMPANY_RECEIVABLE, Side.DEBIT, amount, recharge_dims, entry.description),
        Leg(Account.ACCRUED_PAYROLL, Side.CREDIT, amount, recharge_dims, entry.description),
    )
    home_on = work.local_date(home)  # each side on its own entity's local date
    home_memo = work.memo("Time cost", minutes, employee.cost_rate, currency, home_on)
    return [
        _in_base(work, book, entity, work.draft("ic-cost", currency, ic_cost, memo)),
        _in_base(
            work, book, home, work.draft("ic-recharge", currency, recharge, home_memo, home_on)
        ),
    ]


def _in_base(
    work: _Work, book: ReferenceBook, entity: LegalEntity, draft: CommandDraft
) -> PostLedgerEntry:
    """Build a cost command in ``entity``, converted at SPOT (no contract rate) of its date."""
    fx = resolve_rate(
        book,
        from_ccy=draft.transaction_currency,
        to_ccy=entity.base_currency,
        on=draft.effective_date,
        entity=entity,
    )
    return build_command(entity, draft, fx)
