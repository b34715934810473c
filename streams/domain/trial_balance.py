"""The trial balance: posted commands summed per entity, account and currency.

What an accountant checks first after a run: per entity, debits equal credits in
base currency; per account, the balance in each transaction currency and in base.
Each row names its account beside the code, and shows debit, credit and net (debit
minus credit) twice: in the transaction currency and in the entity's base currency.
A row that moves only base amounts (realised FX, rounding) shows ``-`` in the
transaction columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from streams.domain.accounts import Account
from streams.domain.commands import PostLedgerEntry, Side
from streams.domain.money import exponent

__all__ = [
    "BalanceRow",
    "account_name",
    "format_trial_balance",
    "trial_balance",
    "trial_balance_csv",
    "trial_balance_json",
]

_NAMES = {str(a): a.name.replace("_", " ").capitalize() for a in Account} | {
    str(Account.FX_GAIN_LOSS): "FX gain/loss"
}
_NAME_WIDTH = 30


def account_name(code: str) -> str:
    """Name a default chart account by its code (``1100`` -> ``Accounts receivable``).

    An entity's own code (an override) has no name here: ``""``.
    """
    return _NAMES.get(code, "")


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One line of the trial balance: an entity's account in one transaction currency."""

    entity_id: str
    account: str
    currency: str
    base_currency: str
    debit: Decimal
    credit: Decimal
    base_debit: Decimal
    base_credit: Decimal

    @property
    def name(self) -> str:
        """The account's name in the default chart (``""`` for an entity's own code)."""
        return account_name(self.account)

    @property
    def net(self) -> Decimal:
        """Debit minus credit, in the transaction currency."""
        return self.debit - self.credit

    @property
    def base_net(self) -> Decimal:
        """Debit minus credit, in the entity's base currency."""
        return self.base_debit - self.base_credit

    @property
    def base_only(self) -> bool:
        """True when only base amounts moved (realised FX, rounding), no transaction amount."""
        return self.debit == self.credit == 0 and (self.base_debit or self.base_credit) != 0


def trial_balance(
    commands: Iterable[PostLedgerEntry], *, period: str | None = None
) -> list[BalanceRow]:
    """Sum every posted line per entity, account and transaction currency, sorted.

    Args:
        commands: The posted commands.
        period: Only the commands of this accounting period (``"YYYY-MM"``), if given.

    """
    sums: dict[tuple[str, str, str, str], list[Decimal]] = {}
    for command in commands:
        if period is not None and command.period != period:
            continue
        for ln in command.lines:
            key = (
                command.entity_id,
                ln.account,
                command.transaction_currency,
                command.base_currency,
            )
            row = sums.setdefault(key, [Decimal(0)] * 4)
            offset = 0 if ln.side is Side.DEBIT else 1
            row[offset] += ln.amount
            row[2 + offset] += ln.base_amount
    return [BalanceRow(*key, *row) for key, row in sorted(sums.items())]


def _amount(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)))


def format_trial_balance(rows: list[BalanceRow], *, title: str = "trial balance") -> list[str]:
    """Render the trial balance as a table: one row per account, a base total per entity."""
    header = (
        f"{'entity':10} {'account':8} {'name':{_NAME_WIDTH}} {'txn':4} {'debit':>14} "
        f"{'credit':>14} {'net':>14} {'base':4} {'base debit':>14} {'base credit':>14} "
        f"{'base net':>14}"
    )
    out = [title, header]

    def show(amount: Decimal, currency: str) -> str:
        return f"{_amount(amount, currency):>14}"

    for entity_id in sorted({r.entity_id for r in rows}):
        mine = [r for r in rows if r.entity_id == entity_id]
        for r in mine:
            if r.base_only:
                txn = f"{'-':>14} {'-':>14} {'-':>14}"
            else:
                txn = (
                    f"{show(r.debit, r.currency)} {show(r.credit, r.currency)} "
                    f"{show(r.net, r.currency)}"
                )
            out.append(
                f"{r.entity_id:10} {r.account:8} {r.name[:_NAME_WIDTH]:{_NAME_WIDTH}} "
                f"{r.currency:4} {txn} {r.base_currency:4} {show(r.base_debit, r.base_currency)} "
                f"{show(r.base_credit, r.base_currency)} {show(r.base_net, r.base_currency)}"
            )
        base_dr = sum((r.base_debit for r in mine), Decimal(0))
        base_cr = sum((r.base_credit for r in mine), Decimal(0))
        base = mine[0].base_currency
        blank = f"{'':4} {'':>14} {'':>14} {'':>14}"
        out.append(
            f"{entity_id:10} {'total':8} {'(base currency)':{_NAME_WIDTH}} {blank} {base:4} "
            f"{show(base_dr, base)} {show(base_cr, base)} {show(base_dr - base_cr, base)}"
        )
    return out


def _record(r: BalanceRow) -> dict[str, str]:
    return {
        "entity": r.entity_id,
        "account": r.account,
        "name": r.name,
        "currency": r.currency,
        "debit": str(_amount(r.debit, r.currency)),
        "credit": str(_amount(r.credit, r.currency)),
        "net": str(_amount(r.net, r.currency)),
        "base_currency": r.base_currency,
        "base_debit": str(_amount(r.base_debit, r.base_currency)),
        "base_credit": str(_amount(r.base_credit, r.base_currency)),
        "base_net": str(_amount(r.base_net, r.base_currency)),
    }


def trial_balance_csv(rows: list[BalanceRow]) -> str:
    """Render the rows as CSV with a header (amounts as decimal strings)."""
    buffer = io.StringIO()
    fields = list(_record(rows[0])) if rows else ["entity", "account"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_record(r) for r in rows)
    return buffer.getvalue()


def trial_balance_json(rows: list[BalanceRow]) -> str:
    """Render the rows as JSON lines (amounts as decimal strings)."""
    return "".join(json.dumps(_record(r)) + "\n" for r in rows)
