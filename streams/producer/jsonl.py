"""Publish a JSON-lines file of events: good lines are sent, bad ones reported by line.

Each non-blank line is one event in JSON form. A line that is not JSON, not an
object, or not a valid current event is reported with its line number and field,
and the rest of the file goes on. :class:`Progress` draws a bar on a terminal for
large files; :func:`produce_file` returns a summary.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from streams.producer.events import Event, EventBuilder
from streams.producer.exceptions import EventRejectedError
from streams.producer.producer import EventProducer

__all__ = ["LineError", "ProduceSummary", "Progress", "produce_file"]

_BAR_WIDTH: Final = 30
_REDRAW_SECONDS: Final = 0.2


@dataclass(frozen=True, slots=True)
class LineError:
    """One rejected line: where, which field, why."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field + ': ' if self.field else ''}{self.reason}"


@dataclass(slots=True)
class ProduceSummary:
    """What a run did with a file."""

    topic: str
    lines: int = 0
    published: int = 0
    errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    stopped_early: bool = False

    def __str__(self) -> str:
        verb = "valid (dry run, nothing sent)" if self.dry_run else "published"
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        stopped = "; stopped at the error limit" if self.stopped_early else ""
        return (
            f"{self.topic}: {self.published} {verb}, {len(self.errors)} rejected, "
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


def _event_of(builder: EventBuilder, topic: str, number: int, text: str) -> Event | LineError:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return LineError(number, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(data, dict):
        return LineError(number, None, f"expected a JSON object, got {type(data).__name__}")
    try:
        return builder.build(topic, data, json_form=True)
    except EventRejectedError as exc:
        return LineError(number, exc.field, exc.reason)


def produce_file(
    path: Path,
    topic: str,
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
        topic: Logical topic the events are for.
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
    done_bytes = 0
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            done_bytes += len(raw)
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                summary.lines += 1
                outcome = _event_of(checker, topic, number, text)
                if isinstance(outcome, LineError):
                    summary.errors.append(outcome)
                    if on_error is not None:
                        on_error(outcome)
                else:
                    if producer is not None:
                        producer.send(topic, outcome)
                    summary.published += 1
            if progress is not None:
                progress.update(done_bytes, summary)
            if max_errors and len(summary.errors) >= max_errors:
                summary.stopped_early = True
                break
    if producer is not None:
        producer.flush()
    summary.seconds = time.monotonic() - started
    if progress is not None:
        progress.update(done_bytes, summary, final=True)
    return summary
