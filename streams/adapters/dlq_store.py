"""Dead letters at rest: read ``ledgerstream.dlq`` back, select some, and re-drive them.

A dead letter keeps its record's original key, value and headers byte for byte
(:mod:`streams.adapters.dlq`), so re-driving is re-publishing exactly those to
the source topic and partition it was read from, with two headers of our own:

* ``ledgerstream-redrive-count: N``: how many times this record has been re-driven
  (incremented from the count the original headers carried);
* ``ledgerstream-redriven-from: P:O``: the dead letter's DLQ partition and offset.

The second makes a redrive safe to repeat: before sending, the source topics are
scanned for records already carrying the marker of a selected dead letter, and
those are skipped. A re-driven record that fails again is a new dead letter, at a
new position, which a later redrive may send again (its count says how often).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from streams.adapters.avro import AvroCodec
from streams.adapters.dlq import SourceRecord
from streams.adapters.kafka_io import RecordProducer, read_topics
from streams.domain.exceptions import LedgerstreamError

__all__ = [
    "REDRIVEN_FROM_HEADER",
    "REDRIVE_COUNT_HEADER",
    "DeadLetterFilter",
    "Redrive",
    "StoredDeadLetter",
    "collapse_copies",
    "count_by_code",
    "plan_redrive",
    "read_dead_letters",
    "redriven_markers",
    "send_redrives",
]

_log = logging.getLogger(__name__)

DLQ_TOPIC: Final = "ledgerstream.dlq"
REDRIVE_COUNT_HEADER: Final = "ledgerstream-redrive-count"
REDRIVEN_FROM_HEADER: Final = "ledgerstream-redriven-from"
UNREADABLE: Final = "UNREADABLE_DEAD_LETTER"

Header = tuple[str, bytes | None]


def _header(headers: Iterable[Header], name: str) -> str | None:
    """Return the last value of a header as text (None when absent)."""
    value = None
    for key, raw in headers:
        if key == name:
            value = None if raw is None else raw.decode(errors="replace")
    return value


def _instant(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A record of the DLQ topic: its position, and its envelope when it can be decoded.

    When the envelope cannot be decoded, what the KIP-1034 headers say
    (``__dlq.errors.*``) still places it, and ``envelope_error`` says why.
    """

    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    headers: Sequence[Header]
    envelope: dict[str, Any] | None
    envelope_error: str | None = None
    #: Dead letters of the same record (source position, code) this one stands for.
    copies: int = 1

    @property
    def position(self) -> str:
        """``PARTITION:OFFSET`` in the DLQ topic: how operators name a dead letter."""
        return f"{self.partition}:{self.offset}"

    def _field(self, name: str, header: str) -> Any:
        if self.envelope is not None:
            return self.envelope[name]
        return _header(self.headers, header)

    @property
    def code(self) -> str:
        """The error code (``UNREADABLE_DEAD_LETTER`` if neither envelope nor header says)."""
        return str(self._field("error_code", "__dlq.errors.code") or UNREADABLE)

    @property
    def message(self) -> str:
        """The error message (or why the envelope could not be read)."""
        text = self._field("error_message", "__dlq.errors.exception.message")
        return str(text or self.envelope_error or "")

    @property
    def source_topic(self) -> str:
        """The physical topic the failed record was read from ('' if unknown)."""
        return str(self._field("source_topic", "__dlq.errors.topic") or "")

    @property
    def source_partition(self) -> int | None:
        """The partition the failed record was read from."""
        value = self._field("source_partition", "__dlq.errors.partition")
        return None if value is None else int(value)

    @property
    def source_offset(self) -> int | None:
        """The offset of the failed record."""
        value = self._field("source_offset", "__dlq.errors.offset")
        return None if value is None else int(value)

    @property
    def source_key(self) -> bytes | None:
        """The failed record's original key (the DLQ record is keyed the same)."""
        return self.envelope["key"] if self.envelope is not None else self.key

    @property
    def first_failed_at(self) -> datetime | None:
        """When processing first failed (the DLQ record's time if the envelope is unreadable)."""
        if self.envelope is not None:
            return self.envelope["first_failed_at"]  # type: ignore[no-any-return]
        return _instant(self.timestamp_ms)

    @property
    def last_failed_at(self) -> datetime | None:
        """When processing last failed."""
        if self.envelope is not None:
            return self.envelope["last_failed_at"]  # type: ignore[no-any-return]
        return _instant(self.timestamp_ms)

    @property
    def original_headers(self) -> list[Header]:
        """The failed record's own headers, in order (empty if unreadable)."""
        if self.envelope is None:
            return []
        return [(h["key"], h["value"]) for h in self.envelope["headers"]]

    @property
    def redrive_count(self) -> int:
        """How many times the failed record had been re-driven before it failed."""
        return _count(self.original_headers)


