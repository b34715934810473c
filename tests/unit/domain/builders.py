"""Builders for domain tests: valid reference records and events with overridable fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.domain.commands import SourceRef
from streams.domain.events import TimeEntryRecorded
from streams.domain.reference import (
    Customer,
    Employee,
    FxRate,
    LegalEntity,
    Project,
    ReferenceBook,
    ReferenceModel,
    fx_key,
)

RULE_VERSION = "time-entry/1"
QUOTED_AT = datetime(2026, 3, 30, 16, 0, tzinfo=UTC)


def entity(**overrides: Any) -> LegalEntity:
    data: dict[str, Any] = {
        "entity_id": "US",
        "name": "Example Inc.",
        "base_currency": "USD",
        "timezone": "America/New_York",
        "tax_regime": "US",
        "approval_required": True,
    }
    return LegalEntity.model_validate(data | overrides)


def customer(**overrides: Any) -> Customer:
    data: dict[str, Any] = {
        "customer_id": "C-1",
        "name": "Acme",
        "entity_id": "US",
        "currency": "USD",
    }
    return Customer.model_validate(data | overrides)


def project(**overrides: Any) -> Project:
    data: dict[str, Any] = {
        "project_id": "P-100",
        "name": "Website",
        "entity_id": "US",
        "customer_id": "C-1",
        "kind": "CLIENT_TM",
        "billing_currency": "USD",
        "rate": Decimal("150.0000"),
    }
    return Project.model_validate(data | overrides)


def employee(**overrides: Any) -> Employee:
    data: dict[str, Any] = {
        "employee_id": "alice",
        "name": "Alice",
        "entity_id": "US",
        "cost_rate": Decimal("80.0000"),
        "cost_currency": "USD",
    }
    return Employee.model_validate(data | overrides)


def spot(
    from_ccy: str, to_ccy: str, rate: str, on: date = date(2026, 3, 30), **overrides: Any
) -> FxRate:
    data: dict[str, Any] = {
        "from_currency": from_ccy,
        "to_currency": to_ccy,
        "rate_date": on,
        "rate": Decimal(rate),
        "rate_type": "SPOT",
        "source": "ecb",
        "quoted_at": QUOTED_AT,
    }
    return FxRate.model_validate(data | overrides)


def entry_record(**overrides: Any) -> dict[str, Any]:
    """A canonical ``pm.time-entries`` value: 75 minutes on 2026-03-31, approved.

    ``duration_minutes=N`` is a shorthand for ``ended_at = started_at + N minutes``
    (the canonical model has the interval; the duration is derived from it).
    """
    minutes = overrides.pop("duration_minutes", 75)
    data: dict[str, Any] = {
        "entry_id": "TE-1",
        "version": 1,
        "employee_id": "alice",
        "project_id": "P-100",
        "task_id": None,
        "started_at": datetime(2026, 3, 31, 14, 0, tzinfo=UTC),
        "billable": True,
        "billable_fraction": None,
        "rate_override": None,
        "status": "APPROVED",
        "approved_by": "bob",
        "approved_at": datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
        "description": "homepage",
        "recorded_at": datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
    }
    data |= overrides
    if "ended_at" not in overrides:
        data["ended_at"] = data["started_at"] + timedelta(minutes=minutes)
    return data


def time_entry(**overrides: Any) -> TimeEntryRecorded:
    return TimeEntryRecorded.model_validate(entry_record(**overrides))


def source_for(entry: TimeEntryRecorded, offset: int = 42) -> SourceRef:
    return SourceRef(
        system="pm",
        type="time_entry",
        id=entry.entry_id,
        version=entry.version,
        topic="pm.time-entries",
        partition=0,
        offset=offset,
        event_time=entry.recorded_at,
    )


def key_of(model: ReferenceModel) -> str:
    if isinstance(model, LegalEntity):
        return model.entity_id
    if isinstance(model, Customer):
        return model.customer_id
    if isinstance(model, Project):
        return model.project_id
    if isinstance(model, Employee):
        return model.employee_id
    return fx_key(model)


def book_of(*models: ReferenceModel) -> ReferenceBook:
    book = ReferenceBook()
    for model in models:
        book.put(key_of(model), model)
    return book


def standard_book(*extra: ReferenceModel) -> ReferenceBook:
    """US entity, customer C-1, project P-100 (USD 150/h), alice (USD 80/h), plus extras."""
    return book_of(entity(), customer(), project(), employee(), *extra)
