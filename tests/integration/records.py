"""Reference records and time entries for the integration tests, as Avro-ready dicts.

Defaults describe one small organisation (entity US01 in USD, New York); each test
overrides what its hand-computed amounts depend on.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tests.integration.conftest import Stack

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ledgerstream.io/commands")
STARTED = datetime(2026, 11, 10, 14, 0, tzinfo=UTC)  # 09:00 in New York


def command_id(entry_id: str, effect: str, rule_version: str = "test.1") -> str:
    """The command id the spec gives, computed here independently of the code."""
    return str(uuid.uuid5(NAMESPACE, f"time_entry:{entry_id}:1:{rule_version}:{effect}"))


def entity(eid: str, ccy: str, tz: str, *, approval: bool = False) -> dict[str, Any]:
    return {
        "entity_id": eid,
        "name": eid,
        "base_currency": ccy,
        "timezone": tz,
        "tax_regime": "X",
        "approval_required": approval,
        "rounding_mode": "HALF_UP",
        "account_overrides": {},
        "fx_max_staleness_days": 5,
    }


def customer(cid: str, ccy: str = "USD", rate: str | None = None) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "name": cid,
        "entity_id": "US01",
        "currency": ccy,
        "tax_code": None,
        "default_rate": None if rate is None else Decimal(rate),
    }


def project(pid: str, customer: str, ccy: str, rate: str, increment: int = 0) -> dict[str, Any]:
    return {
        "project_id": pid,
        "name": pid,
        "entity_id": "US01",
        "customer_id": customer,
        "kind": "CLIENT_TM",
        "billing_currency": ccy,
        "rate": Decimal(rate),
        "task_rates": {},
        "employee_rates": {},
        "rounding_increment_minutes": increment,
        "contract_fx_rate": None,
        "contract_id": None,
    }


def employee(eid: str, cost_rate: str) -> dict[str, Any]:
    return {
        "employee_id": eid,
        "name": eid,
        "entity_id": "US01",
        "cost_rate": Decimal(cost_rate),
        "cost_currency": "USD",
    }


def spot_rate(src: str, dst: str, on: date, rate: str) -> dict[str, Any]:
    return {
        "from_currency": src,
        "to_currency": dst,
        "rate_date": on,
        "rate": Decimal(rate),
        "rate_type": "SPOT",
        "contract_id": None,
        "source": "ECB",
        "quoted_at": datetime(on.year, on.month, on.day, 16, tzinfo=UTC),
    }


def entry(
    eid: str,
    project_id: str,
    minutes: int,
    *,
    billable: bool = True,
    fraction: str | None = None,
    override: str | None = None,
    started: datetime = STARTED,
) -> dict[str, Any]:
    return {
        "entry_id": eid,
        "version": 1,
        "employee_id": "E-1",
        "project_id": project_id,
        "task_id": None,
        "started_at": started,
        "duration_minutes": minutes,
        "billable": billable,
        "billable_fraction": Decimal(fraction) if fraction else None,
        "rate_override": Decimal(override) if override else None,
        "status": "APPROVED",
        "approved_by": "pm@example.com",
        "approved_at": started,
        "description": "",
        "recorded_at": started,
    }


def publish_organisation(
    stack: Stack, *, project_rate: str = "100.00", cost_rate: str = "50.00"
) -> None:
    """US01 (USD), customer C-1, project P-1 and employee E-1: the simplest company."""
    stack.publish("ref.entities", "US01", entity("US01", "USD", "America/New_York"))
    stack.publish("pm.customers", "C-1", customer("C-1", rate="150.00"))
    stack.publish("pm.projects", "P-1", project("P-1", "C-1", "USD", project_rate))
    stack.publish("pm.employees", "E-1", employee("E-1", cost_rate))
    stack.flush()


def publish_reference(stack: Stack) -> bytes | None:
    """The pipeline test's organisation; returns the bytes of a customer that is invalid."""
    stack.publish("ref.entities", "US01", entity("US01", "USD", "America/New_York"))
    stack.publish("pm.customers", "C-1", customer("C-1", "USD", "150.00"))
    stack.publish("pm.customers", "C-2", customer("C-2", "EUR"))
    bad_customer = stack.publish("pm.customers", "C-BAD", customer("C-BAD", "ZZZ"))
    stack.publish("pm.projects", "P-1", project("P-1", "C-1", "USD", "165.00", increment=15))
    stack.publish("pm.projects", "P-2", project("P-2", "C-2", "EUR", "120.00"))
    stack.publish("pm.employees", "E-1", employee("E-1", "62.50"))
    stack.publish(
        "ref.fx-rates",
        "EUR/USD/2026-11-09/SPOT",
        spot_rate("EUR", "USD", date(2026, 11, 9), "1.0790"),
    )
    stack.flush()
    return bad_customer


def lines(command: dict[str, Any]) -> list[tuple[str, str, Decimal, Decimal]]:
    return sorted(
        (line["account"], line["side"], line["amount"], line["base_amount"])
        for line in command["lines"]
    )


def fixed_fee_line(line_no: int, amount: str, **extra: Any) -> dict[str, Any]:
    """An invoice line billing a fixed fee (no entries), untaxed unless ``extra`` says so."""
    return {
        "line_no": line_no,
        "kind": "FIXED_FEE",
        "project_id": None,
        "description": "",
        "amount": Decimal(amount),
        "discount": Decimal("0"),
        "tax_code": None,
        "tax_rate": None,
        "time_entry_ids": [],
        "expense_ids": [],
    } | extra


def invoice(
    invoice_id: str,
    customer_id: str,
    lines: list[dict[str, Any]],
    *,
    currency: str = "USD",
    issued_on: date = date(2026, 11, 10),
    version: int = 1,
) -> dict[str, Any]:
    """An issued invoice of US01 (the Avro form of ``pm.invoices``)."""
    return {
        "invoice_id": invoice_id,
        "version": version,
        "kind": "INVOICE",
        "entity_id": "US01",
        "customer_id": customer_id,
        "project_id": None,
        "currency": currency,
        "issued_on": issued_on,
        "lines": lines,
        "retainer_applied": Decimal("0"),
        "credited_invoice_id": None,
        "credited_line_nos": [],
        "description": "",
        "recorded_at": datetime(2026, 11, 10, 17, 0, tzinfo=UTC),
    }


def expense(expense_id: str, currency: str, amount: str = "120.00") -> dict[str, Any]:
    """An approved, billable travel expense of E-1 on P-1 (the Avro form of ``pm.expenses``)."""
    return {
        "expense_id": expense_id,
        "version": 1,
        "employee_id": "E-1",
        "project_id": "P-1",
        "incurred_on": date(2026, 11, 10),
        "amount": Decimal(amount),
        "currency": currency,
        "category": "TRAVEL",
        "billable": True,
        "markup_rate": Decimal("0.1000"),
        "receipt_ref": None,
        "status": "APPROVED",
        "approved_by": "pm@example.com",
        "approved_at": datetime(2026, 11, 10, 18, tzinfo=UTC),
        "business_purpose": "client visit",
        "merchant": "",
        "recorded_at": datetime(2026, 11, 10, 18, tzinfo=UTC),
    }
