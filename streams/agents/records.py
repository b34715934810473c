"""Bridge between Faust's consumed messages and the records our handlers take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.adapters.dlq import SourceRecord


def _headers(raw: Any) -> list[tuple[str, bytes | None]]:
    if not raw:
        return []
    items: Iterable[tuple[str, bytes | None]] = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(key), value) for key, value in items]


def source_record(message: Any) -> SourceRecord:
    """Return the consumed Faust message as a :class:`SourceRecord` (bytes untouched)."""
    timestamp = message.timestamp
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=_headers(message.headers),
        timestamp_ms=int(timestamp * 1000) if timestamp else None,
    )
