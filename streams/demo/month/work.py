"""The mixed month's work: time entries and expense claims, with their corrections.

Each weekday every person books time with some probability (on the 15th everyone
books every project they are staffed on, billable, so each project kind and each
invoice line has entries); entries are recorded hours after the work and approved
on recording. Nine billable entries are picked for the listed cases: four are
submitted first and approved three days later, three are edited two days later (a
new duration, version 2), one is written by a v1 producer (``duration_minutes``),
one is booked twice and the copy deleted the next day (a tombstone). One more
entry starts at 23:30 in Chicago on the last day of the month.

The expense claims cover a markup, a foreign currency (EUR on a USD project, GBP on
a EUR project), billable at cost, non-billable (a v1 record), internal, capitalised
(approved late) and shared (no project). ``Work`` also keeps what the rules will
accrue for each entry and re-billable expense, so the invoices bill exactly that.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from streams.demo.month.organisation import (
    APPROVERS,
    EMPLOYEES,
    ENTITIES,
    FIRST_DAY,
    LAST_DAY,
    PROJECTS,
    STAFFING,
    FxTable,
    rounding_mode,
)
from streams.demo.sample import Record, SampleRecord
from streams.domain.money import MONEY_CONTEXT, round_money

__all__ = ["ENTRIES_CLOSE", "EventLog", "TimeEntry", "Work"]

#: Timesheets close at noon UTC on 1 October; the month-end invoices follow.
ENTRIES_CLOSE: Final = datetime(2026, 10, 1, 12, tzinfo=UTC)
ENTRIES: Final = "pm.time-entries"
EXPENSES: Final = "pm.expenses"

_CENT: Final = Decimal("0.01")
_SIXTY: Final = Decimal(60)
_ANCHOR_DAY: Final = 15
_DURATIONS: Final = (30, 45, 50, 60, 90, 100, 120, 150, 180, 240)
_TASKS: Final = {"P-1010": (None, "DEV", "DEV", "ARCH", "QA"), "P-2020": (None, "DEV", "DATA")}
_WORK: Final = {
    None: "project work",
    "DEV": "development",
    "ARCH": "architecture review",
    "QA": "testing",
    "DATA": "data preparation",
}
_CASES: Final = ("late-approval",) * 4 + ("edited",) * 3 + ("v1", "duplicate")


class EventLog:
    """Events as the project system recorded them; ``records()`` returns them in time order."""

    def __init__(self) -> None:
        """Start empty."""
        self._events: list[tuple[datetime, int, SampleRecord]] = []

    def add(
        self, at: datetime, topic: str, key: str, value: Record | None, version: int = 0
    ) -> None:
        """Record an event (``value`` None: a tombstone) at ``at``; ``version`` if not newest."""
        record = SampleRecord(topic, key, value, schema_version=version or None)
        self._events.append((at, len(self._events), record))

    def records(self) -> tuple[SampleRecord, ...]:
        """Return every event by time recorded (ties in the order they were added)."""
        return tuple(record for _, _, record in sorted(self._events, key=lambda e: e[:2]))


@dataclass(slots=True)
class TimeEntry:
    """A time entry's latest content, and which case of the month it plays."""

    entry_id: str
    employee: str
    project: str
    task: str | None
    started: datetime
    minutes: int
    billable: bool
    fraction: Decimal | None
    recorded: datetime
    rate_override: Decimal | None = None
    case: str = "plain"  # or one of _CASES, or "last-evening"

    @property
    def entity(self) -> str:
        """The project's entity (whose approver signs the entry off)."""
        return str(PROJECTS[self.project]["entity_id"])


@dataclass(frozen=True, slots=True)
class _Claim:
    expense_id: str
    employee: str
    project: str | None
    day: int
    currency: str
    category: str
    billable: bool
    markup: str
    purpose: str
    merchant: str
    cents: tuple[int, int]  # the amount is drawn from this range of cents
    case: str = "plain"  # or "late-approval", "v1"


_CLAIMS: Final = (
    _Claim(
        "EX-M001", "E-US11", "P-1010", 8, "USD", "TRAVEL", True, "0.10",
        "Flight ORD-JFK for the Lakeshore workshop", "United Airlines", (38000, 52000),
    ),
    _Claim(
        "EX-M002", "E-US12", "P-1010", 9, "USD", "MEALS", False, "0",
        "Team dinner after go-live", "Girl & the Goat", (3000, 6000), case="v1",
    ),
    _Claim(
        "EX-M003", "E-GB13", "P-2020", 10, "GBP", "LODGING", True, "0.15",
        "Hotel in Hamburg, two nights", "Hotel Atlantic", (18000, 26000),
    ),
    _Claim(
        "EX-M004", "E-GB11", None, 11, "GBP", "SUPPLIES", False, "0",
        "Office supplies for the London office", "Ryman", (4000, 9000),
    ),
    _Claim(
        "EX-M005", "E-US13", "P-1020", 14, "USD", "MEALS", True, "0",
        "Workshop lunch with Prairie", "Portillo's", (6000, 11000),
    ),
    _Claim(
        "EX-M006", "E-GB12", "P-2030", 17, "GBP", "TRAINING", False, "0",
        "Course: advanced SQL", "QA Ltd", (42000, 48000),
    ),
    _Claim(
        "EX-M007", "E-US13", "P-1030", 21, "USD", "SOFTWARE", False, "0",
        "Build server licences", "JetBrains", (110000, 130000), case="late-approval",
    ),
    _Claim(
        "EX-M008", "E-US12", "P-1010", 22, "EUR", "LODGING", True, "0.10",
        "Hotel in Frankfurt for the data-centre visit", "Steigenberger", (28000, 34000),
    ),
)  # fmt: skip


