"""Expense rule (docs/design.md §4): book the cost, and accrue the re-bill if billable.

One approved expense (or any, if its entity does not require approval) becomes up to
two commands in journal ``EXPENSE`` on ``incurred_on``, in the project's entity (the
employee's home entity for a shared cost):

- ``cost``, in the expense currency at SPOT: Dr 5100 Project expenses (6000
  Internal project expense on INTERNAL_OPEX, 1300 Capitalised development on
  INTERNAL_CAPEX, 6100 Shared cost pool when there is no project) / Cr 2100
  Accounts payable; the expense amount rounded to the currency's minor unit.
- ``rebill`` (billable expenses on client projects only), in the project's billing
  currency: Dr 1150 Unbilled / Cr 4100 Reimbursable expense revenue, amount x
  (1 + markup) converted at SPOT into the billing currency if it differs, rounded
  once; then to base at the project's contract rate if it has one, else SPOT.

A billable expense on an internal project or with no project is refused: nobody
can be billed for it.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from streams.domain.accounts import Account
from streams.domain.commands import (
    CommandDraft,
    CostClass,
    Dimensions,
    Leg,
    Side,
    SourceRef,
    build_command,
)
from streams.domain.events import ExpenseRecorded, ExpenseStatus
from streams.domain.exceptions import InvalidEventError
from streams.domain.fx import resolve_rate
from streams.domain.money import MONEY_CONTEXT, round_money, show_amount, show_number
from streams.domain.reference import Project, ProjectKind, ReferenceBook
from streams.domain.rules.booking import approval_of
from streams.domain.rules.outcome import Held, Posted

__all__ = ["JOURNAL", "ExpenseOutcome", "post_expense"]

ExpenseOutcome: TypeAlias = Posted | Held

JOURNAL: Final = "EXPENSE"
_REBILLABLE: Final = frozenset(
    {ProjectKind.CLIENT_TM, ProjectKind.CLIENT_FIXED, ProjectKind.RETAINER}
)


def _cost_account(project: Project | None) -> tuple[Account, CostClass | None]:
    if project is None:
        return Account.SHARED_COST_POOL, CostClass.OPEX
    if project.kind is ProjectKind.INTERNAL_CAPEX:
        return Account.CAPITALISED_DEVELOPMENT, CostClass.CAPEX
    if project.kind is ProjectKind.INTERNAL_OPEX:
        return Account.INTERNAL_PROJECT_EXPENSE, CostClass.OPEX
    return Account.PROJECT_EXPENSES, None


def post_expense(
    expense: ExpenseRecorded, book: ReferenceBook, *, source: SourceRef, rule_version: str
) -> ExpenseOutcome:
    """Book an expense (Dr 5100/6000/1300/6100 / Cr 2100) and its re-bill (Dr 1150 / Cr 4100).

    Args:
        expense: The expense version to post.
        book: Reference data: project, entities, employee, FX rates.
        source: Where the expense was read (its id and version name the commands).
        rule_version: Version of this rule, part of every ``command_id``.

    Returns:
        ``Held("awaiting approval")`` while the entity requires approval and the
        expense is not APPROVED; else ``Posted`` with ``cost`` then ``rebill``.

    Raises:
        MissingReferenceError: The project, entity or employee is not in the book.
        MissingFxRateError: No SPOT rate within the entity's staleness.
        InvalidEventError: A billable expense has no client project to bill.

    """
    project = book.project(expense.project_id) if expense.project_id is not None else None
    entity_id = project.entity_id if project else book.employee(expense.employee_id).entity_id
    entity = book.entity(entity_id)
    if entity.approval_required and expense.status is not ExpenseStatus.APPROVED:
        return Held("awaiting approval")
    if expense.billable and (project is None or project.kind not in _REBILLABLE):
        raise InvalidEventError(
            "billable: a billable expense needs a client project to bill "
            f"(project {expense.project_id})",
            field="billable",
        )
    on, mode = expense.incurred_on, entity.rounding_mode
    account, cost_class = _cost_account(project)
    dims = Dimensions(
        project_id=expense.project_id,
        customer_id=project.customer_id if project else None,
        employee_id=expense.employee_id,
        cost_class=cost_class,
    )

    def draft(effect: str, currency: str, legs: tuple[Leg, ...], memo: str) -> CommandDraft:
        return CommandDraft(
            effect=effect,
            journal=JOURNAL,
            effective_date=on,
            transaction_currency=currency,
            legs=legs,
            source=source,
            rule_version=rule_version,
            memo=memo,
            approval=approval_of(expense.approved_by, expense.approved_at),
        )

    commands = []
    label = f"{expense.category} {expense.expense_id} {expense.employee_id} {on.isoformat()}"
    cost = round_money(expense.amount, expense.currency, mode)
    if not cost.is_zero():
        fx = resolve_rate(
            book, from_ccy=expense.currency, to_ccy=entity.base_currency, on=on, entity=entity
        )
        legs = (
            Leg(account, Side.DEBIT, cost, dims, expense.business_purpose),
            Leg(Account.ACCOUNTS_PAYABLE, Side.CREDIT, cost, dims, expense.business_purpose),
        )
        memo = f"Expense {label} {show_amount(cost, expense.currency)} {expense.currency}"
        commands.append(build_command(entity, draft("cost", expense.currency, legs, memo), fx))
    if expense.billable and project is not None:
        billing = project.billing_currency
        gross = MONEY_CONTEXT.multiply(expense.amount, 1 + expense.markup_rate)
        if billing != expense.currency:
            rate = book.fx_rate(expense.currency, billing, on, entity.fx_max_staleness_days).rate
            gross = MONEY_CONTEXT.multiply(gross, rate)
        rebill = round_money(gross, billing, mode)
        if not rebill.is_zero():
            fx = resolve_rate(
                book,
                from_ccy=billing,
                to_ccy=entity.base_currency,
                on=on,
                entity=entity,
                project=project,
            )
            legs = (
                Leg(
                    Account.UNBILLED_RECEIVABLES, Side.DEBIT, rebill, dims, expense.business_purpose
                ),
                Leg(
                    Account.REIMBURSABLE_EXPENSE_REVENUE,
                    Side.CREDIT,
                    rebill,
                    dims,
                    expense.business_purpose,
                ),
            )
            markup = show_number(expense.markup_rate)
            memo = f"Re-bill {label} markup {markup} = {show_amount(rebill, billing)} {billing}"
            commands.append(build_command(entity, draft("rebill", billing, legs, memo), fx))
    return Posted(tuple(commands))
