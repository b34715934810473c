"""Offline dry run for accountants: the posting rules over JSON-lines files, no Kafka.

Reference data and events are JSON lines ``{"topic": T, "value": {...}}`` with the
value in its Avro schema's JSON form (decimals as strings, dates ``YYYY-MM-DD``,
instants ISO-8601 with an offset); ``{"topic": T, "key": K, "value": null}`` deletes
(a tombstone). Each value is checked against the topic's newest schema
(``from_json_form``), validated into its domain model (``parse_event``) and posted
with ``post_event`` against an in-memory posted-records table, exactly as a worker
would. A line that cannot post says where and why (line, field, reason); an event
waiting for something not posted yet (an entry, an invoice) is parked and retried
after each later event. ``streams.domain.trial_balance`` sums the commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from streams.adapters.avro import SchemaCatalog, from_json_form
from streams.domain.commands import PostLedgerEntry, SourceRef
from streams.domain.events import ExpenseRecorded, TimeEntryRecorded, parse_event
from streams.domain.exceptions import LedgerstreamError, TransientError
from streams.domain.feedback import SyncFeedback
from streams.domain.invoices import InvoiceIssued
from streams.domain.payments import PaymentReceived
from streams.domain.posted import PostedLedger
from streams.domain.posting import SourceEvent, Step, identity, post_deletion, post_event
from streams.domain.reference import (
    REFERENCE_TOPICS,
    ReferenceBook,
    reference_key,
)
from streams.domain.rules import Posted

__all__ = [
    "DryRun",
    "LineError",
    "dry_run",
    "load_reference",
]

EVENTS: Final[dict[str, tuple[str, type[BaseModel]]]] = {
    "pm.time-entries": ("time_entry", TimeEntryRecorded),
    "pm.expenses": ("expense", ExpenseRecorded),
    "pm.invoices": ("invoice", InvoiceIssued),
    "pm.payments": ("payment", PaymentReceived),
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LineError:
    """One line that did not post: file, line number, field and reason."""

    file: str
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        reason = self.reason.removeprefix(where) if where else self.reason
        return f"{self.file}:{self.line}: {where}{reason}"

    @classmethod
    def of(cls, file: str, line: int, error: LedgerstreamError, prefix: str = "") -> LineError:
        """Describe a failed line by its error: the field, the reason, the stable code."""
        where = f"{error.field}: " if error.field else ""
        reason = error.message.removeprefix(where)
        return cls(file, line, error.field, f"{prefix}{reason} [{error.code}]")


@dataclass(slots=True)
class DryRun:
    """What a dry run posted, said and refused."""

    commands: list[PostLedgerEntry] = field(default_factory=list)
    feedback: list[SyncFeedback] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    ledger: PostedLedger = field(default_factory=PostedLedger)

    @property
    def ok(self) -> bool:
        """True if every line posted (or was deliberately skipped)."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class _Parked:
    file: str
    line: int
    event: SourceEvent
    source: SourceRef
    error: LedgerstreamError


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, LineError(path.name, number, None, f"not valid JSON: {exc.msg}")
                continue
            if not isinstance(data, dict) or "topic" not in data or "value" not in data:
                reason = 'expected {"topic": ..., "value": ...}'
                yield number, LineError(path.name, number, None, reason)
                continue
            yield number, data


def _model(catalog: SchemaCatalog, topic: str, model: type[BaseModel], value: Any) -> Any:
    record = from_json_form(catalog.reader(topic).parsed, value)
    return parse_event(model, record)


def load_reference(path: Path, catalog: SchemaCatalog, run: DryRun) -> ReferenceBook:
    """Read reference records (entities, customers, projects, employees, FX rates) into a book."""
    book = ReferenceBook()
    for number, data in _lines(path):
        if isinstance(data, LineError):
            run.errors.append(data)
            continue
        topic = data["topic"]
        if topic not in REFERENCE_TOPICS:
            reason = f"topic {topic!r} is not reference data ({', '.join(REFERENCE_TOPICS)})"
            run.errors.append(LineError(path.name, number, "topic", reason))
            continue
        try:
            model = _model(catalog, topic, REFERENCE_TOPICS[topic][1], data["value"])
            book.put(reference_key(model), model)
        except LedgerstreamError as exc:
            run.errors.append(LineError.of(path.name, number, exc))
    return book


