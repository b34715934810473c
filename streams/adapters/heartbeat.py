"""Heartbeat canaries: synthetic time entries that travel the whole pipeline, never the sink.

Every worker produces one canary per partition of ``pm.time-entries`` on a
timer. A canary is consumed, decoded, validated and posted like any time entry,
against a reference book of its own (a synthetic entity, customer, project and
employee that exist in no topic), and its commands are encoded; then they are
dropped: a canary reaches neither ``acct.ledger-commands`` nor the dead-letter
topic. What it leaves is ``ledgerstream_heartbeat_age_seconds``: a silent stall
shows as a growing age.

A canary carries two marks, and a record must carry both or neither: the header
``ledgerstream-synthetic: 1`` and a key starting with
``__ledgerstream-heartbeat__/``. Other consumers of the topic can filter on
either. A record with only one mark is dead-lettered (``INVALID_SYNTHETIC_MARK``)
rather than guessed at.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from streams.adapters.dlq import Headers, SourceRecord
from streams.adapters.exceptions import SyntheticMarkError
from streams.domain.events import TimeEntryRecorded
from streams.domain.reference import (
    Customer,
    Employee,
    LegalEntity,
    Project,
    ProjectKind,
    ReferenceBook,
)

__all__ = [
    "CANARY_ID",
    "KEY_PREFIX",
    "SYNTHETIC_HEADER",
    "Canary",
    "canaries",
    "canary_book",
    "is_synthetic",
    "produced_at",
]

SYNTHETIC_HEADER: Final = "ledgerstream-synthetic"
KEY_PREFIX: Final = "__ledgerstream-heartbeat__/"
#: The id of the canary's entity, customer, project and employee (in no topic).
CANARY_ID: Final = "__ledgerstream-heartbeat__"

_KEY_PREFIX_BYTES: Final = KEY_PREFIX.encode()
_CANARY_MINUTES: Final = 60


@dataclass(frozen=True, slots=True)
class Canary:
    """One synthetic record to produce: partition, key, value (a time entry) and headers."""

    partition: int
    key: bytes
    value: dict[str, Any]
    headers: Headers


def is_synthetic(record: SourceRecord) -> bool:
    """Tell a canary from a real record (both marks) or reject a half-marked one.

    Raises:
        SyntheticMarkError: The record carries only one of the two marks.

    """
    marked = any(key == SYNTHETIC_HEADER for key, _ in record.headers)
    prefixed = record.key is not None and record.key.startswith(_KEY_PREFIX_BYTES)
    if marked is not prefixed:
        raise SyntheticMarkError(
            f"record has {'the header' if marked else 'the key prefix'} of a synthetic canary"
            f" but not {'the key prefix' if marked else 'the header'}: "
            f"keys starting with {KEY_PREFIX!r} are reserved for heartbeats",
            field="key" if marked else "headers",
        )
    return marked


def produced_at(record: SourceRecord, clock: Any = time.time) -> float:
    """When a canary was produced (epoch seconds): its Kafka timestamp, else now."""
    if record.timestamp_ms is None:
        return float(clock())
    return record.timestamp_ms / 1000


def canary_book() -> ReferenceBook:
    """Build the reference data canaries post against: USD, UTC, no approval, in no topic."""
    book = ReferenceBook()
    book.put(
        CANARY_ID,
        LegalEntity(
            entity_id=CANARY_ID,
            name="ledgerstream heartbeat",
            base_currency="USD",
            timezone="UTC",
            tax_regime="NONE",
            approval_required=False,
        ),
    )
    book.put(
        CANARY_ID,
        Customer(
            customer_id=CANARY_ID,
            name="ledgerstream heartbeat",
            entity_id=CANARY_ID,
            currency="USD",
            default_rate=Decimal("1.00"),
        ),
    )
    book.put(
        CANARY_ID,
        Project(
            project_id=CANARY_ID,
            name="ledgerstream heartbeat",
            entity_id=CANARY_ID,
            customer_id=CANARY_ID,
            kind=ProjectKind.CLIENT_TM,
            billing_currency="USD",
            rate=Decimal("1.00"),
        ),
    )
    book.put(
        CANARY_ID,
        Employee(
            employee_id=CANARY_ID,
            name="ledgerstream heartbeat",
            entity_id=CANARY_ID,
            cost_rate=Decimal("1.00"),
            cost_currency="USD",
        ),
    )
    return book


def _canary_entry(entry_id: str, now: datetime) -> dict[str, Any]:
    """Build a billable, approved hour of canary time, shaped like the newest schema."""
    started = now - timedelta(minutes=_CANARY_MINUTES)
    fields: dict[str, Any] = {
        "entry_id": entry_id,
        "version": 1,
        "employee_id": CANARY_ID,
        "project_id": CANARY_ID,
        "started_at": started,
        "ended_at": now,
        "duration_minutes": _CANARY_MINUTES,
        "billable": True,
        "status": "APPROVED",
        "approved_by": "ledgerstream-heartbeat",
        "approved_at": now,
        "description": "synthetic heartbeat canary",
        "recorded_at": now,
    }
    # The canonical model is the newest schema's shape: keep only its fields so the
    # canary follows the schema as it evolves.
    model_fields = TimeEntryRecorded.model_fields
    known = {name: value for name, value in fields.items() if name in model_fields}
    return TimeEntryRecorded.model_validate(known).model_dump()


def canaries(
    partitions: Sequence[int], *, origin: str, sequence: int, now: datetime
) -> list[Canary]:
    """One canary per partition, from the worker ``origin``, for heartbeat ``sequence``.

    Args:
        partitions: The partitions of the event topic (every one gets a canary).
        origin: The producing worker (part of the key, so canaries are traceable).
        sequence: Increasing number of this round of heartbeats.
        now: The canary's event time (aware); its age is measured from here.

    """
    headers: Headers = [(SYNTHETIC_HEADER, b"1")]
    result = []
    for partition in partitions:
        key = f"{KEY_PREFIX}{origin}/{partition}"
        entry = _canary_entry(f"{key}/{sequence}", now)
        result.append(Canary(partition, key.encode(), entry, list(headers)))
    return result
