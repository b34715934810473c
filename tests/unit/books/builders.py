"""Posting commands as the books read them: decoded ``acct.ledger-commands`` values."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from streams.books.booking import Incoming

#: (account, side, amount, base amount or None = amount, project, customer, memo)
Line = tuple[str, str, str]


def line(
    account: str,
    side: str,
    amount: str,
    *,
    base: str | None = None,
    project: str | None = None,
    customer: str | None = None,
    memo: str = "",
) -> dict[str, Any]:
    return {
        "account": account,
        "side": side,
        "amount": Decimal(amount),
        "base_amount": Decimal(base if base is not None else amount),
        "memo": memo,
        "dimensions": {
            "project_id": project,
            "customer_id": customer,
            "task_id": None,
            "employee_id": None,
            "tax_code": None,
            "counterparty_entity_id": None,
            "cost_class": None,
        },
    }


def command(
    lines: Sequence[dict[str, Any]],
    *,
    command_id: str | None = None,
    entity: str = "US",
    on: date = date(2026, 9, 15),
    currency: str = "USD",
    base_currency: str = "USD",
    rate: str = "1",
    action: str = "POST",
    reverses: str | None = None,
    source_type: str = "time_entry",
    source_id: str = "TE-1",
    version: int = 1,
    offset: int = 0,
    memo: str = "test",
) -> dict[str, Any]:
    return {
        "command_id": command_id or str(uuid.uuid4()),
        "action": action,
        "reverses": reverses,
        "entity_id": entity,
        "journal": "TEST",
        "effective_date": on,
        "period": f"{on.year:04d}-{on.month:02d}",
        "transaction_currency": currency,
        "base_currency": base_currency,
        "fx": {
            "rate": Decimal(rate),
            "rate_type": "IDENTITY" if rate == "1" else "SPOT",
            "rate_date": on,
            "source": "identity" if rate == "1" else "ECB",
            "quoted_at": None,
            "contract_id": None,
        },
        "lines": [{"line_no": i + 1, **ln} for i, ln in enumerate(lines)],
        "source": {
            "system": "pm",
            "type": source_type,
            "id": source_id,
            "version": version,
            "topic": "pm.time-entries",
            "partition": 0,
            "offset": offset,
            "event_time": datetime(on.year, on.month, on.day, 12, tzinfo=UTC),
        },
        "approval": None,
        "rule_version": "test.1",
        "memo": memo,
        "trace_id": None,
        "span_id": None,
    }


def reversal(original: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The REVERSE of a command: the same lines on the other side."""
    other = {"DEBIT": "CREDIT", "CREDIT": "DEBIT"}
    return {
        **original,
        "command_id": str(uuid.uuid4()),
        "action": "REVERSE",
        "reverses": original["command_id"],
        "lines": [{**ln, "side": other[ln["side"]]} for ln in original["lines"]],
        **changes,
    }


def incoming(*commands: dict[str, Any]) -> list[Incoming]:
    return [Incoming(0, i, c) for i, c in enumerate(commands)]
