"""Intercompany eliminations into a consolidation book (docs/period-close.md, Consolidation).

Worked rule: a group (entities, reporting currency, its own book entity id) names
pairs of intercompany accounts: a debit side (1200 Intercompany receivable, or an
intercompany cost) and a credit side (2400 Intercompany payable, or an
intercompany revenue). For each pair and each two entities A and B of the group,
A's lines on the debit account tagged with counterparty B face B's lines on the
credit account tagged with counterparty A; balance pairs sum every period up to
the closing one, flow pairs the closing period only.

Each side's base-currency total is translated into the reporting currency at the
period's closing rate (the last day's SPOT). Matched sides post one command in the
consolidation book, journal ``ELIMINATION``, in the reporting currency: Dr credit
account (B's total) / Cr debit account (A's total), the difference on the FX
translation account (3900 by default). Sides compare in their transaction
currencies, each translated at the closing rate: a side missing, or a difference
beyond the group's tolerance, is an exception carrying both sides' source ids,
and is not eliminated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from streams.domain.accounts import Account
from streams.domain.close.period import close_source, identity_fx, last_day, parse_period
from streams.domain.commands import (
    CommandDraft,
    Dimensions,
    Leg,
    PostLedgerEntry,
    Side,
    build_command,
)
from streams.domain.exceptions import InvalidEventError
from streams.domain.fields import CurrencyCode
from streams.domain.money import MONEY_CONTEXT, RoundingMode, round_money, show_amount
from streams.domain.reference import LegalEntity

__all__ = [
    "ELIMINATION",
    "Consolidation",
    "ConsolidationGroup",
    "EliminationPair",
    "IntercompanyException",
    "Side_",
    "consolidate",
]

ELIMINATION: Final = "elimination"
JOURNAL: Final = "ELIMINATION"


class EliminationPair(BaseModel):
    """Two intercompany accounts that cancel out in the group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    debit_account: str
    credit_account: str
    balance: bool = True


class ConsolidationGroup(BaseModel):
    """A consolidation group, as reference data (``deploy/period-close.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_id: str
    version: int = Field(ge=1)
    book_entity_id: str
    name: str = ""
    reporting_currency: CurrencyCode
    entities: tuple[str, ...] = Field(min_length=2)
    translation_account: str = str(Account.FX_TRANSLATION)
    tolerance: Decimal = Decimal("0.01")
    pairs: tuple[EliminationPair, ...] = Field(min_length=1)

    def book(self) -> LegalEntity:
        """Return the consolidation book as a ledger: its own entity id, reporting currency."""
        return LegalEntity(
            entity_id=self.book_entity_id,
            name=self.name or f"{self.group_id} consolidation",
            base_currency=self.reporting_currency,
            timezone="UTC",
            tax_regime="NONE",
            approval_required=False,
            rounding_mode=RoundingMode.HALF_UP,
        )


@dataclass(slots=True)
class Side_:  # noqa: N801 - "Side" is the debit/credit enum
    """One entity's intercompany balance toward another on one account."""

    entity_id: str
    account: str
    base_currency: str
    base: Decimal = Decimal(0)
    by_currency: dict[str, Decimal] = field(default_factory=dict)
    source_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class IntercompanyException:
    """A pair of sides that do not match: the amounts (reporting currency) and both sides' ids."""

    pair: str
    debit_entity: str
    credit_entity: str
    debit_amount: Decimal
    credit_amount: Decimal
    reason: str
    debit_source_ids: tuple[str, ...]
    credit_source_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Consolidation:
    """What a consolidation run made: elimination commands and exceptions."""

    group: ConsolidationGroup
    period: str
    commands: tuple[PostLedgerEntry, ...]
    exceptions: tuple[IntercompanyException, ...]


def _sides(
    commands: Iterable[PostLedgerEntry],
    group: ConsolidationGroup,
    pair: EliminationPair,
    period: str,
) -> dict[tuple[str, str, str], Side_]:
    """Collect (entity, counterparty, "D"/"C") -> its net balance on the pair's accounts."""
    members = set(group.entities)
    sides: dict[tuple[str, str, str], Side_] = {}
    for command in commands:
        if command.entity_id not in members:
            continue
        if command.period > period or (not pair.balance and command.period != period):
            continue
        for line in command.lines:
            other = line.dimensions.counterparty_entity_id
            if other is None or other not in members:
                continue
            if line.account == pair.debit_account:
                kind, sign = "D", 1 if line.side is Side.DEBIT else -1
            elif line.account == pair.credit_account:
                kind, sign = "C", 1 if line.side is Side.CREDIT else -1
            else:
                continue
            side = sides.setdefault(
                (command.entity_id, other, kind),
                Side_(command.entity_id, line.account, command.base_currency),
            )
            side.base = MONEY_CONTEXT.add(side.base, sign * line.base_amount)
            ccy = command.transaction_currency
            side.by_currency[ccy] = MONEY_CONTEXT.add(
                side.by_currency.get(ccy, Decimal(0)), sign * line.amount
            )
            side.source_ids.add(command.source.id)
    return sides


