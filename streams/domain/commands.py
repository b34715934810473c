"""The posting command sent to the accounting sink, balanced by construction.

``PostLedgerEntry`` mirrors the Avro record of ``acct.ledger-commands`` field for
field, so ``model_dump()`` encodes straight. It refuses to exist unbalanced: debits
equal credits in transaction and in base currency, every amount is non-negative and
already at its currency's exponent. ``build_command`` makes one from lines in the
transaction currency: it converts each line to base at the FX rate with the entity's
rounding mode and puts any base residual on the entity's 7950 Rounding account.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from streams.domain.accounts import Account, resolve_account
from streams.domain.exceptions import UnbalancedCommandError
from streams.domain.fields import CurrencyCode, FxRateValue, SignedMoneyValue
from streams.domain.money import MONEY_CONTEXT, convert_amount, exponent
from streams.domain.reference import LegalEntity
from streams.domain.trusted import trusted

__all__ = [
    "LEDGERSTREAM_NAMESPACE",
    "Approval",
    "CommandAction",
    "CommandDraft",
    "CostClass",
    "Dimensions",
    "FxProvenance",
    "Leg",
    "PostLedgerEntry",
    "PostingLine",
    "RateType",
    "Side",
    "SourceRef",
    "build_command",
    "check_balanced",
    "command_id",
    "period_of",
]

LEDGERSTREAM_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://ledgerstream.io/commands")
"""UUID5 namespace of every ``command_id``."""


class CommandAction(StrEnum):
    """Post a new entry, or reverse one posted earlier (``reverses`` names it)."""

    POST = "POST"
    REVERSE = "REVERSE"


class Side(StrEnum):
    """Debit or credit."""

    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class RateType(StrEnum):
    """Where a command's FX rate came from."""

    SPOT = "SPOT"
    CONTRACT = "CONTRACT"
    IDENTITY = "IDENTITY"


class CostClass(StrEnum):
    """Whether a cost is expensed (OPEX) or capitalised (CAPEX)."""

    OPEX = "OPEX"
    CAPEX = "CAPEX"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class FxProvenance(_Record):
    """The rate that turned transaction amounts into base amounts, and its origin."""

    rate: FxRateValue
    rate_type: RateType
    rate_date: date
    source: str
    quoted_at: AwareDatetime | None = None
    contract_id: str | None = None


class Dimensions(_Record):
    """Analysis tags of a posting line."""

    project_id: str | None = None
    customer_id: str | None = None
    task_id: str | None = None
    employee_id: str | None = None
    tax_code: str | None = None
    counterparty_entity_id: str | None = None
    cost_class: CostClass | None = None


class PostingLine(_Record):
    """One debit or credit: transaction amount and its base-currency equivalent.

    Amounts are never negative in a command; ``PostLedgerEntry`` checks that, so a
    negative one raises ``UnbalancedCommandError`` like any other imbalance.
    """

    line_no: int = Field(ge=1)
    account: str
    side: Side
    amount: SignedMoneyValue
    base_amount: SignedMoneyValue
    memo: str = ""
    dimensions: Dimensions = Field(default_factory=Dimensions)


class SourceRef(_Record):
    """The event a command came from, and where it was read."""

    system: str
    type: str
    id: str
    version: int
    topic: str
    partition: int
    offset: int
    event_time: AwareDatetime


class Approval(_Record):
    """Who approved the source event, and when."""

    approved_by: str
    approved_at: AwareDatetime


class PostLedgerEntry(_Record):
    """Post (or reverse) one balanced journal entry in one entity's ledger.

    Raises:
        UnbalancedCommandError: On construction, if the lines do not balance in
            transaction or base currency, there are fewer than two, an amount is
            negative or has more decimals than its currency, or line numbers are
            not 1..n.

    """

    command_id: str
    action: CommandAction
    reverses: str | None = None
    entity_id: str
    journal: str
    effective_date: date
    period: str
    transaction_currency: CurrencyCode
    base_currency: CurrencyCode
    fx: FxProvenance
    lines: tuple[PostingLine, ...]
    source: SourceRef
    approval: Approval | None = None
    rule_version: str
    memo: str
    trace_id: str | None = None
    span_id: str | None = None
    late_for_period: str | None = None
    related_source_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _balanced(self) -> PostLedgerEntry:
        check_balanced(self.command_id, self.lines, self.transaction_currency, self.base_currency)
        return self


