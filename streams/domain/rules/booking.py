"""Shared by the billing rules: what a rule books, and FX on balances carried at history.

A billing rule (invoice, credit memo, payment) returns ``Booked``: the commands to
send and the ``Effects`` they have on the posted-records table. Legs that relieve a
balance carried at its historical base (WIP, receivables, deposits) keep that base;
``fx_difference_leg`` books the difference from today's rate on 7900 FX gain/loss,
so that only true rounding is left for 7950.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from streams.domain.accounts import Account
from streams.domain.commands import Approval, Dimensions, FxProvenance, Leg, PostLedgerEntry, Side
from streams.domain.money import MONEY_CONTEXT, convert_amount
from streams.domain.posted import Effects, StoredLeg
from streams.domain.reference import LegalEntity

__all__ = ["FX_MEMO", "Booked", "approval_of", "fx_difference_leg", "stored"]

FX_MEMO: Final = "realised FX on balances carried at their historical rate"


@dataclass(frozen=True, slots=True)
class Booked:
    """Send these commands; they leave these effects on the posted-records table."""

    commands: tuple[PostLedgerEntry, ...]
    effects: Effects


def approval_of(approved_by: str | None, approved_at: object) -> Approval | None:
    """Return the approval to stamp on commands, when both who and when are known."""
    if approved_by is None or approved_at is None:
        return None
    return Approval.model_validate({"approved_by": approved_by, "approved_at": approved_at})


def stored(leg: Leg) -> StoredLeg:
    """Keep a leg as posted (for a later credit memo to mirror)."""
    return StoredLeg(
        account=str(leg.account),
        side=leg.side,
        amount=leg.amount,
        base_amount=leg.base_amount,
        dimensions=leg.dimensions,
        memo=leg.memo,
    )


def fx_difference_leg(
    legs: Sequence[Leg], fx: FxProvenance, entity: LegalEntity, dims: Dimensions
) -> Leg | None:
    """Book on 7900 the base difference of carried legs from their value at today's rate.

    For each leg with a ``base_amount``, the difference between that carried base
    and the leg's amount at ``fx.rate`` (rounded like any line) unbalances the base
    side; the sum goes to 7900 with a zero transaction amount: a credit (gain) when
    the carried debits exceed, a debit (loss) otherwise.

    Returns:
        The 7900 leg, or None when the carried legs are worth exactly their base.

    """
    excess = Decimal(0)
    for leg in legs:
        if leg.base_amount is None:
            continue
        natural = convert_amount(
            leg.amount.copy_abs(), fx.rate, entity.base_currency, entity.rounding_mode
        )
        difference = MONEY_CONTEXT.subtract(leg.base_amount.copy_abs(), natural)
        debit = (leg.side is Side.DEBIT) == (leg.amount >= 0)
        excess = MONEY_CONTEXT.add(excess, difference if debit else -difference)
    if excess.is_zero():
        return None
    return Leg(Account.FX_GAIN_LOSS, Side.CREDIT, Decimal(0), dims, FX_MEMO, excess)
