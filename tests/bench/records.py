"""The benchmark's inputs: a 3-entity, 36-customer organisation, its time entries, a mixed set.

``organisation()`` widens the demo organisation (``streams.demo.sample``: three
entities, USD, EUR, JPY, their people and daily FX rates) to ``CUSTOMERS_PER_ENTITY``
customers per entity, each with one time-and-materials project, so that a
posted-records table keyed finer than by entity has something to spread.
``time_entries(n)`` staffs those projects with the entity's own people (the demo's
``time_entry`` generator: business hours, partial billing, rate overrides, one in
ten awaiting approval, so held). ``mixed_events()`` is the demo's mixed month
(``streams.demo.month``: time entries, expenses, invoices, a credit memo,
payments) without its one deletion, in the order recorded.

Every record is a ``SampleRecord``; same arguments, same records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Final

from streams.demo import sample
from streams.demo.month import mixed_month
from streams.demo.sample import SampleRecord

CUSTOMERS_PER_ENTITY: Final = 12
_RATE = {"USD": Decimal("150.00"), "EUR": Decimal("120.00"), "JPY": Decimal("18000")}


def _customers() -> list[sample.Record]:
    return [
        {
            "customer_id": f"C-{entity['entity_id']}-{n:02d}",
            "name": f"Customer {n} of {entity['entity_id']}",
            "entity_id": entity["entity_id"],
            "currency": entity["base_currency"],
            "tax_code": None,
            "default_rate": _RATE[entity["base_currency"]],
        }
        for entity in sample.ENTITIES
        for n in range(1, CUSTOMERS_PER_ENTITY + 1)
    ]


def _projects() -> list[sample.Record]:
    return [
        {
            "project_id": f"P-{customer['customer_id'][2:]}",
            "name": f"Work for {customer['name']}",
            "entity_id": customer["entity_id"],
            "customer_id": customer["customer_id"],
            "kind": "CLIENT_TM",
            "billing_currency": customer["currency"],
            "rate": customer["default_rate"],
            "task_rates": {},
            "employee_rates": {},
            "rounding_increment_minutes": 15 if n % 2 else 0,
            "contract_fx_rate": None,
            "contract_id": None,
        }
        for n, customer in enumerate(_customers())
    ]


def organisation() -> list[SampleRecord]:
    """Reference data: 3 entities, 36 customers and their projects, people, FX rates."""
    return [
        *(SampleRecord("ref.entities", e["entity_id"], e) for e in sample.ENTITIES),
        *(SampleRecord("pm.customers", c["customer_id"], c) for c in _customers()),
        *(SampleRecord("pm.projects", p["project_id"], p) for p in _projects()),
        *(SampleRecord("pm.employees", e["employee_id"], e) for e in sample.EMPLOYEES),
        *sample.fx_rates(),
    ]


def customer_count() -> tuple[int, int]:
    """Return (customers, entities) of the organisation."""
    customers = _customers()
    return len(customers), len({c["entity_id"] for c in customers})


def time_entries(count: int, *, seed: int = 11, start: int = 1) -> Iterator[SampleRecord]:
    """``count`` valid time entries (ids ``TE-0000001``...) over every customer's project."""
    rng = random.Random(seed * 1_000_003 + start)
    staffing = [
        (employee["employee_id"], project["project_id"])
        for project in _projects()
        for employee in sample.EMPLOYEES
        if employee["entity_id"] == project["entity_id"]
    ]
    for n in range(start, start + count):
        employee_id, project_id = rng.choice(staffing)
        record = sample.time_entry(rng, n, employee_id, project_id)
        yield SampleRecord("pm.time-entries", record["entry_id"], record)


def mixed_events() -> tuple[list[SampleRecord], list[SampleRecord]]:
    """The mixed month's reference records and events (its one deletion left out)."""
    month = mixed_month()
    return list(month.reference), [r for r in month.events if r.value is not None]
