"""Offline dry run for accountants: the posting rules over JSON-lines files, no Kafka.

Reference data and events are JSON lines ``{"topic": T, "value": {...}}`` with the
value in its Avro schema's JSON form (decimals as strings, dates ``YYYY-MM-DD``,
instants ISO-8601 with an offset); ``{"topic": T, "key": K, "value": null}`` deletes
(a tombstone). Each value is checked against the topic's newest schema
(``from_json_form``), validated into its domain model (``parse_event``) and posted
with ``post_event`` against an in-memory posted-records table, exactly as a worker
would. A line may carry ``"schema_version": N``: its value is then in version N's
JSON form, and it is encoded with that version and decoded by the worker's codec,
so an older version is translated into the current model
(``streams.adapters.avro.translate``) exactly as a worker reads it. A line that
cannot post says where and why (line, field, reason); an event
waiting for something not posted yet (an entry, an invoice) is parked and retried
after each later event. ``streams.domain.trial_balance`` sums the commands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from streams.adapters.avro import AvroCodec, SchemaCatalog, from_json_form
from streams.adapters.exceptions import JsonFormError
from streams.adapters.jsonlines import (
    INVALID_LINE,
    JsonLine,
    LineError,
    field_column,
    json_text,
    json_type,
    read_json_lines,
)
from streams.domain.commands import PostLedgerEntry, SourceRef
from streams.domain.events import parse_event
from streams.domain.exceptions import LedgerstreamError, TransientError
from streams.domain.feedback import SyncFeedback
from streams.domain.posted import PostedLedger
from streams.domain.posting import (
    EVENT_TOPICS,
    SourceEvent,
    Step,
    identity,
    post_deletion,
    post_event,
)
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

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class DryRun:
    """What a dry run posted, said and refused."""

    commands: list[PostLedgerEntry] = field(default_factory=list)
    feedback: list[SyncFeedback] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    ledger: PostedLedger = field(default_factory=PostedLedger)
    #: Said but not an error: e.g. an input file with no records.
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if every line posted (or was deliberately skipped)."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class _Parked:
    file: str
    line: int
    text: str
    event: SourceEvent
    source: SourceRef
    error: LedgerstreamError


def _lines(path: Path, run: DryRun) -> Iterator[JsonLine]:
    """Yield the lines of ``{"topic", ["key",] "value"}`` objects; report the others."""
    seen = False
    for line in read_json_lines(path, file=path.name):
        seen = True
        if isinstance(line, LineError):
            run.errors.append(line)
        elif not isinstance(line.data, dict) or not {"topic", "value"} <= set(line.data):
            run.errors.append(_shape_error(path.name, line))
        else:
            yield line
    if not seen:
        run.warnings.append(f"{path.name}: no records (the file is empty)")


@dataclass(frozen=True, slots=True)
class _Reader:
    """Reads a line's value into a model: newest schema, or the version the line names."""

    catalog: SchemaCatalog
    codec: AvroCodec

    def model(self, topic: str, model: type[BaseModel], data: dict[str, Any]) -> Any:
        version = data.get("schema_version")
        if version is None:
            record = self._newest(topic, data["value"])
        else:
            record = self._versioned(topic, version, data["value"])
        return parse_event(model, record)

    def _newest(self, topic: str, value: Any) -> Any:
        try:
            return from_json_form(self.catalog.reader(topic).parsed, value)
        except JsonFormError as exc:
            raise _older_field_hint(self.catalog, topic, exc) from exc

    def _versioned(self, topic: str, version: Any, value: Any) -> Any:
        """Read ``value`` as ``topic`` version ``version``, then as a worker decodes it."""
        versions = self.catalog.versions(topic)
        if type(version) is not int or version not in versions:
            raise JsonFormError(
                f"schema_version: expected a schema version of {topic} "
                f"({versions[0]}..{versions[-1]}), got {json_text(version)}",
                field="schema_version",
            )
        record = from_json_form(self.catalog.version(topic, version).parsed, value)
        return self.codec.decode(topic, self.codec.encode(topic, record, version=version)).record


def _older_field_hint(catalog: SchemaCatalog, topic: str, error: JsonFormError) -> JsonFormError:
    """Point a field of an older version only at ``schema_version`` (else keep the error)."""
    name = error.field
    newest = catalog.latest(topic)
    if (
        name is None
        or "." in name
        or not error.message.endswith("unknown field, not in the schema")
    ):
        return error
    older = [sv.version for sv in catalog.history(topic)[:-1] if _has_field(sv.raw, name)]
    if not older:
        return error
    return JsonFormError(
        f"{name}: unknown field, not in {topic} v{newest.version} (a field of v{older[-1]}: "
        f'give the line "schema_version": {older[-1]})',
        field=name,
    )


def _has_field(raw: dict[str, Any], name: str) -> bool:
    return any(f["name"] == name for f in raw.get("fields", ()))