def _count(headers: Iterable[Header]) -> int:
    text = _header(headers, REDRIVE_COUNT_HEADER)
    return int(text) if text is not None and text.strip().isdigit() else 0


def _stored(codec: AvroCodec, record: SourceRecord) -> StoredDeadLetter:
    envelope, error = None, None
    try:
        envelope = codec.decode(DLQ_TOPIC, record.value).record
    except LedgerstreamError as exc:
        error = f"{exc.code}: {exc}"
    return StoredDeadLetter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp_ms,
        key=record.key,
        headers=record.headers,
        envelope=envelope,
        envelope_error=error,
    )


def read_dead_letters(
    client_config: Mapping[str, str],
    codec: AvroCodec,
    topic: str,
    *,
    idle_seconds: float = 2.0,
    max_seconds: float = 300.0,
) -> Iterator[StoredDeadLetter]:
    """Yield every dead letter of the (physical) DLQ topic, from offset 0 until idle."""
    for record in read_topics(
        client_config, [topic], idle_seconds=idle_seconds, max_seconds=max_seconds
    ):
        yield _stored(codec, record)


def collapse_copies(letters: Iterable[StoredDeadLetter]) -> list[StoredDeadLetter]:
    """Keep one dead letter per failed record: the first written, counting its copies.

    The same record read again (a replay, a redelivery after a crash) fails again
    at stage 1, which keeps no state, and writes a second dead letter for the same
    source position. Those are one failure to list and to re-drive. A re-driven
    record is a new record (a new position and redrive count): never collapsed;
    nor are dead letters whose source position is unknown.
    """
    kept: dict[tuple[object, ...], StoredDeadLetter] = {}
    alone: list[StoredDeadLetter] = []
    for letter in sorted(letters, key=_written):
        if letter.source_partition is None or letter.source_offset is None:
            alone.append(letter)
            continue
        same = (
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
            letter.code,
            letter.redrive_count,
        )
        first = kept.get(same)
        kept[same] = letter if first is None else replace(first, copies=first.copies + 1)
    return sorted([*kept.values(), *alone], key=_written)


def _written(letter: StoredDeadLetter) -> tuple[int, int, int]:
    return (letter.timestamp_ms or 0, letter.partition, letter.offset)


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters to take; empty criteria take everything.

    ``since`` / ``until`` select dead letters whose failures (first to last) meet
    that interval: the last failure at or after ``since``, the first at or before
    ``until``. Source topics are physical names.
    """

    codes: frozenset[str] = frozenset()
    source_topics: frozenset[str] = frozenset()
    keys: frozenset[bytes] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    @property
    def selects_all(self) -> bool:
        """True when no criterion is set."""
        return not (self.codes or self.source_topics or self.keys or self.since or self.until)

    def matches(self, letter: StoredDeadLetter) -> bool:
        """Return True if the dead letter meets every criterion set."""
        if self.codes and letter.code not in self.codes:
            return False
        if self.source_topics and letter.source_topic not in self.source_topics:
            return False
        if self.keys and letter.source_key not in self.keys:
            return False
        first, last = letter.first_failed_at, letter.last_failed_at
        if self.since is not None and (last is None or last < self.since):
            return False
        return self.until is None or (first is not None and first <= self.until)


def count_by_code(letters: Iterable[StoredDeadLetter]) -> dict[str, int]:
    """Count dead letters by error code, most frequent first."""
    return dict(Counter(letter.code for letter in letters).most_common())


@dataclass(frozen=True, slots=True)
class Redrive:
    """One dead letter's record, ready to re-publish where it came from."""

    letter: StoredDeadLetter
    topic: str
    partition: int | None
    key: bytes | None
    value: bytes | None
    headers: list[Header]
    count: int

    @property
    def marker(self) -> str:
        """The ``ledgerstream-redriven-from`` value: the dead letter's DLQ position."""
        return self.letter.position


