"""Sync cadence SUMMARY on a real broker: a worker sends one summary per window, then corrects it.

US01 is synced DAILY, flushed every second here (LEDGERSTREAM_SUMMARY_FLUSH_SECONDS).
Two entries of P-1 (165.00/h, 15-minute increments; cost 62.50/h) on 2026-11-10:
60 minutes (165.00, 62.50) and 30 minutes (82.50, 31.25) -> one summary with revenue
247.50 and cost 93.75. TE-A v2 (30 minutes) -> REVERSE of it, then 165.00 / 62.50.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from tests.integration.conftest import Stack
from tests.integration.records import entry, publish_reference

pytestmark = pytest.mark.integration


def summaries(stack: Stack, at_least: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        commands = stack.decoded("acct.ledger-commands", idle=0.5)
        found = [c for c in commands if c["journal"] == "SUMMARY"]
        if len(found) >= at_least:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{len(found)} summaries, expected {at_least}")


def revenue(command: dict[str, Any]) -> Decimal:
    return sum((ln["amount"] for ln in command["lines"] if ln["account"] == "4000"), Decimal(0))


def test_a_summary_entity_gets_one_summary_per_day_and_a_correction_reverses_it(
    stack: Stack,
) -> None:
    publish_reference(stack)
    worker = stack.worker(
        LEDGERSTREAM_SYNC_CADENCE=json.dumps({"US01": "DAILY"}),
        LEDGERSTREAM_SUMMARY_FLUSH_SECONDS="1",
    )
    worker.wait_ready()
    stack.publish("pm.time-entries", "TE-A", entry("TE-A", "P-1", 60))
    stack.publish("pm.time-entries", "TE-B", entry("TE-B", "P-1", 30))
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "posted", 2)
    (first,) = summaries(stack, 1)
    everything = stack.decoded("acct.ledger-commands")
    assert {c["journal"] for c in everything} == {"SUMMARY"}  # nothing per record
    assert first["related_source_ids"] == ["TE-A", "TE-B"]
    assert revenue(first) == Decimal("247.50")

    stack.publish("pm.time-entries", "TE-A", entry("TE-A", "P-1", 30) | {"version": 2})
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "posted", 3)
    _, reversal, second = summaries(stack, 3)
    assert (reversal["action"], reversal["reverses"]) == ("REVERSE", first["command_id"])
    assert (second["action"], revenue(second)) == ("POST", Decimal("165.00"))
