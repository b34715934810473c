"""Dead-letter triage: ``dlq list`` and ``dlq show``, and the selection ``redrive`` shares.

``list`` prints one line per selected dead letter and a count by error code;
``show`` prints one envelope whole, its original value decoded when it can be.
Selection is by error code, source topic, key and failure time
(:class:`~streams.adapters.dlq_store.DeadLetterFilter`); ``dlq redrive`` is in
:mod:`streams.ops.redrive`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from streams.adapters.avro import AvroCodec
from streams.adapters.dlq_store import (
    DLQ_TOPIC,
    DeadLetterFilter,
    StoredDeadLetter,
    collapse_copies,
    count_by_code,
    read_dead_letters,
)
from streams.domain.exceptions import LedgerstreamError
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.render import bytes_text, instant, json_default, plural
from streams.ops.selection import DlqPosition, parse_time_range
from streams.settings import Settings

__all__ = ["DlqQuery", "build_filter", "logical", "read_selected", "run_list", "run_show"]


@dataclass(frozen=True, slots=True)
class DlqQuery:
    """Which dead letters to read, and how long to read the DLQ topic for."""

    filter: DeadLetterFilter
    idle_seconds: float = 2.0
    max_seconds: float = 300.0


def build_filter(
    settings: Settings,
    *,
    codes: Iterable[str] = (),
    source_topics: Iterable[str] = (),
    keys: Iterable[str] = (),
    since: str | None = None,
    until: str | None = None,
    now: datetime,
) -> DeadLetterFilter:
    """Turn the operator's options into a filter (logical topic names made physical).

    Raises:
        InvalidArgumentError: A malformed instant or an empty range.

    """
    window = parse_time_range(since, until, now=now)
    return DeadLetterFilter(
        codes=frozenset(code.strip().upper() for code in codes),
        source_topics=frozenset(settings.topic(topic) for topic in source_topics),
        keys=frozenset(key.encode() for key in keys),
        since=window.since,
        until=window.until,
    )


def read_selected(
    settings: Settings, codec: AvroCodec, query: DlqQuery, *, collapse: bool = True
) -> list[StoredDeadLetter]:
    """Read the DLQ topic until idle and keep the dead letters the query selects.

    ``collapse``: one dead letter per failed record, the copies a replay wrote
    again counted in it (``collapse_copies``); False keeps every copy.
    """
    letters = [
        letter
        for letter in read_dead_letters(
            settings.kafka_client_config(),
            codec,
            settings.topic(DLQ_TOPIC),
            idle_seconds=query.idle_seconds,
            max_seconds=query.max_seconds,
        )
        if query.filter.matches(letter)
    ]
    return collapse_copies(letters) if collapse else letters


def logical(settings: Settings, topic: str) -> str:
    """Return the logical name of a physical topic (the prefix removed)."""
    return topic.removeprefix(settings.topic_prefix)


def _source(settings: Settings, letter: StoredDeadLetter) -> str:
    return (
        f"{logical(settings, letter.source_topic) or '?'}"
        f"[{letter.source_partition}]@{letter.source_offset}"
    )


def _summary_row(settings: Settings, letter: StoredDeadLetter) -> dict[str, Any]:
    envelope = letter.envelope or {}
    return {
        "position": letter.position,
        "partition": letter.partition,
        "offset": letter.offset,
        "code": letter.code,
        "source_topic": logical(settings, letter.source_topic),
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "key": bytes_text(letter.source_key),
        "message": letter.message,
        "field": envelope.get("field"),
        "retryable": envelope.get("retryable"),
        "attempts": envelope.get("attempts"),
        "first_failed_at": letter.first_failed_at,
        "last_failed_at": letter.last_failed_at,
        "redrive_count": letter.redrive_count,
        "copies": letter.copies,
    }


def run_list(
    settings: Settings,
    codec: AvroCodec,
    query: DlqQuery,
    out: TextIO,
    *,
    as_json: bool = False,
    limit: int = 0,
) -> int:
    """Print one line per selected dead letter, then the count by error code."""
    letters = sorted(
        read_selected(settings, codec, query),
        key=lambda letter: (letter.timestamp_ms or 0, letter.partition, letter.offset),
    )
    shown = letters[-limit:] if limit else letters
    for letter in shown:
        if as_json:
            row = _summary_row(settings, letter)
            out.write(json.dumps(row, default=json_default, sort_keys=True) + "\n")
            continue
        message = letter.message.splitlines()[0] if letter.message else ""
        copies = f"  (x{letter.copies}: read again)" if letter.copies > 1 else ""
        out.write(
            f"{letter.position:>9}  {instant(letter.last_failed_at)}  {letter.code:<22}  "
            f"{_source(settings, letter)}  key={bytes_text(letter.source_key)}  "
            f"{message[:160]}{copies}\n"
        )
    counts = count_by_code(letters)
    if as_json:
        out.write(json.dumps({"total": len(letters), "by_code": counts}, sort_keys=True) + "\n")
        return 0
    more = f" (the last {len(shown)} shown)" if len(shown) < len(letters) else ""
    out.write(f"\n{plural(len(letters), 'dead letter')}{more}\n")
    for code, count in counts.items():
        out.write(f"  {code:<24} {count}\n")
    return 0


def _value_view(settings: Settings, codec: AvroCodec, letter: StoredDeadLetter) -> dict[str, Any]:
    """Describe the original value: decoded with its writer schema if possible, else its bytes."""
    value = (letter.envelope or {}).get("value")
    if value is None:
        return {"tombstone": True}
    try:
        decoded = codec.decode(logical(settings, letter.source_topic), value)
    except LedgerstreamError as exc:
        return {
            "decodable": False,
            "error": f"{exc.code}: {exc}",
            "length": len(value),
            "hex": value.hex(),
            "base64": json_default(value),
        }
    return {"decodable": True, "schema_id": decoded.schema_id, "record": decoded.record}


def _show_text(
    settings: Settings, letter: StoredDeadLetter, view: dict[str, Any], out: TextIO
) -> None:
    envelope = letter.envelope or {}
    write = out.write
    write(f"dead letter {letter.position} (written {instant(_written(letter))})\n")
    if letter.envelope is None:
        write(f"  envelope      NOT READABLE: {letter.envelope_error}\n")
    retryable = "retryable" if envelope.get("retryable") else "not retryable"
    write(f"  error         {letter.code} ({envelope.get('error_class', '?')}), {retryable}\n")
    write(f"  message       {letter.message}\n")
    write(f"  field         {envelope.get('field') or '-'}\n")
    write(f"  source        {_source(settings, letter)}")
    write(f" (record time {instant(envelope.get('source_timestamp'))})\n")
    write(f"  key           {bytes_text(letter.source_key)}\n")
    write(f"  schema id     {envelope.get('schema_id') or '-'}\n")
    write(
        f"  attempts      {envelope.get('attempts', '?')}: first failed "
        f"{instant(letter.first_failed_at)}, last {instant(letter.last_failed_at)}\n"
    )
    write(f"  processor     {envelope.get('processor', '-')}\n")
    write(
        f"  trace         {envelope.get('trace_id') or '-'} span {envelope.get('span_id') or '-'}\n"
    )
    write(f"  redriven      {letter.redrive_count} times before\n")
    write(f"  headers{'' if letter.original_headers else '       (none)'}\n")
    for key, raw in letter.original_headers:
        write(f"    {key}: {bytes_text(raw)}\n")
    if view.get("tombstone"):
        write("  value         null (tombstone)\n")
    elif view.get("decodable"):
        write(f"  value         decoded with schema id {view['schema_id']}:\n")
        pretty = json.dumps(view["record"], default=json_default, indent=2, sort_keys=True)
        write("".join(f"    {line}\n" for line in pretty.splitlines()))
    elif letter.envelope is not None:
        write(f"  value         not decodable ({view['error']}), {view['length']} bytes\n")
        write(f"    hex         {view['hex']}\n")
        write(f"    base64      {view['base64']}\n")
    write("  stack trace\n")
    for line in str(envelope.get("stack_trace") or "-").splitlines():
        write(f"    {line}\n")


def _written(letter: StoredDeadLetter) -> datetime | None:
    if letter.timestamp_ms is None:
        return None
    return datetime.fromtimestamp(letter.timestamp_ms / 1000, tz=UTC)


def run_show(
    settings: Settings,
    codec: AvroCodec,
    out: TextIO,
    *,
    position: DlqPosition | None = None,
    key: str | None = None,
    as_json: bool = False,
    idle_seconds: float = 2.0,
    max_seconds: float = 300.0,
) -> int:
    """Print the dead letter at a position, or every dead letter of a key, whole.

    Raises:
        InvalidArgumentError: Nothing at that position or with that key, or a bare
            offset that several partitions hold.

    """
    wanted_key = None if key is None else key.encode()
    letters = [
        letter
        for letter in read_selected(
            settings,
            codec,
            DlqQuery(DeadLetterFilter(), idle_seconds, max_seconds),
            collapse=False,  # any copy can be shown by its position
        )
        if (wanted_key is not None and letter.source_key == wanted_key)
        or (
            position is not None
            and letter.offset == position.offset
            and position.partition in (None, letter.partition)
        )
    ]
    if not letters:
        what = f"key {key!r}" if key is not None else f"position {position}"
        raise InvalidArgumentError(f"no dead letter at {what}", field="position")
    if position is not None and len(letters) > 1:
        where = ", ".join(letter.position for letter in letters)
        raise InvalidArgumentError(
            f"offset {position.offset} is held by several DLQ partitions ({where}): "
            "give PARTITION:OFFSET",
            field="position",
        )
    for number, letter in enumerate(letters):
        view = _value_view(settings, codec, letter)
        if as_json:
            row = _summary_row(settings, letter) | {
                "envelope": letter.envelope,
                "envelope_error": letter.envelope_error,
                "value": view,
                "headers": [[k, bytes_text(v)] for k, v in letter.original_headers],
            }
            out.write(json.dumps(row, default=json_default, sort_keys=True) + "\n")
        else:
            if number:
                out.write("\n")
            _show_text(settings, letter, view, out)
    return 0