def plan_redrive(letter: StoredDeadLetter) -> Redrive | None:
    """Build the record a dead letter re-drives: original bytes, count + 1, marker.

    Returns None when the envelope could not be decoded (the original value lives
    in it): such a dead letter cannot be re-driven.
    """
    envelope = letter.envelope
    if envelope is None or not letter.source_topic:
        return None
    original = letter.original_headers
    count = _count(original) + 1
    ours = {REDRIVE_COUNT_HEADER, REDRIVEN_FROM_HEADER}
    headers = [(k, v) for k, v in original if k not in ours]
    headers += [
        (REDRIVE_COUNT_HEADER, str(count).encode()),
        (REDRIVEN_FROM_HEADER, letter.position.encode()),
    ]
    return Redrive(
        letter=letter,
        topic=letter.source_topic,
        partition=letter.source_partition,
        key=envelope["key"],
        value=envelope["value"],
        headers=headers,
        count=count,
    )


@dataclass(frozen=True, slots=True)
class RedrivenRecord:
    """Where a record carrying a redrive marker was found."""

    topic: str
    partition: int
    offset: int


def redriven_markers(
    client_config: Mapping[str, str],
    topics: Sequence[str],
    *,
    since_ms: int | None,
    idle_seconds: float = 2.0,
    max_seconds: float = 600.0,
) -> dict[str, RedrivenRecord]:
    """Scan source topics for records a redrive already published, by their marker.

    Args:
        client_config: confluent-kafka connection settings.
        topics: Physical source topics to scan.
        since_ms: Read from the first record at or after this instant (a redrive of
            a dead letter is published after the dead letter was written); None:
            from offset 0.
        idle_seconds: Stop once the topics have been idle this long.
        max_seconds: Give up scanning after this long.

    Returns:
        Marker (``P:O`` of the dead letter) -> the first record found carrying it.

    """
    found: dict[str, RedrivenRecord] = {}
    if not topics:
        return found
    for record in read_topics(
        client_config,
        topics,
        idle_seconds=idle_seconds,
        max_seconds=max_seconds,
        since_ms=since_ms,
    ):
        marker = _header(record.headers, REDRIVEN_FROM_HEADER)
        if marker is not None and marker not in found:
            found[marker] = RedrivenRecord(record.topic, record.partition, record.offset)
    return found


@dataclass(slots=True)
class RedriveProgress:
    """Counts while re-publishing, reported every ``every`` records."""

    total: int
    sent: int = 0
    on_progress: Callable[[int, int], None] | None = field(default=None, repr=False)
    every: int = 1000


def send_redrives(
    producer: RecordProducer, redrives: Iterable[Redrive], progress: RedriveProgress
) -> int:
    """Re-publish each record to its source topic and partition; return how many were sent.

    Raises:
        ProduceError: A record was not delivered (nothing is dropped silently).

    """
    for redrive in redrives:
        producer.send(
            redrive.topic,
            redrive.key,
            redrive.value,
            redrive.headers,
            partition=redrive.partition,
        )
        progress.sent += 1
        if progress.on_progress is not None and progress.sent % progress.every == 0:
            producer.flush()
            progress.on_progress(progress.sent, progress.total)
    producer.flush()
    if progress.on_progress is not None:
        progress.on_progress(progress.sent, progress.total)
    return progress.sent