def dry_run(reference: Path, events: Path, *, catalog: SchemaCatalog, rule_version: str) -> DryRun:
    """Post every event of a file against reference data, as a worker would, without Kafka.

    Args:
        reference: JSON lines of reference records.
        events: JSON lines of events (and tombstones), posted in file order.
        catalog: The schemas (JSON form is checked against each topic's newest one).
        rule_version: Stamped on every command (part of ``command_id``).

    Returns:
        The commands in order, the sync feedback, and every line that did not post
        (bad lines, permanent errors, and events still parked at the end).

    """
    run = DryRun()
    book = load_reference(reference, catalog, run)
    parked: list[_Parked] = []
    for number, data in _lines(events):
        if isinstance(data, LineError):
            run.errors.append(data)
            continue
        _post_line(
            run,
            book,
            catalog=catalog,
            name=events.name,
            number=number,
            data=data,
            parked=parked,
            rule_version=rule_version,
        )
    run.errors += [LineError.of(p.file, p.line, p.error, "still parked: ") for p in parked]
    run.errors.sort(key=lambda e: (e.file != reference.name, e.line))
    return run


def _post_line(
    run: DryRun,
    book: ReferenceBook,
    *,
    catalog: SchemaCatalog,
    name: str,
    number: int,
    data: dict[str, Any],
    parked: list[_Parked],
    rule_version: str,
) -> None:
    topic = data["topic"]
    if topic not in EVENTS:
        reason = f"topic {topic!r} is not an event topic ({', '.join(EVENTS)})"
        run.errors.append(LineError(name, number, "topic", reason))
        return
    kind, model = EVENTS[topic]
    if data["value"] is None:
        key = data.get("key")
        if not isinstance(key, str):
            run.errors.append(LineError(name, number, "key", "a tombstone needs the record's key"))
            return
        source = _source(kind, key, 1, topic=topic, number=number, event_time=_EPOCH)
        try:
            step = post_deletion(run.ledger, source=source, rule_version=rule_version)
        except LedgerstreamError as exc:
            run.errors.append(LineError.of(name, number, exc))
            return
        _keep(run, step)
        _redrive(run, book, parked, rule_version)
        return
    try:
        event: SourceEvent = _model(catalog, topic, model, data["value"])
        _, source_id, version = identity(event)
        source = _source(
            kind, source_id, version, topic=topic, number=number, event_time=event.recorded_at
        )
        step = post_event(run.ledger, event, book, source=source, rule_version=rule_version)
    except TransientError as exc:
        parked.append(_Parked(name, number, event, source, exc))
        return
    except LedgerstreamError as exc:
        run.errors.append(LineError.of(name, number, exc))
        return
    _keep(run, step)
    _redrive(run, book, parked, rule_version)


def _redrive(run: DryRun, book: ReferenceBook, parked: list[_Parked], rule_version: str) -> None:
    """Retry parked events until none of them posts any more."""
    progress = True
    while progress and parked:
        progress = False
        for waiting in list(parked):
            try:
                step = post_event(
                    run.ledger,
                    waiting.event,
                    book,
                    source=waiting.source,
                    rule_version=rule_version,
                )
            except TransientError:
                continue
            except LedgerstreamError as exc:
                run.errors.append(LineError.of(waiting.file, waiting.line, exc))
            else:
                _keep(run, step)
            parked.remove(waiting)
            progress = True


def _source(
    kind: str, source_id: str, version: int, *, topic: str, number: int, event_time: datetime
) -> SourceRef:
    return SourceRef(
        system="pm",
        type=kind,
        id=source_id,
        version=version,
        topic=topic,
        partition=0,
        offset=number,
        event_time=event_time,
    )


def _keep(run: DryRun, step: Step) -> None:
    run.ledger = step.ledger
    run.feedback += step.feedback
    if isinstance(step.outcome, Posted):
        run.commands += step.outcome.commands