def check_balanced(
    command_id: str,
    lines: Sequence[PostingLine],
    transaction_currency: str,
    base_currency: str,
) -> None:
    """Check that a command's lines balance in transaction and base currency.

    Raises:
        UnbalancedCommandError: Fewer than two lines, line numbers not 1..n, an
            amount negative or with more decimals than its currency, or debits
            not equal to credits in either currency.
        UnknownCurrencyError: A currency has no known exponent.

    """
    if len(lines) < 2:
        raise UnbalancedCommandError(
            f"command {command_id} has {len(lines)} line(s); needs 2+", field="lines"
        )
    txn_exp, base_exp = exponent(transaction_currency), exponent(base_currency)
    add = MONEY_CONTEXT.add
    dr = cr = dr_base = cr_base = _ZERO
    for i, line in enumerate(lines):
        if line.line_no != i + 1:
            raise UnbalancedCommandError(
                f"line {i} is numbered {line.line_no}; expected {i + 1}",
                field=f"lines.{i}.line_no",
            )
        amount, base = line.amount, line.base_amount
        _check_amount(amount, txn_exp, f"lines.{i}.amount")
        _check_amount(base, base_exp, f"lines.{i}.base_amount")
        if line.side is Side.DEBIT:
            dr, dr_base = add(dr, amount), add(dr_base, base)
        else:
            cr, cr_base = add(cr, amount), add(cr_base, base)
    if dr != cr:
        raise UnbalancedCommandError(
            f"debits {dr} != credits {cr} {transaction_currency}", field="lines"
        )
    if dr_base != cr_base:
        raise UnbalancedCommandError(
            f"base debits {dr_base} != credits {cr_base} {base_currency}", field="lines"
        )


_ZERO: Final = Decimal(0)
#: The smallest unit per currency exponent (``exponent`` knows 0 to 4).
_QUANTA: Final = {exp: Decimal(1).scaleb(-exp) for exp in range(5)}


def _check_amount(amount: Decimal, exp: int, path: str) -> None:
    # Equal to itself at the currency's exponent: no more decimals than the currency has
    # (trailing zeros allowed). Cheaper than reading the exponent through as_tuple().
    if amount < 0:
        raise UnbalancedCommandError(f"{path}: {amount} is negative", field=path)
    if amount.quantize(_QUANTA[exp], context=MONEY_CONTEXT) != amount:
        raise UnbalancedCommandError(f"{path}: {amount} has more than {exp} decimals", field=path)


def period_of(effective_date: date) -> str:
    """Name the accounting period a business date falls in: ``"YYYY-MM"``."""
    return f"{effective_date.year:04d}-{effective_date.month:02d}"


def command_id(
    source_type: str, source_id: str, version: int, rule_version: str, effect: str
) -> str:
    """Name a command deterministically, so a replayed event re-sends the same id.

    Args:
        source_type: ``SourceRef.type``, e.g. ``"time_entry"``.
        source_id: The source event's id.
        version: The source event's version.
        rule_version: The version of the rule that produced the command.
        effect: A short stable word per accounting effect (``"revenue"``, ``"cost"``).

    Returns:
        ``str(uuid5(LEDGERSTREAM_NAMESPACE, "type:id:version:rule_version:effect"))``.

    """
    name = f"{source_type}:{source_id}:{version}:{rule_version}:{effect}"
    return str(uuid.uuid5(LEDGERSTREAM_NAMESPACE, name))


