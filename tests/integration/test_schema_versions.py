"""Producers on v1 and v2 of pm.time-entries, interleaved on one topic: the same commands.

Each business content is published twice, once by an old producer (v1: a duration,
entry ``TE-n``) and once by a new one (v2: start and end, entry ``TE-n-v2``), in
interleaved order. The worker must post both the same way: the same lines, amounts,
dates and rates; only the ids and provenance differ. (Under one entry id and
version the second copy would, rightly, be skipped as a redelivery.)
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from streams.adapters.avro import SchemaCatalog
from tests.integration.conftest import Stack
from tests.integration.records import command_id, entry, lines, publish_reference

pytestmark = pytest.mark.integration

TOPIC = "pm.time-entries"


def as_v2(v1: dict[str, Any], *, extra_ms: int = 0) -> dict[str, Any]:
    """The same business content as a v2 producer writes it (start and end instants)."""
    record = dict(v1)
    minutes = record.pop("duration_minutes")
    ended = record["started_at"] + timedelta(minutes=minutes, milliseconds=extra_ms)
    return record | {"ended_at": ended, "external_id": f"tracker-{v1['entry_id']}"}


def posting(command: dict[str, Any]) -> dict[str, Any]:
    """What a command posts, without its id, provenance and memos (which name the entry)."""
    kept = {k: v for k, v in command.items() if k not in ("command_id", "source", "memo")}
    kept["lines"] = [{k: v for k, v in ln.items() if k != "memo"} for ln in command["lines"]]
    return kept


def test_v1_and_v2_records_interleaved_on_one_topic_give_identical_commands(
    stack: Stack,
) -> None:
    publish_reference(stack)
    worker = stack.worker()
    worker.wait_ready()
    contents = [
        entry("TE-1", "P-1", 52),  # 52 min, 15-min increment: 165.00 revenue, 54.17 cost
        entry("TE-2", "P-2", 100),  # EUR project: 200.00 EUR at the 9 Nov spot rate
        entry("TE-3", "P-2", 7, override="133.33"),
        entry("TE-4", "P-1", 3, billable=False),
    ]
    for n, v1 in enumerate(contents):
        # 29.999 s over the minute still counts 52 minutes (a part minute under 30 s)
        v2 = as_v2(v1, extra_ms=29_999 if n == 0 else 0)
        v2["entry_id"] = f"{v1['entry_id']}-v2"
        first, second = (v1, v2) if n % 2 == 0 else (v2, v1)  # interleave the order too
        stack.publish(TOPIC, first["entry_id"], first)
        stack.publish(TOPIC, second["entry_id"], second)
    bad_v1 = entry("TE-8", "P-1", 30) | {"duration_minutes": -30}
    stack.publish(TOPIC, "TE-8", bad_v1)
    stack.publish(TOPIC, "TE-9", as_v2(entry("TE-9", "P-1", 30)) | {"ended_at": None})
    stack.flush()

    stack.wait_consumed(worker, TOPIC, 2 * len(contents) + 2)
    by_id = {c["command_id"]: c for c in stack.decoded("acct.ledger-commands")}
    effects = {e["entry_id"]: ("revenue", "cost") if e["billable"] else ("cost",) for e in contents}
    expected_ids = {
        command_id(entry_id + suffix, effect)
        for entry_id, names in effects.items()
        for effect in names
        for suffix in ("", "-v2")
    }
    assert set(by_id) == expected_ids, worker.tail()
    for entry_id, names in effects.items():
        for effect in names:
            old, new = (
                by_id[command_id(entry_id, effect)],
                by_id[command_id(entry_id + "-v2", effect)],
            )
            assert posting(old) == posting(new), (entry_id, effect)
    assert lines(by_id[command_id("TE-1", "revenue")]) == [
        ("1150", "DEBIT", Decimal("165.00"), Decimal("165.00")),
        ("4000", "CREDIT", Decimal("165.00"), Decimal("165.00")),
    ]
    # cost on 52 actual minutes, for both versions: 52/60 x 62.50 = 54.166.. -> 54.17
    assert lines(by_id[command_id("TE-1-v2", "cost")])[0][2] == Decimal("54.17")

    catalog = SchemaCatalog.from_directory(stack.settings.schemas_dir)
    v1_id, v2_id = (catalog.version(TOPIC, v).schema_id for v in (1, 2))
    written = {int.from_bytes(r.value[1:5], "big") for r in stack.read(TOPIC) if r.value}
    assert written == {v1_id, v2_id}

    letters = {d["key"]: d for d in stack.decoded("ledgerstream.dlq")}
    assert (letters[b"TE-8"]["error_code"], letters[b"TE-8"]["field"]) == (
        "INVALID_EVENT",
        "duration_minutes",
    )
    assert letters[b"TE-8"]["schema_id"] == v1_id
    assert "duration_minutes: must be >= 0 (got -30)" in letters[b"TE-8"]["error_message"]
    assert (letters[b"TE-9"]["field"], letters[b"TE-9"]["schema_id"]) == ("ended_at", v2_id)