def load_reference(path: Path, catalog: SchemaCatalog, run: DryRun) -> ReferenceBook:
    """Read reference records (entities, customers, projects, employees, FX rates) into a book."""
    return _load_reference(path, _Reader(catalog, AvroCodec(catalog)), run)


def _load_reference(
    path: Path, reader: _Reader, run: DryRun, account_map: Mapping[str, str] | None = None
) -> ReferenceBook:
    book = ReferenceBook(account_map)
    for line in _lines(path, run):
        topic = line.data["topic"]
        if topic not in REFERENCE_TOPICS:
            reason = f"{json_text(topic)} is not reference data ({', '.join(REFERENCE_TOPICS)})"
            run.errors.append(_topic_error(path.name, line, reason))
            continue
        try:
            model = reader.model(topic, REFERENCE_TOPICS[topic][1], line.data)
            book.put(reference_key(model), model)
        except LedgerstreamError as exc:
            run.errors.append(LineError.of(path.name, line.number, line.text, exc))
    return book


def _shape_error(file: str, line: JsonLine) -> LineError:
    expected = 'expected an object {"topic": ..., "value": ...}'
    if isinstance(line.data, dict):
        missing = [json_text(k) for k in ("topic", "value") if k not in line.data]
        reason = f"{expected}, without {' or '.join(missing)}"
    else:
        reason = f"{expected}, got {json_type(line.data)}"
    return LineError(file, line.number, 1, None, reason, INVALID_LINE)


def _topic_error(file: str, line: JsonLine, reason: str) -> LineError:
    column = field_column(line.text, "topic")
    return LineError(file, line.number, column, "topic", reason, "UNKNOWN_TOPIC")


def dry_run(
    reference: Path,
    events: Path,
    *,
    catalog: SchemaCatalog,
    rule_version: str,
    account_map: Mapping[str, str] | None = None,
) -> DryRun:
    """Post every event of a file against reference data, as a worker would, without Kafka.

    Args:
        reference: JSON lines of reference records.
        events: JSON lines of events (and tombstones), posted in file order.
        catalog: The schemas (JSON form is checked against each topic's newest one,
            or the version a line's ``schema_version`` names).
        rule_version: Stamped on every command (part of ``command_id``).
        account_map: The rule version's account changes (``LEDGERSTREAM_ACCOUNT_MAP``).

    Returns:
        The commands in order, the sync feedback, and every line that did not post
        (bad lines, permanent errors, and events still parked at the end).

    """
    run = DryRun()
    reader = _Reader(catalog, AvroCodec(catalog))
    book = _load_reference(reference, reader, run, account_map)
    parked: list[_Parked] = []
    for line in _lines(events, run):
        _post_line(
            run,
            book,
            reader=reader,
            name=events.name,
            line=line,
            parked=parked,
            rule_version=rule_version,
        )
    run.errors += [LineError.of(p.file, p.line, p.text, p.error, "still parked: ") for p in parked]
    run.errors.sort(key=lambda e: (e.file != reference.name, e.line))
    return run


def _post_line(
    run: DryRun,
    book: ReferenceBook,
    *,
    reader: _Reader,
    name: str,
    line: JsonLine,
    parked: list[_Parked],
    rule_version: str,
) -> None:
    data: dict[str, Any] = line.data
    number = line.number
    topic = data["topic"]
    if topic not in EVENT_TOPICS:
        reason = f"{json_text(topic)} is not an event topic ({', '.join(EVENT_TOPICS)})"
        run.errors.append(_topic_error(name, line, reason))
        return
    kind, model = EVENT_TOPICS[topic]
    if data["value"] is None:
        key = data.get("key")
        if not isinstance(key, str):
            reason = 'a tombstone ("value": null) needs the record\'s "key"'
            column = field_column(line.text, "key")
            run.errors.append(LineError(name, number, column, "key", reason, "MISSING_KEY"))
            return
        source = _source(kind, key, 1, topic=topic, number=number, event_time=_EPOCH)
        try:
            step = post_deletion(run.ledger, source=source, rule_version=rule_version)
        except LedgerstreamError as exc:
            run.errors.append(LineError.of(name, number, line.text, exc))
            return
        _keep(run, step)
        _redrive(run, book, parked, rule_version)
        return
    try:
        event: SourceEvent = reader.model(topic, model, data)
        _, source_id, version = identity(event)
        source = _source(
            kind, source_id, version, topic=topic, number=number, event_time=event.recorded_at
        )
        step = post_event(run.ledger, event, book, source=source, rule_version=rule_version)
    except TransientError as exc:
        parked.append(_Parked(name, number, line.text, event, source, exc))
        return
    except LedgerstreamError as exc:
        run.errors.append(LineError.of(name, number, line.text, exc))
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
                run.errors.append(LineError.of(waiting.file, waiting.line, waiting.text, exc))
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
