"""The mixed month's organisation: Harbor Analytics' entities, customers, projects, people, rates.

Two legal entities with different base currencies and policies: US10 (USD, Chicago,
HALF_UP, tax rounded once per invoice) and GB10 (GBP, London, HALF_EVEN, tax rounded
per line); both require approval. Four customers, a project of every kind (P-2020
bills EUR at a contract rate), six people of whom E-GB13 (GB10) also works on the
US10 project P-1010, and a SPOT rate a day for EUR/USD, GBP/USD and EUR/GBP from
``FIRST_DAY`` to ``RATES_UNTIL`` (a seeded random walk) plus the CONTRACT rate.
None of these ids or rate keys is used by ``streams.demo.sample``.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from streams.demo.sample import Record, SampleRecord
from streams.domain.money import MONEY_CONTEXT, RoundingMode

__all__ = [
    "APPROVERS",
    "CONTRACT_ID",
    "CONTRACT_RATE",
    "CUSTOMERS",
    "EMPLOYEES",
    "ENTITIES",
    "FIRST_DAY",
    "LAST_DAY",
    "PROJECTS",
    "RATES_UNTIL",
    "STAFFING",
    "FxTable",
    "organisation",
    "rounding_mode",
]

FIRST_DAY: Final = date(2026, 9, 1)
LAST_DAY: Final = date(2026, 9, 30)
#: Invoices are paid up to mid-October; the load generator's rates start on 26 October.
RATES_UNTIL: Final = date(2026, 10, 16)
CONTRACT_ID: Final = "FXC-HANSA-2026"
CONTRACT_RATE: Final = Decimal("0.860000")

_RATE_QUANTUM: Final = Decimal("0.000001")
_RECIPROCAL_QUANTUM: Final = Decimal(1).scaleb(-12)


_ENTITY: Final[Record] = {
    "approval_required": True,
    "account_overrides": {},
    "fx_max_staleness_days": 3,
}

ENTITIES: Final[dict[str, Record]] = {
    "US10": _ENTITY
    | {
        "entity_id": "US10",
        "name": "Harbor Analytics Inc.",
        "base_currency": "USD",
        "timezone": "America/Chicago",
        "tax_regime": "US-SALES",
        "rounding_mode": "HALF_UP",
        "tax_rounding": "PER_INVOICE",
    },
    "GB10": _ENTITY
    | {
        "entity_id": "GB10",
        "name": "Harbor Analytics Ltd",
        "base_currency": "GBP",
        "timezone": "Europe/London",
        "tax_regime": "GB-VAT",
        "rounding_mode": "HALF_EVEN",
        "tax_rounding": "PER_LINE",
    },
}


def _customer(row: tuple[str, str, str, str, str | None, str | None]) -> Record:
    cid, name, eid, ccy, tax, rate = row
    return {
        "customer_id": cid,
        "name": name,
        "entity_id": eid,
        "currency": ccy,
        "tax_code": tax,
        "default_rate": Decimal(rate) if rate else None,
    }


CUSTOMERS: Final[dict[str, Record]] = {
    c["customer_id"]: c
    for c in map(
        _customer,
        [
            ("C-LAKE", "Lakeshore Bank", "US10", "USD", "US-IL", "185.00"),
            ("C-PRAIRIE", "Prairie Foods Co.", "US10", "USD", None, None),
            ("C-THAMES", "Thames Utilities plc", "GB10", "GBP", "GB-STD", "125.00"),
            ("C-HANSA", "Hansa Logistik GmbH", "GB10", "EUR", "GB-RC", None),
        ],
    )
}


def _project(
    pid: str, name: str, eid: str, customer: str | None, kind: str, **extra: Any
) -> Record:
    record: Record = {
        "project_id": pid,
        "name": name,
        "entity_id": eid,
        "customer_id": customer,
        "kind": kind,
        "billing_currency": ENTITIES[eid]["base_currency"],
        "rate": None,
        "task_rates": {},
        "employee_rates": {},
        "rounding_increment_minutes": 0,
        "contract_fx_rate": None,
        "contract_id": None,
    }
    record.update(extra)
    return record


PROJECTS: Final[dict[str, Record]] = {
    p["project_id"]: p
    for p in (
        _project(
            "P-1010", "Lakeshore data platform", "US10", "C-LAKE", "CLIENT_TM",
            rate=Decimal("180.00"), task_rates={"ARCH": Decimal("220.00")},
            rounding_increment_minutes=15,
        ),
        _project("P-1020", "Prairie pricing engine", "US10", "C-PRAIRIE", "CLIENT_FIXED"),
        _project("P-1030", "Harbor insight platform", "US10", None, "INTERNAL_CAPEX"),
        _project(
            "P-2010", "Thames support retainer", "GB10", "C-THAMES", "RETAINER",
            rate=Decimal("130.00"), rounding_increment_minutes=6,
        ),
        _project(
            "P-2020", "Hansa route optimisation", "GB10", "C-HANSA", "CLIENT_TM",
            billing_currency="EUR", rate=Decimal("150.00"),
            employee_rates={"E-GB13": Decimal("165.00")}, rounding_increment_minutes=15,
            contract_fx_rate=CONTRACT_RATE, contract_id=CONTRACT_ID,
        ),
        _project("P-2030", "UK training and internal tooling", "GB10", None, "INTERNAL_OPEX"),
    )
}  # fmt: skip

EMPLOYEES: Final[dict[str, Record]] = {
    eid: {
        "employee_id": eid,
        "name": name,
        "entity_id": entity,
        "cost_rate": Decimal(rate),
        "cost_currency": ENTITIES[entity]["base_currency"],
    }
    for eid, name, entity, rate in (
        ("E-US11", "Maya Chen", "US10", "68.00"),
        ("E-US12", "Luis Ortega", "US10", "74.50"),
        ("E-US13", "Priya Nair", "US10", "59.25"),
        ("E-GB11", "Oliver Hughes", "GB10", "52.00"),
        ("E-GB12", "Amelia Shaw", "GB10", "57.40"),
        ("E-GB13", "Tom Fletcher", "GB10", "61.80"),
    )
}

#: Who works on what; E-GB13 (GB10) also works on the US10 project P-1010: intercompany.
STAFFING: Final = {
    "E-US11": ("P-1010", "P-1030"),
    "E-US12": ("P-1010", "P-1020"),
    "E-US13": ("P-1020", "P-1030"),
    "E-GB11": ("P-2010", "P-2020"),
    "E-GB12": ("P-2010", "P-2020", "P-2030"),
    "E-GB13": ("P-2020", "P-1010"),
}

APPROVERS: Final = {"US10": "lead.us@harbor.example", "GB10": "lead.uk@harbor.example"}


def rounding_mode(entity_id: str) -> RoundingMode:
    """Return an entity's rounding mode."""
    return RoundingMode(ENTITIES[entity_id]["rounding_mode"])


