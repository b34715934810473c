"""The default chart of accounts (docs/design.md §4) and per-entity overrides.

Rules post to ``Account`` members; ``resolve_account`` turns one into the code the
posting entity actually uses, through the entity's ``account_overrides`` (default
code -> entity code), so a rule never hard-codes an entity's chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["Account", "resolve_account"]


class Account(StrEnum):
    """Default account codes; the value is the code posted when not overridden."""

    CASH = "1000"
    ACCOUNTS_RECEIVABLE = "1100"
    UNBILLED_RECEIVABLES = "1150"
    INTERCOMPANY_RECEIVABLE = "1200"
    CAPITALISED_DEVELOPMENT = "1300"
    FIXED_ASSETS = "1500"
    ACCUMULATED_DEPRECIATION = "1590"
    ACCOUNTS_PAYABLE = "2100"
    ACCRUED_PAYROLL = "2150"
    TAX_PAYABLE = "2200"
    CUSTOMER_DEPOSITS = "2300"
    CUSTOMER_CREDITS = "2310"
    INTERCOMPANY_PAYABLE = "2400"
    FX_TRANSLATION = "3900"
    SERVICE_REVENUE = "4000"
    REIMBURSABLE_EXPENSE_REVENUE = "4100"
    DISCOUNTS = "4900"
    COST_OF_SERVICES = "5000"
    PROJECT_EXPENSES = "5100"
    ALLOCATED_OVERHEAD = "5200"
    INTERNAL_PROJECT_EXPENSE = "6000"
    SHARED_COST_POOL = "6100"
    DEPRECIATION = "6800"
    MINOR_WRITE_OFFS = "6900"
    FX_GAIN_LOSS = "7900"
    ROUNDING = "7950"


def resolve_account(account: Account | str, overrides: Mapping[str, str]) -> str:
    """Return the code an entity posts a default account to.

    Args:
        account: A default chart account (or its code).
        overrides: The entity's ``account_overrides``: default code -> entity code.

    Returns:
        The overriding code if the entity maps this account, else the default code.

    """
    code = str(account)
    return overrides.get(code, code)
