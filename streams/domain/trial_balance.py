"""The trial balance: posted commands summed per entity, account and currency.

What an accountant checks first after a run: per entity, debits equal credits in
base currency; per account, the balance in each transaction currency and in base.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from streams.domain.commands import PostLedgerEntry, Side
from streams.domain.money import exponent

__all__ = ["BalanceRow", "format_trial_balance", "trial_balance"]


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


def trial_balance(commands: Iterable[PostLedgerEntry]) -> list[BalanceRow]:
    """Sum every posted line per entity, account and transaction currency, sorted."""
    sums: dict[tuple[str, str, str, str], list[Decimal]] = {}
    for command in commands:
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


def format_trial_balance(rows: list[BalanceRow]) -> list[str]:
    """Render the trial balance as text: one row per account, a base total per entity."""
    header = (
        f"{'entity':10} {'account':8} {'ccy':4} {'debit':>16} {'credit':>16} "
        f"{'base debit':>16} {'base credit':>16}"
    )
    out = ["trial balance", header]

    def show(amount: Decimal, currency: str) -> str:
        return f"{amount.quantize(Decimal(1).scaleb(-exponent(currency))):>16}"

    for entity_id in sorted({r.entity_id for r in rows}):
        mine = [r for r in rows if r.entity_id == entity_id]
        for r in mine:
            out.append(
                f"{r.entity_id:10} {r.account:8} {r.currency:4} {show(r.debit, r.currency)} "
                f"{show(r.credit, r.currency)} {show(r.base_debit, r.base_currency)} "
                f"{show(r.base_credit, r.base_currency)}"
            )
        base_dr = sum((r.base_debit for r in mine), Decimal(0))
        base_cr = sum((r.base_credit for r in mine), Decimal(0))
        base = mine[0].base_currency
        out.append(
            f"{entity_id:10} {'total':8} {base:4} {'':>16} {'':>16} "
            f"{show(base_dr, base)} {show(base_cr, base)}"
        )
    return out