def organisation() -> list[SampleRecord]:
    """Return the entities, customers, projects and employees as records to publish."""
    return [
        *(SampleRecord("ref.entities", k, v) for k, v in ENTITIES.items()),
        *(SampleRecord("pm.customers", k, v) for k, v in CUSTOMERS.items()),
        *(SampleRecord("pm.projects", k, v) for k, v in PROJECTS.items()),
        *(SampleRecord("pm.employees", k, v) for k, v in EMPLOYEES.items()),
    ]


class FxTable:
    """The month's rates: a seeded random walk of daily SPOT quotes and the CONTRACT rate."""

    def __init__(self, rng: random.Random) -> None:
        """Draw every day's quotes from ``rng``, in date order."""
        self._rates: dict[tuple[str, str, date], Decimal] = {}
        self.records: list[SampleRecord] = []
        eur_usd, gbp_usd = Decimal("1.1650"), Decimal("1.3450")
        day = FIRST_DAY
        while day <= RATES_UNTIL:
            eur_usd *= 1 + Decimal(rng.randrange(-30, 31)) / 10000
            gbp_usd *= 1 + Decimal(rng.randrange(-30, 31)) / 10000
            quoted = datetime(day.year, day.month, day.day, 16, tzinfo=UTC)
            for src, dst, rate in (
                ("EUR", "USD", eur_usd),
                ("GBP", "USD", gbp_usd),
                ("EUR", "GBP", eur_usd / gbp_usd),
            ):
                rounded = self._rates[(src, dst, day)] = rate.quantize(_RATE_QUANTUM)
                self.records.append(_rate(src, dst, day, rounded, quoted=quoted))
            day += timedelta(days=1)
        agreed = datetime(2026, 8, 28, 10, tzinfo=UTC)
        self.records.append(
            _rate("EUR", "GBP", FIRST_DAY, CONTRACT_RATE, quoted=agreed, contract=True)
        )

    def rate(self, src: str, dst: str, on: date) -> Decimal:
        """Return the SPOT rate a reference book finds (an inverse pair's 12-place reciprocal)."""
        if src == dst:
            return Decimal(1)
        direct = self._rates.get((src, dst, on))
        if direct is not None:
            return direct
        return MONEY_CONTEXT.divide(Decimal(1), self._rates[(dst, src, on)]).quantize(
            _RECIPROCAL_QUANTUM, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT
        )


def _rate(
    src: str, dst: str, on: date, rate: Decimal, *, quoted: datetime, contract: bool = False
) -> SampleRecord:
    kind, source = ("CONTRACT", "treasury") if contract else ("SPOT", "ECB-sample")
    value = {
        "from_currency": src,
        "to_currency": dst,
        "rate_date": on,
        "rate": rate,
        "rate_type": kind,
        "contract_id": CONTRACT_ID if kind == "CONTRACT" else None,
        "source": source,
        "quoted_at": quoted,
    }
    return SampleRecord("ref.fx-rates", f"{src}/{dst}/{on.isoformat()}/{kind}", value)
