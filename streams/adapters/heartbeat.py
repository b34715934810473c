"""Heartbeat canaries: synthetic time entries that travel both stages to the shadow sink.

Every worker produces one canary per partition of ``pm.time-entries`` on a
timer. A canary is consumed, decoded and validated like any time entry; stage 1
routes it to its entity (a synthetic one, in no topic) and forwards it to the
stage-2 partition of its own source partition (:func:`ledger_partition`), so every
partition of both stages is proved; stage 2 posts it against a reference book of
its own (:func:`canary_book`) and an empty posted-records table
(:func:`post_canary`: nothing is written to the table) and sends its commands to
``acct.ledger-commands.shadow`` only: never to the real sink, never to the
dead-letter topic, no sync feedback. Only then is its age taken:
``ledgerstream_heartbeat_age_seconds`` measures the whole path, and a silent stall
of either stage shows as a growing age.

A canary carries two marks, and a record must carry both or neither: the header
``ledgerstream-synthetic: 1`` and a key starting with
``__ledgerstream-heartbeat__/``. Other consumers of the topic (and of the shadow
topic, whose canary commands keep the header) can filter on either. A record
with only one mark is dead-lettered (``INVALID_SYNTHETIC_MARK``) rather than
guessed at. A canary also carries its worker's heartbeat interval
(``ledgerstream-heartbeat-interval``, seconds), so that tools judging whether a
worker runs (``replay``) use the workers' interval, not their own settings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from streams.adapters.dlq import Headers, SourceRecord
from streams.adapters.exceptions import HeartbeatError, SyntheticMarkError
from streams.domain.commands import PostLedgerEntry, SourceRef
from streams.domain.events import TimeEntryRecorded
from streams.domain.posted import PostedLedger
from streams.domain.posting import SourceEvent, post_event
from streams.domain.reference import (
    Customer,
    Employee,
    LegalEntity,
    Project,
    ProjectKind,
    ReferenceBook,
)
from streams.domain.rules.outcome import Posted

__all__ = [
    "CANARY_ID",
    "INTERVAL_HEADER",
    "KEY_PREFIX",
    "SYNTHETIC_HEADER",
    "Canary",
    "canaries",
    "canary_book",
    "interval_of",
    "is_synthetic",
    "ledger_partition",
    "post_canary",
    "produced_at",
]

SYNTHETIC_HEADER: Final = "ledgerstream-synthetic"
#: Seconds between the producing worker's canary rounds (its heartbeat interval setting).
INTERVAL_HEADER: Final = "ledgerstream-heartbeat-interval"
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


def interval_of(record: SourceRecord) -> float | None:
    """Return the heartbeat interval (s) of the canary's worker; None if not carried."""
    for key, value in record.headers:
        if key == INTERVAL_HEADER and value is not None:
            try:
                interval = float(value)
            except ValueError:
                return None
            return interval if interval > 0 else None
    return None


def ledger_partition(source_partition: int, partitions: int) -> int:
    """Return the stage-2 partition a canary of ``source_partition`` goes through.

    Canaries of every source partition share one entity, so by key they would all
    prove a single stage-2 partition: spread by source partition instead.
    """
    return source_partition % partitions


def post_canary(
    event: SourceEvent, book: ReferenceBook, *, source: SourceRef, rule_version: str
) -> tuple[PostLedgerEntry, ...]:
    """Post a canary with the real rules against an empty table; return its commands.

    Nothing of a canary is kept in the posted-records table (every canary is a new
    entry: the table would grow by one row per partition and round).

    Raises:
        HeartbeatError: The rule did not post the canary (held or skipped).

    """
    step = post_event(
        PostedLedger.over(_nothing), event, book, source=source, rule_version=rule_version
    )
    if not isinstance(step.outcome, Posted) or not step.outcome.commands:
        raise HeartbeatError(f"canary {source.id} was not posted: {step.outcome!r}")
    return step.outcome.commands


def _nothing(_name: str, _key: str) -> None:
    return None


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
    partitions: Sequence[int],
    *,
    origin: str,
    sequence: int,
    now: datetime,
    interval_seconds: float | None = None,
) -> list[Canary]:
    """One canary per partition, from the worker ``origin``, for heartbeat ``sequence``.

    Args:
        partitions: The partitions of the event topic (every one gets a canary).
        origin: The producing worker (part of the key, so canaries are traceable).
        sequence: Increasing number of this round of heartbeats.
        now: The canary's event time (aware); its age is measured from here.
        interval_seconds: The worker's heartbeat interval, carried in
            ``ledgerstream-heartbeat-interval`` (None: not carried).

    """
    headers: Headers = [(SYNTHETIC_HEADER, b"1")]
    if interval_seconds is not None:
        headers.append((INTERVAL_HEADER, f"{interval_seconds:g}".encode()))
    result = []
    for partition in partitions:
        key = f"{KEY_PREFIX}{origin}/{partition}"
        entry = _canary_entry(f"{key}/{sequence}", now)
        result.append(Canary(partition, key.encode(), entry, list(headers)))
    return result