@dataclass(frozen=True, slots=True)
class Leg:
    """A line to be posted, in the transaction currency, before base conversion.

    A negative ``amount`` is posted as its absolute value on the other side.
    ``base_amount``, when set, is the line's carried base amount (e.g. the WIP
    accrued earlier, relieved at its historical base) instead of ``amount`` at
    the command's rate; it has the sign of ``amount`` (or, for an amount of
    zero, its own sign decides the side).
    """

    account: Account | str
    side: Side
    amount: Decimal
    dimensions: Dimensions = field(default_factory=Dimensions)
    memo: str = ""
    base_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CommandDraft:
    """Everything a command needs except base amounts, which ``build_command`` adds."""

    effect: str
    journal: str
    effective_date: date
    transaction_currency: str
    legs: Sequence[Leg]
    source: SourceRef
    rule_version: str
    memo: str
    approval: Approval | None = None
    action: CommandAction = CommandAction.POST
    reverses: str | None = None
    late_for_period: str | None = None
    related_source_ids: Sequence[str] = ()


def build_command(entity: LegalEntity, draft: CommandDraft, fx: FxProvenance) -> PostLedgerEntry:
    """Turn a draft into a balanced command in the entity's ledger.

    Each leg is converted to the entity's base currency at ``fx.rate`` and rounded
    per line with the entity's rounding mode. If the rounded base amounts do not
    balance, one extra line on the entity's Rounding account (7950 unless
    overridden) carries the residual as its ``base_amount`` with ``amount`` 0, on
    the side that balances, tagged with the first leg's dimensions. Accounts are
    resolved through the entity's ``account_overrides``. A leg with a
    ``base_amount`` keeps it (a carried historical base) instead of converting.

    Args:
        entity: The posting entity (base currency, rounding mode, chart overrides).
        draft: The legs in transaction currency, already at its exponent and balanced.
        fx: The rate from the transaction currency to the entity's base currency.

    Returns:
        The command, with ``command_id`` derived from the draft's source and effect.

    Raises:
        UnbalancedCommandError: The legs do not balance in transaction currency or
            carry more decimals than the transaction currency has.

    """
    overrides = entity.account_overrides
    base_ccy, mode = entity.base_currency, entity.rounding_mode
    lines: list[PostingLine] = []
    residual = Decimal(0)
    for leg in draft.legs:
        side = leg.side
        signed = leg.amount if leg.amount or leg.base_amount is None else leg.base_amount
        if signed < 0:
            side = Side.CREDIT if side is Side.DEBIT else Side.DEBIT
        amount = leg.amount.copy_abs()
        base = (
            convert_amount(amount, fx.rate, base_ccy, mode)
            if leg.base_amount is None
            else leg.base_amount.copy_abs()
        )
        residual = MONEY_CONTEXT.add(residual, base if side is Side.DEBIT else -base)
        lines.append(
            _line(
                line_no=len(lines) + 1,
                account=resolve_account(leg.account, overrides),
                side=side,
                amount=amount,
                base_amount=base,
                memo=leg.memo,
                dimensions=leg.dimensions,
            )
        )
    if residual and draft.legs:
        lines.append(
            _line(
                line_no=len(lines) + 1,
                account=resolve_account(Account.ROUNDING, overrides),
                side=Side.CREDIT if residual > 0 else Side.DEBIT,
                amount=Decimal(0).scaleb(-exponent(draft.transaction_currency)),
                base_amount=residual.copy_abs(),
                memo="base-currency rounding",
                dimensions=draft.legs[0].dimensions,
            )
        )
    source = draft.source
    built = command_id(source.type, source.id, source.version, draft.rule_version, draft.effect)
    # The lines are built from checked values; the balance is the invariant to check.
    check_balanced(built, lines, draft.transaction_currency, base_ccy)
    return trusted(
        PostLedgerEntry,
        {
            "command_id": built,
            "action": draft.action,
            "reverses": draft.reverses,
            "entity_id": entity.entity_id,
            "journal": draft.journal,
            "effective_date": draft.effective_date,
            "period": period_of(draft.effective_date),
            "transaction_currency": draft.transaction_currency,
            "base_currency": base_ccy,
            "fx": fx,
            "lines": tuple(lines),
            "source": source,
            "approval": draft.approval,
            "rule_version": draft.rule_version,
            "memo": draft.memo,
            "trace_id": None,
            "span_id": None,
            "late_for_period": draft.late_for_period,
            "related_source_ids": tuple(draft.related_source_ids),
        },
    )


def _line(**fields: Any) -> PostingLine:
    """Build a posting line from computed values (``check_balanced`` checks the amounts)."""
    return trusted(PostingLine, fields)