class Work:
    """The month's time entries and expenses, written to an event log."""

    def __init__(self, rng: random.Random, fx: FxTable, log: EventLog) -> None:
        """Draw from ``rng``, convert with ``fx``, write events to ``log``."""
        self._rng = rng
        self._fx = fx
        self._log = log
        self.entries: list[TimeEntry] = []
        #: What the expense rule accrues (Dr 1150) per re-billable expense id.
        self.rebills: dict[str, Decimal] = {}

    def record(self) -> None:
        """Generate and log every time entry, then every expense claim."""
        self._time_entries()
        for claim in _CLAIMS:
            self._expense(claim)

    def accrued(self, entry: TimeEntry) -> Decimal:
        """Return the WIP the time-entry rule accrues for an entry's latest version (0: none)."""
        project = PROJECTS[entry.project]
        if not entry.billable or project["kind"] not in ("CLIENT_TM", "RETAINER"):
            return Decimal(0)
        step = project["rounding_increment_minutes"]
        minutes = -(-entry.minutes // step) * step if step else entry.minutes
        billable = MONEY_CONTEXT.multiply(Decimal(minutes), entry.fraction or Decimal(1))
        rates = (
            entry.rate_override,
            project["task_rates"].get(entry.task),
            project["employee_rates"].get(entry.employee),
            project["rate"],
        )
        rate = next(r for r in rates if r is not None)
        amount = MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(billable, rate), _SIXTY)
        return round_money(amount, project["billing_currency"], rounding_mode(entry.entity))

    def _time_entries(self) -> None:
        rng, day = self._rng, FIRST_DAY
        while day <= LAST_DAY:
            for employee, projects in STAFFING.items() if day.weekday() < 5 else ():
                anchor = day.day == _ANCHOR_DAY
                for project in projects if anchor else (rng.choice(projects),):
                    if anchor or rng.random() < 0.6:
                        self.entries.append(self._entry(employee, project, day, anchor=anchor))
            day += timedelta(days=1)
        self.entries.append(self._last_evening())
        kickoff = next(e for e in self.entries if e.project == "P-2020" and e.billable)
        kickoff.rate_override = Decimal("125.00")  # the kick-off day at an agreed lower rate
        early = ENTRIES_CLOSE - timedelta(days=6)  # corrections land before the invoices
        candidates = [e for e in self.entries if e.billable and e.recorded < early]
        for entry, case in zip(rng.sample(candidates, len(_CASES)), _CASES, strict=True):
            entry.case = case
        for entry in self.entries:
            self._log_entry(entry)

    def _entry(self, employee: str, project: str, day: date, *, anchor: bool) -> TimeEntry:
        rng = self._rng
        zone = ZoneInfo(ENTITIES[EMPLOYEES[employee]["entity_id"]]["timezone"])
        hour, minute = rng.randrange(8, 16), rng.choice([0, 30])
        started = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        minutes = rng.choice(_DURATIONS)
        client = PROJECTS[project]["customer_id"] is not None
        billable = client and (anchor or rng.random() < 0.85)
        fraction = Decimal("0.5") if billable and rng.random() < 0.1 else None
        lag = timedelta(minutes=minutes, hours=rng.randrange(1, 30))
        return TimeEntry(
            entry_id=f"TE-M{len(self.entries) + 1:04d}",
            employee=employee,
            project=project,
            task="DEV" if anchor else rng.choice(_TASKS.get(project, (None,))),
            started=started.astimezone(UTC),
            minutes=minutes,
            billable=billable,
            fraction=fraction,
            recorded=min((started + lag).astimezone(UTC), ENTRIES_CLOSE),
        )

    def _last_evening(self) -> TimeEntry:
        """23:30 in Chicago on the last day: 04:30 UTC on the 1st, business date the 30th."""
        zone = ZoneInfo(str(ENTITIES["US10"]["timezone"]))
        started = datetime(2026, 9, 30, 23, 30, tzinfo=zone).astimezone(UTC)
        return TimeEntry(
            entry_id=f"TE-M{len(self.entries) + 1:04d}",
            employee="E-US11",
            project="P-1010",
            task="ARCH",
            started=started,
            minutes=45,
            billable=True,
            fraction=None,
            recorded=started + timedelta(hours=9, minutes=30),
            case="last-evening",
        )

    def _log_entry(self, e: TimeEntry) -> None:
        add = self._log.add
        if e.case == "late-approval":
            add(e.recorded, ENTRIES, e.entry_id, _entry(e, 1, None, e.recorded))
            approved = e.recorded + timedelta(days=3, hours=2)
            add(approved, ENTRIES, e.entry_id, _entry(e, 2, approved, approved))
            return
        value = _entry(e, 1, e.recorded, e.recorded)
        if e.case == "v1":  # the old timesheet app: a duration, no end
            del value["ended_at"], value["external_id"]
            add(e.recorded, ENTRIES, e.entry_id, value | {"duration_minutes": e.minutes}, 1)
            return
        if e.case == "duplicate":  # booked twice by mistake; the copy is deleted next day
            twin = f"{e.entry_id}-DUP"
            copied = e.recorded + timedelta(minutes=10)
            add(copied, ENTRIES, twin, value | {"entry_id": twin, "recorded_at": copied})
            add(e.recorded + timedelta(days=1), ENTRIES, twin, None)
        add(e.recorded, ENTRIES, e.entry_id, value)
        if e.case == "edited":  # the duration was wrong; corrected two days later
            e.minutes = max(15, e.minutes + self._rng.choice([-15, 30, 60]))
            corrected = e.recorded + timedelta(days=2)
            value = _entry(e, 2, corrected, corrected)
            value["description"] += " (duration corrected)"
            add(corrected, ENTRIES, e.entry_id, value)

    def _expense(self, claim: _Claim) -> None:
        on = FIRST_DAY + timedelta(days=claim.day - 1)
        amount = (Decimal(self._rng.randrange(*claim.cents)) / 100).quantize(_CENT)
        home = ENTITIES[EMPLOYEES[claim.employee]["entity_id"]]
        evening = datetime(on.year, on.month, on.day, 18, tzinfo=ZoneInfo(home["timezone"]))
        recorded = (evening + timedelta(days=1)).astimezone(UTC)
        entity = str(PROJECTS[claim.project]["entity_id"] if claim.project else home["entity_id"])
        value: Record = {
            "expense_id": claim.expense_id,
            "version": 1,
            "employee_id": claim.employee,
            "project_id": claim.project,
            "incurred_on": on,
            "amount": amount,
            "currency": claim.currency,
            "category": claim.category,
            "billable": claim.billable,
            "markup_rate": Decimal(claim.markup),
            "receipt_ref": f"RCPT-{claim.expense_id}",
            "status": "APPROVED",
            "approved_by": APPROVERS[entity],
            "approved_at": recorded,
            "business_purpose": claim.purpose,
            "merchant": claim.merchant,
            "recorded_at": recorded,
        }
        add, key = self._log.add, claim.expense_id
        if claim.case == "v1":  # the old expense app: a description, no merchant, null markup
            del value["business_purpose"], value["merchant"]
            add(
                recorded,
                EXPENSES,
                key,
                value | {"description": claim.purpose, "markup_rate": None},
                1,
            )
        elif claim.case == "late-approval":
            add(
                recorded,
                EXPENSES,
                key,
                value | {"status": "SUBMITTED", "approved_by": None, "approved_at": None},
            )
            approved = recorded + timedelta(days=4)
            add(
                approved,
                EXPENSES,
                key,
                value | {"version": 2, "approved_at": approved, "recorded_at": approved},
            )
        else:
            add(recorded, EXPENSES, key, value)
        if claim.billable and claim.project:
            billing = PROJECTS[claim.project]["billing_currency"]
            gross = MONEY_CONTEXT.multiply(amount, 1 + Decimal(claim.markup))
            gross = MONEY_CONTEXT.multiply(gross, self._fx.rate(claim.currency, billing, on))
            self.rebills[key] = round_money(gross, billing, rounding_mode(entity))


def _entry(e: TimeEntry, version: int, approved_at: datetime | None, recorded: datetime) -> Record:
    """Return the ``pm.time-entries`` value of an entry version (SUBMITTED when not approved)."""
    return {
        "entry_id": e.entry_id,
        "version": version,
        "employee_id": e.employee,
        "project_id": e.project,
        "task_id": e.task,
        "started_at": e.started,
        "ended_at": e.started + timedelta(minutes=e.minutes),
        "billable": e.billable,
        "billable_fraction": e.fraction,
        "rate_override": e.rate_override,
        "status": "APPROVED" if approved_at else "SUBMITTED",
        "approved_by": APPROVERS[e.entity] if approved_at else None,
        "approved_at": approved_at,
        "description": f"{_WORK[e.task]} {e.project}",
        "recorded_at": recorded,
        "external_id": None,
    }
