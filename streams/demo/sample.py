"""Deterministic sample data: three entities, their clients, projects, people and rates.

The records are Avro-ready dicts (Decimal, date, aware datetime) for the v1
schemas. The same seed gives the same records, so a demo run can be compared
with another. A few records are deliberately bad, to show the dead-letter path.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

Record = dict[str, Any]
FIRST_DAY = date(2026, 11, 2)
DAYS = 26


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One record to publish: logical topic, key, value and how to corrupt its bytes.

    ``value`` is in the Python form of the topic's newest schema, or of version
    ``schema_version`` when set (a record from an older producer); None is a tombstone.
    """

    topic: str
    key: str
    value: Record | None
    corruption: str | None = None  # "bad_magic" | "truncate": applied after encoding
    expect_dead_letter: bool = False
    schema_version: int | None = None


def corrupt(encoded: bytes, corruption: str | None) -> bytes:
    """Damage encoded bytes the way a broken producer would."""
    if corruption == "bad_magic":
        return b"\x07" + encoded[1:]
    if corruption == "truncate":
        return encoded[: len(encoded) // 2]
    return encoded


def _entity(eid: str, name: str, ccy: str, tz: str, *, approval: bool, mode: str) -> Record:
    return {
        "entity_id": eid,
        "name": name,
        "base_currency": ccy,
        "timezone": tz,
        "tax_regime": {"USD": "US-SALES", "EUR": "EU-VAT", "JPY": "JP-CT"}[ccy],
        "approval_required": approval,
        "rounding_mode": mode,
        "account_overrides": {},
        "fx_max_staleness_days": 5,
    }


ENTITIES = [
    _entity(
        "US01",
        "Northwind Consulting Inc.",
        "USD",
        "America/New_York",
        approval=False,
        mode="HALF_UP",
    ),
    _entity(
        "DE01", "Northwind Beratung GmbH", "EUR", "Europe/Berlin", approval=True, mode="HALF_EVEN"
    ),
    _entity("JP01", "Northwind Japan KK", "JPY", "Asia/Tokyo", approval=False, mode="HALF_UP"),
]

CUSTOMERS: list[Record] = [
    {
        "customer_id": "C-ACME",
        "name": "Acme Corp",
        "entity_id": "US01",
        "currency": "USD",
        "tax_code": "US-NY",
        "default_rate": Decimal("150.00"),
    },
    {
        "customer_id": "C-GLOBEX",
        "name": "Globex SE",
        "entity_id": "US01",
        "currency": "EUR",
        "tax_code": None,
        "default_rate": Decimal("140.00"),
    },
    {
        "customer_id": "C-BMW",
        "name": "Bayerische Kunden AG",
        "entity_id": "DE01",
        "currency": "EUR",
        "tax_code": "DE-19",
        "default_rate": Decimal("120.00"),
    },
    {
        "customer_id": "C-SONY",
        "name": "Kaisha Holdings",
        "entity_id": "JP01",
        "currency": "JPY",
        "tax_code": "JP-10",
        "default_rate": Decimal("18000"),
    },
]


def _project(
    pid: str, entity: str, customer: str | None, kind: str, ccy: str, **extra: Any
) -> Record:
    record: Record = {
        "project_id": pid,
        "name": f"Project {pid}",
        "entity_id": entity,
        "customer_id": customer,
        "kind": kind,
        "billing_currency": ccy,
        "rate": None,
        "task_rates": {},
        "employee_rates": {},
        "rounding_increment_minutes": 0,
        "contract_fx_rate": None,
        "contract_id": None,
    }
    record.update(extra)
    return record


PROJECTS = [
    _project(
        "P-100",
        "US01",
        "C-ACME",
        "CLIENT_TM",
        "USD",
        rate=Decimal("165.00"),
        task_rates={"ARCH": Decimal("210.00")},
        rounding_increment_minutes=15,
    ),
    _project("P-200", "US01", "C-GLOBEX", "CLIENT_TM", "EUR", rounding_increment_minutes=6),
    _project(
        "P-210",
        "US01",
        "C-GLOBEX",
        "RETAINER",
        "EUR",
        rate=Decimal("130.00"),
        contract_fx_rate=Decimal("1.0850"),
        contract_id="FXC-2026-07",
    ),
    _project(
        "P-300",
        "DE01",
        "C-BMW",
        "CLIENT_TM",
        "EUR",
        employee_rates={"E-DE1": Decimal("135.00")},
        rounding_increment_minutes=15,
    ),
    _project("P-400", "JP01", "C-SONY", "CLIENT_TM", "JPY", rate=Decimal("19500")),
    _project("P-500", "US01", None, "INTERNAL_CAPEX", "USD"),
    _project("P-600", "DE01", None, "INTERNAL_OPEX", "EUR"),
    _project("P-700", "US01", "C-ACME", "CLIENT_FIXED", "USD"),
]

EMPLOYEES: list[Record] = [
    {
        "employee_id": f"E-{entity[:2]}{n}",
        "name": f"{entity[:2]} person {n}",
        "entity_id": entity,
        "cost_rate": rate,
        "cost_currency": ccy,
    }
    for entity, ccy, rates in [
        ("US01", "USD", ["62.50", "71.25", "80.00", "55.40"]),
        ("DE01", "EUR", ["58.10", "64.00", "49.95"]),
        ("JP01", "JPY", ["6200", "7100"]),
    ]
    for n, rate in enumerate((Decimal(r) for r in rates), start=1)
]

_SPOT = {
    ("EUR", "USD"): Decimal("1.0790"),
    ("JPY", "USD"): Decimal("0.006640"),
    ("USD", "EUR"): Decimal("0.9268"),
    ("JPY", "EUR"): Decimal("0.006154"),
    ("USD", "JPY"): Decimal("150.61"),
    ("EUR", "JPY"): Decimal("162.50"),
}


def fx_rates() -> list[SampleRecord]:
    """Daily spot rates for every pair the sample data needs, a few days either side."""
    records = []
    for day in range(-7, DAYS + 3):
        rate_date = FIRST_DAY + timedelta(days=day)
        drift = Decimal(1) + Decimal(day % 5 - 2) / Decimal(1000)
        for (src, dst), base in sorted(_SPOT.items()):
            rate = (base * drift).quantize(Decimal("0.000001"))
            key = f"{src}/{dst}/{rate_date.isoformat()}/SPOT"
            quoted = datetime(rate_date.year, rate_date.month, rate_date.day, 16, tzinfo=UTC)
            records.append(
                SampleRecord(
                    "ref.fx-rates",
                    key,
                    {
                        "from_currency": src,
                        "to_currency": dst,
                        "rate_date": rate_date,
                        "rate": rate,
                        "rate_type": "SPOT",
                        "contract_id": None,
                        "source": "ECB-sample",
                        "quoted_at": quoted,
                    },
                )
            )
    return records


def reference_records() -> list[SampleRecord]:
    """Every reference record of the sample organisation."""
    return [
        *(SampleRecord("ref.entities", e["entity_id"], e) for e in ENTITIES),
        *(SampleRecord("pm.customers", c["customer_id"], c) for c in CUSTOMERS),
        *(SampleRecord("pm.projects", p["project_id"], p) for p in PROJECTS),
        *(SampleRecord("pm.employees", e["employee_id"], e) for e in EMPLOYEES),
        *fx_rates(),
    ]


def _staffing() -> list[tuple[str, str]]:
    """Which employee works on which project (home entity first, some intercompany)."""
    pairs = []
    for project in PROJECTS:
        for employee in EMPLOYEES:
            same = employee["entity_id"] == project["entity_id"]
            if same or (project["project_id"] == "P-100" and employee["employee_id"] == "E-DE1"):
                pairs.append((employee["employee_id"], project["project_id"]))
    return pairs


def time_entry(rng: random.Random, n: int, employee_id: str, project_id: str) -> Record:
    """One realistic time entry (business hours, quarter-ish durations)."""
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    started = datetime(
        day.year, day.month, day.day, rng.randrange(6, 22), rng.choice([0, 15, 30, 45]), tzinfo=UTC
    )
    billable = rng.random() < 0.75
    approved = rng.random() < 0.9
    return {
        "entry_id": f"TE-{n:07d}",
        "version": 1,
        "employee_id": employee_id,
        "project_id": project_id,
        "task_id": rng.choice([None, None, "DEV", "ARCH", "QA"]),
        "started_at": started,
        "duration_minutes": rng.choice([15, 30, 45, 52, 60, 90, 120, 180, 240, 480]),
        "billable": billable,
        "billable_fraction": rng.choice([None, None, None, Decimal("0.5")]) if billable else None,
        "rate_override": Decimal("99.00") if rng.random() < 0.03 else None,
        "status": "APPROVED" if approved else "SUBMITTED",
        "approved_by": "manager@northwind.example" if approved else None,
        "approved_at": started + timedelta(days=1) if approved else None,
        "description": "sample work",
        "recorded_at": started + timedelta(hours=8),
    }


def time_entries(
    count: int, *, seed: int = 7, start: int = 1, bad_every: int = 500
) -> Iterator[SampleRecord]:
    """``count`` time entries; every ``bad_every``-th one is deliberately broken.

    In turn: a bad magic byte, truncated Avro, an unknown project (parked: it waits
    for the project), a negative duration; the others are dead-lettered at once.
    """
    rng = random.Random(seed * 1_000_003 + start)  # noqa: S311 - sample data, not security
    staffing = _staffing()
    broken = ["bad_magic", "truncate", "unknown_project", "negative_duration"]
    for n in range(start, start + count):
        employee_id, project_id = rng.choice(staffing)
        record = time_entry(rng, n, employee_id, project_id)
        key = record["entry_id"]
        if bad_every and n % bad_every == 0:
            kind = broken[(n // bad_every) % len(broken)]
            if kind in ("bad_magic", "truncate"):
                yield SampleRecord(
                    "pm.time-entries", key, record, corruption=kind, expect_dead_letter=True
                )
                continue
            if kind == "unknown_project":  # parked, waiting for a project that never comes
                record["project_id"] = "P-404"  # (a dead letter after the parking deadline)
                yield SampleRecord("pm.time-entries", key, record)
                continue
            record["duration_minutes"] = -30
            yield SampleRecord("pm.time-entries", key, record, expect_dead_letter=True)
            continue
        yield SampleRecord("pm.time-entries", key, record)
