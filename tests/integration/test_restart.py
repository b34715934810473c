"""A worker killed mid-stream and restarted has complete reference data and posts everything.

Reference data lives in a group-less loader (``streams/adapters/reference_loader.py``):
its sizes are read from ``/ready`` after the restart. The posted-records table
is proven by the outcome: every entry posts, with exactly its two
command ids, and what the killed worker had posted is skipped, not posted again.

The restarted worker keeps its data directory, so its posted-records table is its
own file: it reads only the changelog after the file's checkpoint (checkpoints every
second here), and the outcome proves that file plus tail equals the whole.

Reference records are published in multi-record batches on purpose: on the
embedded broker the high watermark is the base offset of the last batch + 1
(docs/embedded-broker.md), the case in which a watermark-trusting loader loses the tail.
"""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

import pytest
from tests.integration.conftest import Stack
from tests.integration.records import customer, employee, entity, entry, project

pytestmark = pytest.mark.integration

FIRST_PROJECTS = 2000
LATER_PROJECTS = 500
FIRST_ENTRIES = 8000


def keep_state(stack: Stack) -> dict[str, str]:
    """Both workers use one data directory (the same host restarted), checkpointing often."""
    return {
        "LEDGERSTREAM_DATA_DIR": str(stack.log_dir / "data-kept"),
        "LEDGERSTREAM_STATE_CHECKPOINT_SECONDS": "1",
    }


RECOVERED = re.compile(
    r"partition \d+: (\d+) changelog records read in [\d.]+ s up to offset (\d+)"
)


def project_n(n: int) -> dict[str, Any]:
    return project(f"P-{n}", "C-1", "USD", "100.00")


def entry_n(n: int, project_n: int) -> dict[str, Any]:
    return entry(f"TE-{n}", f"P-{project_n}", 60)


def test_killed_worker_restarts_with_complete_reference_data_and_loses_nothing(
    stack: Stack,
) -> None:
    stack.publish("ref.entities", "US01", entity("US01", "USD", "America/New_York"))
    stack.publish("pm.customers", "C-1", customer("C-1"))
    stack.publish("pm.employees", "E-1", employee("E-1", "60.00"))
    for n in range(FIRST_PROJECTS):
        stack.publish("pm.projects", f"P-{n}", project_n(n))
    stack.flush()

    first = stack.worker(**keep_state(stack))
    tables = first.wait_ready()["tables"]
    assert tables["project"] == FIRST_PROJECTS  # type: ignore[index]
    for n in range(FIRST_ENTRIES):
        stack.publish("pm.time-entries", f"TE-{n}", entry_n(n, n % FIRST_PROJECTS))
    stack.flush()
    stack.wait_consumed(first, "pm.time-entries", 300)
    time.sleep(1.5)  # a table checkpoint or two
    at_kill = sum(first.events_consumed("pm.time-entries").values())
    first.kill()  # SIGKILL mid-stream: no commit, no goodbye
    assert at_kill < FIRST_ENTRIES, "the worker finished before the kill: not mid-stream"

    for n in range(FIRST_PROJECTS, FIRST_PROJECTS + LATER_PROJECTS):
        stack.publish("pm.projects", f"P-{n}", project_n(n))
    for n in range(FIRST_ENTRIES, FIRST_ENTRIES + LATER_PROJECTS):
        stack.publish("pm.time-entries", f"TE-{n}", entry_n(n, FIRST_PROJECTS + n - FIRST_ENTRIES))
    stack.flush()

    second = stack.worker(**keep_state(stack))
    tables = second.wait_ready()["tables"]
    assert tables == {
        "entity": 1,
        "customer": 1,
        "project": FIRST_PROJECTS + LATER_PROJECTS,
        "employee": 1,
        "fx_rate": 0,
    }
    # live update: a project published after start-up is used at once
    stack.publish("pm.projects", "P-LIVE", project("P-LIVE", "C-1", "USD", "100.00"))
    stack.flush()
    deadline = time.monotonic() + 30
    while second.wait_ready()["tables"]["project"] < FIRST_PROJECTS + LATER_PROJECTS + 1:  # type: ignore[index]
        assert time.monotonic() < deadline, "live project update never arrived"
        time.sleep(0.1)
    stack.publish(
        "pm.time-entries",
        "TE-LIVE",
        entry("TE-LIVE", "P-LIVE", 60),
    )
    stack.flush()
    expected = {f"TE-{n}" for n in range(FIRST_ENTRIES + LATER_PROJECTS)} | {"TE-LIVE"}
    deadline = time.monotonic() + 120
    while True:  # read until every entry has posted (or the deadline says it never will)
        commands = stack.decoded("acct.ledger-commands", idle=1.0)
        if {c["source"]["id"] for c in commands} >= expected or time.monotonic() > deadline:
            break
    by_entry: dict[str, set[str]] = {}
    for command in commands:
        assert command["effective_date"] == date(2026, 11, 10)
        by_entry.setdefault(command["source"]["id"], set()).add(command["command_id"])
    missing = expected - set(by_entry)
    assert not missing, (
        len(missing),
        sorted(missing)[:5],
        second.events_consumed("pm.time-entries"),
    )
    assert all(len(ids) == 2 for ids in by_entry.values())  # revenue + cost, never a third
    distinct = sum(len(ids) for ids in by_entry.values())
    resent = len(commands) - distinct
    # at-least-once: what the killed worker did not commit is posted again, with the
    # same command ids (the sink dedups on command_id)
    print(
        f"killed after {at_kill:.0f}/{FIRST_ENTRIES}; commands {len(commands)}, "
        f"distinct {distinct}, re-sent identical {resent}"
    )
    assert stack.read("ledgerstream.dlq", idle=0.5) == []
    # the restart read the changelog's tail only: less than its whole length
    recoveries = [
        (int(read), int(end))
        for read, end in RECOVERED.findall(second.log_path.read_text(errors="replace"))
    ]
    assert recoveries, second.tail()
    read, whole = sum(r for r, _ in recoveries), sum(e for _, e in recoveries)
    print(f"restart read {read} of {whole} changelog records")
    assert read < whole