def consolidate(
    group: ConsolidationGroup,
    period: str,
    commands: Iterable[PostLedgerEntry],
    closing_rates: Mapping[str, Decimal],
    *,
    rule_version: str,
) -> Consolidation:
    """Eliminate the group's intercompany balances and flows of a period.

    Args:
        group: The consolidation group.
        period: The closing period, ``YYYY-MM``.
        commands: Every command the group's entities posted (any period).
        closing_rates: Currency -> rate into the reporting currency on the period's
            last day (the reporting currency itself needs none).
        rule_version: Part of every command id.

    Raises:
        InvalidEventError: A currency met has no closing rate.

    """
    parse_period(period)
    reporting = group.reporting_currency
    book = group.book()
    on = last_day(period)
    listed = list(commands)

    def translate(amount: Decimal, ccy: str) -> Decimal:
        if ccy == reporting:
            return amount
        rate = closing_rates.get(ccy)
        if rate is None:
            raise InvalidEventError(
                f"closing_rates: no {ccy}/{reporting} rate for {on.isoformat()}",
                field="closing_rates",
            )
        return round_money(MONEY_CONTEXT.multiply(amount, rate), reporting, RoundingMode.HALF_UP)

    built: list[PostLedgerEntry] = []
    exceptions: list[IntercompanyException] = []
    for pair in group.pairs:
        sides = _sides(listed, group, pair, period)
        couples = sorted(
            {(e, o) for e, o, k in sides if k == "D"} | {(o, e) for e, o, k in sides if k == "C"}
        )
        for debit_entity, credit_entity in couples:
            d = sides.get((debit_entity, credit_entity, "D"))
            c = sides.get((credit_entity, debit_entity, "C"))
            d_txn = sum(
                (translate(a, k) for k, a in (d.by_currency.items() if d else ())), Decimal(0)
            )
            c_txn = sum(
                (translate(a, k) for k, a in (c.by_currency.items() if c else ())), Decimal(0)
            )
            ids_d = tuple(sorted(d.source_ids)) if d else ()
            ids_c = tuple(sorted(c.source_ids)) if c else ()
            if d_txn == 0 and c_txn == 0:
                continue
            reason = None
            if d is None or c is None:
                reason = f"only {debit_entity if c is None else credit_entity} booked it"
            elif abs(d_txn - c_txn) > group.tolerance:
                reason = (
                    f"amounts differ by {show_amount(abs(d_txn - c_txn), reporting)} {reporting}"
                )
            if reason is not None:
                exceptions.append(
                    IntercompanyException(
                        pair.name, debit_entity, credit_entity, d_txn, c_txn, reason, ids_d, ids_c
                    )
                )
                continue
            if d is None or c is None:  # both checked just above; for the type checker
                continue
            d_rep, c_rep = translate(d.base, d.base_currency), translate(c.base, c.base_currency)
            legs = [
                Leg(
                    pair.credit_account,
                    Side.DEBIT,
                    c_rep,
                    Dimensions(counterparty_entity_id=credit_entity),
                ),
                Leg(
                    pair.debit_account,
                    Side.CREDIT,
                    d_rep,
                    Dimensions(counterparty_entity_id=debit_entity),
                ),
            ]
            difference = MONEY_CONTEXT.subtract(d_rep, c_rep)
            if difference != 0:
                legs.append(
                    Leg(
                        group.translation_account,
                        Side.DEBIT,
                        difference,
                        memo="FX translation difference",
                    )
                )
            rates = ", ".join(
                f"{k}/{reporting} {closing_rates[k]}"
                for k in sorted({d.base_currency, c.base_currency} - {reporting})
            )
            memo = (
                f"Elimination {pair.name} {debit_entity}/{credit_entity} {period}: "
                f"{pair.debit_account} {show_amount(d_rep, reporting)} / {pair.credit_account} "
                f"{show_amount(c_rep, reporting)} {reporting}"
                + (f" at closing {rates}" if rates else "")
            )
            draft = CommandDraft(
                effect=f"eliminate:{d.base}:{c.base}:{d_rep}:{c_rep}",
                journal=JOURNAL,
                effective_date=on,
                transaction_currency=reporting,
                legs=tuple(legs),
                source=close_source(
                    ELIMINATION,
                    f"{group.group_id}/{period}/{pair.name}/{debit_entity}/{credit_entity}",
                    group.version,
                    period,
                ),
                rule_version=rule_version,
                memo=memo,
                related_source_ids=tuple(sorted(set(ids_d) | set(ids_c))),
            )
            built.append(build_command(book, draft, identity_fx(on)))
    return Consolidation(group, period, tuple(built), tuple(exceptions))
