"""Capitalisation and straight-line depreciation (docs/period-close.md, Capex).

Worked rule: work and expenses on an INTERNAL_CAPEX project post to 1300
Capitalised development (assets under construction), tagged with the project.
Placing an asset in service (``capitalise``) moves the project's 1300 balance up to
the in-service date (base currency) to the asset class's fixed-asset account: Dr
1500 / Cr 1300, journal ``CAPEX``, source ``capitalisation`` / the asset id. From
the month after the in-service month, each period's close (``depreciate``) posts
Dr 6800 Depreciation expense / Cr 1590 Accumulated depreciation, journal
``DEPRECIATION``, source ``depreciation`` / the asset id: cost / useful life,
rounded to the currency's minor unit, the last month taking what is left so the
schedule sums to the cost. Both commands carry the asset and its depreciation code
in the memo, the id and ``related_source_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from streams.domain.accounts import Account, resolve_account
from streams.domain.close.period import close_source, identity_fx, last_day, parse_period
from streams.domain.commands import (
    CommandDraft,
    CostClass,
    Dimensions,
    Leg,
    PostLedgerEntry,
    Side,
    build_command,
    period_of,
)
from streams.domain.money import MONEY_CONTEXT, exponent, show_amount
from streams.domain.reference import LegalEntity

__all__ = [
    "CAPITALISATION",
    "DEPRECIATION",
    "Asset",
    "AssetClass",
    "asset_cost",
    "capitalise",
    "depreciate",
    "schedule",
]

CAPITALISATION: Final = "capitalisation"
DEPRECIATION: Final = "depreciation"


class AssetClass(BaseModel):
    """An asset class: its depreciation code, useful life and accounts (reference data)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_id: str
    depreciation_code: str
    useful_life_months: int = Field(ge=1)
    fixed_asset_account: str = str(Account.FIXED_ASSETS)
    accumulated_account: str = str(Account.ACCUMULATED_DEPRECIATION)
    expense_account: str = str(Account.DEPRECIATION)


class Asset(BaseModel):
    """An asset built on a capex project, and when it went into service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: str
    version: int = Field(default=1, ge=1)
    name: str = ""
    entity_id: str
    project_id: str
    class_id: str
    in_service: date


def _months_between(first: str, second: str) -> int:
    y1, m1 = parse_period(first)
    y2, m2 = parse_period(second)
    return (y2 - y1) * 12 + (m2 - m1)


def schedule(cost: Decimal, months: int, currency: str) -> tuple[Decimal, ...]:
    """Return each month's straight-line charge: cost / months rounded, the last one the rest."""
    unit = Decimal(1).scaleb(-exponent(currency))
    monthly = MONEY_CONTEXT.divide(cost, Decimal(months)).quantize(unit)
    return (*(monthly,) * (months - 1), MONEY_CONTEXT.subtract(cost, monthly * (months - 1)))


def capitalise(
    asset: Asset,
    asset_class: AssetClass,
    entity: LegalEntity,
    commands: Iterable[PostLedgerEntry],
    *,
    rule_version: str,
) -> PostLedgerEntry | None:
    """Move the project's AUC (1300) balance up to the in-service date to the fixed-asset account.

    Returns None when the project has nothing under construction. Earlier
    capitalisation commands are not counted, so a re-run makes the same command.
    """
    auc = resolve_account(Account.CAPITALISED_DEVELOPMENT, entity.account_overrides)
    total, ids = Decimal(0), set[str]()
    for command in commands:
        if command.entity_id != entity.entity_id or command.source.type == CAPITALISATION:
            continue
        if command.effective_date > asset.in_service:
            continue
        for line in command.lines:
            if line.account == auc and line.dimensions.project_id == asset.project_id:
                signed = line.base_amount if line.side is Side.DEBIT else -line.base_amount
                total = MONEY_CONTEXT.add(total, signed)
                ids.add(command.source.id)
    if total == 0:
        return None
    currency = entity.base_currency
    dims = Dimensions(project_id=asset.project_id, cost_class=CostClass.CAPEX)
    tag = f"{asset.asset_id} {asset_class.depreciation_code}"
    period = period_of(asset.in_service)
    draft = CommandDraft(
        effect=f"capitalise:{total}",
        journal="CAPEX",
        effective_date=asset.in_service,
        transaction_currency=currency,
        legs=(
            Leg(asset_class.fixed_asset_account, Side.DEBIT, total, dims, tag),
            Leg(auc, Side.CREDIT, total, dims, tag),
        ),
        source=close_source(CAPITALISATION, asset.asset_id, asset.version, period),
        rule_version=rule_version,
        memo=(
            f"In service {tag} ({asset_class.class_id}) {asset.in_service.isoformat()}: "
            f"{show_amount(total, currency)} {currency} from {auc} on {asset.project_id}"
        ),
        related_source_ids=tuple(sorted(ids)),
    )
    return build_command(entity, draft, identity_fx(asset.in_service))


def asset_cost(
    asset: Asset, asset_class: AssetClass, commands: Iterable[PostLedgerEntry]
) -> Decimal:
    """Return the asset's capitalised cost: its capitalisation commands' net fixed-asset debit."""
    total = Decimal(0)
    for command in commands:
        if command.source.type != CAPITALISATION or command.source.id != asset.asset_id:
            continue
        for line in command.lines:
            if line.account == asset_class.fixed_asset_account:
                signed = line.base_amount if line.side is Side.DEBIT else -line.base_amount
                total = MONEY_CONTEXT.add(total, signed)
    return total


def depreciate(
    asset: Asset,
    asset_class: AssetClass,
    entity: LegalEntity,
    cost: Decimal,
    period: str,
    *,
    rule_version: str,
) -> PostLedgerEntry | None:
    """Post a period's straight-line depreciation of an asset (None: outside its life, no cost)."""
    month = _months_between(period_of(asset.in_service), period)
    life = asset_class.useful_life_months
    if cost <= 0 or not 1 <= month <= life:
        return None
    currency = entity.base_currency
    charge = schedule(cost, life, currency)[month - 1]
    dims = Dimensions(project_id=asset.project_id, cost_class=CostClass.CAPEX)
    tag = f"{asset.asset_id} {asset_class.depreciation_code}"
    on = last_day(period)
    draft = CommandDraft(
        effect=f"depreciate:{period}:{cost}:{life}",
        journal="DEPRECIATION",
        effective_date=on,
        transaction_currency=currency,
        legs=(
            Leg(asset_class.expense_account, Side.DEBIT, charge, dims, tag),
            Leg(asset_class.accumulated_account, Side.CREDIT, charge, dims, tag),
        ),
        source=close_source(DEPRECIATION, asset.asset_id, asset.version, period),
        rule_version=rule_version,
        memo=(
            f"Depreciation {tag} {period} month {month}/{life}: {show_amount(charge, currency)} "
            f"{currency} of {show_amount(cost, currency)}"
        ),
        related_source_ids=(asset.asset_id,),
    )
    return build_command(entity, draft, identity_fx(on))
