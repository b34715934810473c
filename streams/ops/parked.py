"""``ledgerstream parked``: what stage 2 holds back, and why.

Reads the consumer group's posted-records changelog (``<app id>-ledger-changelog``)
to its end and prints every parked record: its stage-2 partition, where it was
read (source topic, partition, offset) and its key, the code it waits on
(``MISSING_REFERENCE``, ``MISSING_FX_RATE``, ``UNPOSTED_SOURCE``, ``ENTITY_PAUSED``,
``QUEUED`` behind an earlier version), the attempts so far, when it first failed,
when it is retried next, and the reason; then a count by code.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, TextIO

from streams.adapters.kafka_io import read_topics
from streams.adapters.parking import PARKED_PREFIX, decode_queue
from streams.ops.dlq import logical
from streams.ops.render import bytes_text, instant, json_default, plural
from streams.settings import Settings

__all__ = ["read_parked", "run_parked"]


def read_parked(settings: Settings, *, idle_seconds: float = 2.0) -> list[dict[str, Any]]:
    """Return every parked record of the group, oldest queue first, in queue order."""
    latest: dict[bytes, bytes | None] = {}
    for record in read_topics(
        settings.kafka_client_config(), [settings.state_topic], idle_seconds=idle_seconds
    ):
        if record.key is not None and record.key.startswith(PARKED_PREFIX):
            latest[record.key] = record.value
    rows: list[dict[str, Any]] = []
    for key, raw in sorted(latest.items()):
        if raw is None:
            continue
        _, partition, source = key.decode().split("|", 2)
        for position, parked in enumerate(decode_queue(raw)):
            rows.append(
                {
                    "partition": int(partition),
                    "source": source,
                    "position": position,
                    "topic": logical(settings, parked.topic),
                    "source_partition": parked.partition,
                    "source_offset": parked.offset,
                    "key": bytes_text(parked.key),
                    "code": parked.code,
                    "attempts": parked.attempts,
                    "first_failed_at": parked.first_failed_at,
                    "retry_at": parked.retry_at,
                    "message": parked.message,
                }
            )
    rows.sort(key=lambda row: (row["first_failed_at"], row["source"], row["position"]))
    return rows


def run_parked(settings: Settings, out: TextIO, *, as_json: bool, idle_seconds: float) -> int:
    """Print every parked record, then a count by code."""
    rows = read_parked(settings, idle_seconds=idle_seconds)
    by_code = Counter(row["code"] for row in rows)
    if as_json:
        for row in rows:
            out.write(json.dumps(row, default=json_default) + "\n")
        out.write(json.dumps({"by_code": dict(by_code), "total": len(rows)}) + "\n")
        return 0
    for row in rows:
        retry = "when resumed" if row["retry_at"] is None else f"next {instant(row['retry_at'])}"
        out.write(
            f"{row['source']:<28} {row['topic']}[{row['source_partition']}]@{row['source_offset']}"
            f" key={row['key']} {row['code']} attempts={row['attempts']}"
            f" since {instant(row['first_failed_at'])} {retry}: {row['message']}\n"
        )
    out.write(f"{plural(len(rows), 'parked record')}\n")
    for code, count in sorted(by_code.items()):
        out.write(f"  {code:<24} {count}\n")
    return 0
