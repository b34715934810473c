"""Shared by the billing rules: what a rule books, and FX on balances carried at history.

A billing rule (invoice, credit memo, payment) returns ``Booked``: the commands to
send and the ``Effects`` they have on the posted-records table. Legs that relieve a
balance carried at its historical base (WIP, receivables, deposits) keep that base;
``fx_difference_leg`` books the difference from today's rate on 7900 FX gain/loss,
so that only true rounding is left for 7950.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from streams.domain.accounts import Account
from streams.domain.commands import Approval, Dimensions, FxProvenance, Leg, PostLedgerEntry, Side
from streams.domain.money import MONEY_CONTEXT, convert_amount
from streams.domain.posted import Effects, LinePosting, StoredLeg
from streams.domain.reference import LegalEntity

__all__ = ["FX_MEMO", "Booked", "approval_of", "fx_difference_leg", "stored", "wip_pieces"]

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


def wip_pieces(line: LinePosting, leg: StoredLeg) -> tuple[Decimal, ...]:
    """Return the WIP amounts (one per entry) a line's 1150 leg relieved, else nothing.

    Each entry's WIP was converted to base on its own; ``fx_difference_leg`` values
    the leg at today's rate the same way.
    """
    if leg.account != Account.UNBILLED_RECEIVABLES or not line.releases:
        return ()
    return tuple(release.amount for release in line.releases)


def fx_difference_leg(
    legs: Sequence[Leg],
    fx: FxProvenance,
    entity: LegalEntity,
    dims: Dimensions,
    pieces: Mapping[int, Sequence[Decimal]] | None = None,
) -> Leg | None:
    """Book on 7900 the base difference of carried legs from their value at today's rate.

    For each leg with a ``base_amount``, the difference between that carried base
    and the leg's amount at ``fx.rate`` (rounded like any line) unbalances the base
    side; the sum goes to 7900 with a zero transaction amount: a credit (gain) when
    the carried debits exceed, a debit (loss) otherwise.

    A leg whose carried base was converted piece by piece (the WIP of each time
    entry or expense a line relieves, each rounded on its own) is valued at today's
    rate the same way, piece by piece: at an unchanged rate it is worth exactly what
    it carries, so its rounding is left to 7950 (``build_command``), not taken for FX.

    Args:
        legs: The command's legs.
        fx: Today's rate.
        entity: The posting entity (base currency, rounding mode).
        dims: Dimensions of the 7900 leg.
        pieces: Per leg index, the transaction amounts its carried base was
            converted from one by one; a leg not named is one piece.

    Returns:
        The 7900 leg, or None when the carried legs are worth exactly their base.

    """
    excess = Decimal(0)
    for index, leg in enumerate(legs):
        if leg.base_amount is None:
            continue
        parts = (pieces or {}).get(index) or (leg.amount,)
        natural = sum((_at_rate(part, fx, entity) for part in parts), Decimal(0)).copy_abs()
        difference = MONEY_CONTEXT.subtract(leg.base_amount.copy_abs(), natural)
        debit = (leg.side is Side.DEBIT) == (leg.amount >= 0)
        excess = MONEY_CONTEXT.add(excess, difference if debit else -difference)
    if excess.is_zero():
        return None
    return Leg(Account.FX_GAIN_LOSS, Side.CREDIT, Decimal(0), dims, FX_MEMO, excess)


def _at_rate(amount: Decimal, fx: FxProvenance, entity: LegalEntity) -> Decimal:
    """Convert a signed amount at ``fx.rate``, rounding its magnitude like any line."""
    value = convert_amount(amount.copy_abs(), fx.rate, entity.base_currency, entity.rounding_mode)
    return value.copy_negate() if amount < 0 else value
