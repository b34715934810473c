"""Period locks on a real broker: `period close` moves late records, `period reopen` alerts.

US01 closes 2026-11 before the worker starts (so a worker also loads locks before it
processes anything); an entry worked on 2026-11-10 then posts into 2026-12 with its
own date and ``late_for_period`` in the commands and the feedback. Reopening the
period raises ``ledgerstream_reopened_periods`` and the next entry posts in November.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from streams.demo.worker import WorkerProcess
from tests.integration.conftest import Stack
from tests.integration.records import entry, publish_reference

pytestmark = pytest.mark.integration

COMMANDS = "acct.ledger-commands"
FEEDBACK = "pm.sync-feedback"


def decoded(stack: Stack, topic: str) -> list[dict[str, Any]]:
    return [stack.codec.decode(topic, r.value).record for r in stack.read(topic)]


def wait_metric(worker: WorkerProcess, name: str, value: float, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.metrics().get((name, ())) == value:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} never reached {value}:\n{worker.tail()}")


def test_a_late_record_posts_after_a_closed_period_and_a_reopen_is_audited(
    stack: Stack,
) -> None:
    publish_reference(stack)
    stack.flush()
    bad = stack.cli("period", "close", "--entity", "US01", "--period", "2026-13", "--reason", "x")
    assert bad.code != 0
    assert "--period" in bad.err
    closed = stack.cli(
        "period", "close", "--entity", "US01", "--period", "2026-11", "--reason", "Nov close"
    )
    assert closed.code == 0, closed.err
    worker = stack.worker()
    assert worker.wait_ready()["toggles"]["closed_periods"] == [["US01", "2026-11"]]
    assert worker.metrics()[("ledgerstream_closed_periods", ())] == 1

    stack.publish("pm.time-entries", "TE-LATE", entry("TE-LATE", "P-1", 60))
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "posted", 1)
    late = [c for c in decoded(stack, COMMANDS) if c["source"]["id"] == "TE-LATE"]
    assert len(late) == 2
    for command in late:
        assert (command["period"], command["late_for_period"]) == ("2026-12", "2026-11")
        assert command["effective_date"].isoformat() == "2026-11-10"
    (feedback,) = [f for f in decoded(stack, FEEDBACK) if f["source_id"] == "TE-LATE"]
    assert (feedback["status"], feedback["late_for_period"]) == ("POSTED", "2026-11")

    reopened = stack.cli(
        "period", "reopen", "--entity", "US01", "--period", "2026-11", "--reason", "fix accrual"
    )
    assert reopened.code == 0, reopened.err
    wait_metric(worker, "ledgerstream_reopened_periods", 1)
    assert worker.metrics()[("ledgerstream_closed_periods", ())] == 0
    stack.publish("pm.time-entries", "TE-OPEN", entry("TE-OPEN", "P-1", 60))
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "posted", 2)
    again = [c for c in decoded(stack, COMMANDS) if c["source"]["id"] == "TE-OPEN"]
    assert {(c["period"], c["late_for_period"]) for c in again} == {("2026-11", None)}

    listed = stack.cli("period", "list")
    assert listed.code == 0, listed.err
    assert listed.out.startswith("US01       2026-11 reopened")
    assert "fix accrual" in listed.out
    audit = [json.loads(r.value or b"{}") for r in stack.read("ledgerstream.audit", idle=0.5)]
    assert [(a["action"], a["arguments"]["period"], a["outcome"]) for a in audit] == [
        ("period.close", "2026-11", "applied"),
        ("period.reopen", "2026-11", "applied"),
    ]
