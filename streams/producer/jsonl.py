"""Publish JSON-lines files of events: good lines are sent, bad ones reported by line.

A non-blank line is either one event's value in JSON form, for the topic given
(``produce --topic T``), or the line format of ``dry-run`` and ``examples/``::

    {"topic": "pm.projects", "value": {...}}                  an event or reference record
    {"topic": "pm.time-entries", "schema_version": 1, "value": {...}}   an older version
    {"topic": "pm.invoices", "key": "INV-1", "value": null}   a deletion (tombstone)

so the file a dry run posted, reference data included, can be published as it is.
A line that is not JSON, not an object, or not a valid event is reported as
``FILE:LINE:COLUMN: field: reason [CODE]`` and the rest of the file goes on.
:class:`Progress` draws a bar on a terminal for large files; :func:`produce_file`
returns a summary.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from streams.adapters.avro.jsonform import json_text
from streams.adapters.jsonlines import (
    ENVELOPE_KEYS,
    INVALID_LINE,
    JsonLine,
    LineError,
    field_column,
    json_type,
    read_json_lines,
)
from streams.producer.events import EVENT_TOPICS, Event, EventBuilder
from streams.producer.exceptions import EventRejectedError
from streams.producer.producer import EventProducer

__all__ = ["LineError", "ProduceSummary", "Progress", "Tombstone", "produce_file"]

_BAR_WIDTH: Final = 30
_REDRAW_SECONDS: Final = 0.2


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A deletion line: ``{"topic": T, "key": K, "value": null}``."""

    topic: str
    key: str


@dataclass(slots=True)
class ProduceSummary:
    """What a run did with a file: per topic, what was published (or checked)."""

    topic: str | None
    lines: int = 0
    published: int = 0
    errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    stopped_early: bool = False
    by_topic: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        verb = "valid (dry run, nothing sent)" if self.dry_run else "published"
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        stopped = "; stopped at the error limit" if self.stopped_early else ""
        topics = [t for t in self.by_topic if t != self.topic]
        label = self.topic or "(no records)"
        if topics or (self.topic is None and self.by_topic):
            label = ", ".join(f"{t} {n}" for t, n in sorted(self.by_topic.items()))
        return (
            f"{label}: {self.published} {verb}, {len(self.errors)} rejected, "
            f"{self.lines} lines in {self.seconds:.1f}s ({rate:,.0f} lines/s){stopped}"
        )


class Progress:
    """A one-line progress bar on a stream (a terminal), redrawn at most 5 times a second."""

    def __init__(self, total_bytes: int, stream: TextIO | None = None) -> None:
        """Draw progress against ``total_bytes`` (the file size), on stderr by default."""
        self._total = max(total_bytes, 1)
        self._stream = stream or sys.stderr
        self._started = self._drawn = time.monotonic()

    def update(self, done_bytes: int, summary: ProduceSummary, *, final: bool = False) -> None:
        """Redraw the bar if it is time (or ``final``)."""
        now = time.monotonic()
        if not final and now - self._drawn < _REDRAW_SECONDS:
            return
        self._drawn = now
        share = min(done_bytes / self._total, 1.0)
        filled = int(share * _BAR_WIDTH)
        rate = summary.lines / max(now - self._started, 1e-9)
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {share:4.0%} "
            f"{summary.lines:,} lines, {summary.published:,} ok, {len(summary.errors):,} rejected, "
            f"{rate:,.0f}/s"
        )
        if final:
            self._stream.write("\n")
        self._stream.flush()


class _RejectedLineError(Exception):
    """A line that is not an event: its reason, field and code."""

    def __init__(self, reason: str, field: str | None = None, code: str = INVALID_LINE) -> None:
        super().__init__(reason)
        self.reason, self.field, self.code = reason, field, code


def _event_of(
    builder: EventBuilder, topic: str | None, line: JsonLine, file: str
) -> Event | Tombstone | LineError:
    try:
        return _read(builder, topic, line.data)
    except EventRejectedError as exc:
        name = exc.field or ("topic" if exc.reason.startswith("not a topic") else None)
        reason, code = exc.reason, exc.code
    except _RejectedLineError as exc:
        name, reason, code = exc.field, exc.reason, exc.code
    return LineError(file, line.number, field_column(line.text, name), name, reason, code)


def _read(builder: EventBuilder, topic: str | None, data: Any) -> Event | Tombstone:
    if not isinstance(data, dict):
        raise _RejectedLineError(f"expected a JSON object, got {json_type(data)}")
    if not _is_envelope(data):
        if topic is None:
            raise _RejectedLineError(
                'a bare event needs --topic (or write the line as {"topic": ..., "value": ...})'
            )
        return builder.build(topic, data, json_form=True)
    line_topic, value = data["topic"], data["value"]
    if line_topic not in EVENT_TOPICS:
        known = ", ".join(sorted(EVENT_TOPICS))
        raise _RejectedLineError(
            f"{json_text(line_topic)} is not a topic producers write (known: {known})", "topic"
        )
    if topic is not None and line_topic != topic:
        raise _RejectedLineError(f"the line is for {line_topic}, --topic says {topic}", "topic")
    if value is None:
        key = data.get("key")
        if not isinstance(key, str):
            raise _RejectedLineError('a tombstone ("value": null) needs the record\'s "key"', "key")
        return Tombstone(line_topic, key)
    if not isinstance(value, dict):
        raise _RejectedLineError(f"expected a JSON object, got {json_type(value)}", "value")
    version = data.get("schema_version")
    if version is None:
        return builder.build(line_topic, value, json_form=True)
    return builder.build_version(line_topic, value, version)


def _is_envelope(data: dict[str, Any]) -> bool:
    return "topic" in data and "value" in data and set(data) <= ENVELOPE_KEYS


def produce_file(
    path: Path,
    topic: str | None,
    producer: EventProducer | None,
    *,
    builder: EventBuilder | None = None,
    on_error: Callable[[LineError], None] | None = None,
    progress: Progress | None = None,
    max_errors: int = 0,
) -> ProduceSummary:
    """Validate every line of a JSON-lines file and send the valid ones.

    Args:
        path: The file (UTF-8, one JSON object per line; blank lines are skipped).
        topic: Logical topic of bare event lines; None: every line names its topic.
        producer: Where to send; None validates only (a dry run).
        builder: Validator (default: the producer's schemas, or the shipped ones).
        on_error: Called with each rejected line as soon as it is found.
        progress: A progress bar to update, if any.
        max_errors: Stop after this many rejected lines (0: never stop early).

    Returns:
        The summary; its ``errors`` list every rejected line.

    Raises:
        OSError: The file cannot be read.
        ProduceError: Valid events could not be delivered.

    """
    checker = builder or EventBuilder()
    summary = ProduceSummary(topic, dry_run=producer is None)
    started = time.monotonic()
    done = 0

    def read(done_bytes: int) -> None:
        nonlocal done
        done = done_bytes

    for line in read_json_lines(path, on_bytes=read):
        summary.lines += 1
        outcome = (
            line if isinstance(line, LineError) else _event_of(checker, topic, line, str(path))
        )
        if isinstance(outcome, LineError):
            summary.errors.append(outcome)
            if on_error is not None:
                on_error(outcome)
        else:
            if isinstance(outcome, Tombstone) and producer is not None:
                producer.delete(outcome.topic, outcome.key)
            elif isinstance(outcome, Event) and producer is not None:
                producer.send(outcome.topic, outcome)
            summary.published += 1
            summary.by_topic[outcome.topic] += 1
        if progress is not None:
            progress.update(done, summary)
        if max_errors and len(summary.errors) >= max_errors:
            summary.stopped_early = True
            break
    if producer is not None:
        producer.flush()
    summary.seconds = time.monotonic() - started
    if progress is not None:
        progress.update(done, summary, final=True)
    return summary
