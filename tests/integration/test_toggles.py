"""Kill switch and pilot on a real broker: records wait while paused, then post once, routed.

The toggles are set with ``ledgerstream toggle set`` before the worker starts, so
this also checks that a worker loads them before it processes anything.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from streams.adapters.heartbeat import KEY_PREFIX, SYNTHETIC_HEADER
from streams.demo.worker import WorkerProcess
from tests.integration.conftest import Stack
from tests.integration.records import employee, entity, entry, project, publish_reference

pytestmark = pytest.mark.integration

COMMANDS = "acct.ledger-commands"
PAUSE_SECONDS = 3.0


def commands_by_entry(stack: Stack, topic: str) -> dict[str, list[dict[str, Any]]]:
    """Commands of a sink topic by source entry id (decoded with the commands schema)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for record in stack.read(topic):
        if (SYNTHETIC_HEADER, b"1") in record.headers:
            continue  # heartbeat canaries post to the shadow topic too
        command = stack.codec.decode(COMMANDS, record.value).record
        found.setdefault(command["source"]["id"], []).append(command)
    return found


def wait_assigned(worker: WorkerProcess, timeout: float = 30.0) -> None:
    """Wait until the worker's consumer group has given it its partitions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.metrics().get(("ledgerstream_assigned_partitions", ()), 0) > 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"no partitions assigned:\n{worker.tail()}")


def test_kill_switch_holds_entries_then_pilot_routes_each_exactly_once(stack: Stack) -> None:
    publish_reference(stack)
    assert stack.cli("toggle", "set", "kill_switch", "--on", "--reason", "INC-1").code == 0
    pilot = stack.cli(
        "toggle",
        "set",
        "pilot",
        "--on",
        "--allow-customer",
        "C-1",
        "--reason",
        "CHG-2: pilot with Acme",
        "--operator",
        "alice",
    )
    assert pilot.code == 0, pilot.err

    worker = stack.worker()
    ready = worker.wait_ready()
    assert ready["toggles"] == {
        "kill_switch": True,
        "dry_run": False,
        "pilot": True,
        "allow_customers": ["C-1"],
        "allow_projects": [],
        "paused_entities": [],
        "closed_periods": [],
        "reopened_periods": [],
    }

    wait_assigned(worker)  # so that an unpaused worker would consume what comes next
    stack.publish("pm.time-entries", "TE-1", entry("TE-1", "P-1", 60))  # Acme: allow-listed
    stack.publish("pm.time-entries", "TE-2", entry("TE-2", "P-2", 60))  # Globex: not
    stack.publish("pm.time-entries", "TE-3", entry("TE-3", "P-1", 30, billable=False))
    stack.flush()

    deadline = time.monotonic() + PAUSE_SECONDS
    while time.monotonic() < deadline:  # paused: nothing consumed, nothing posted
        assert worker.events_consumed("pm.time-entries") == {}, worker.tail()
        time.sleep(0.25)
    assert stack.read(COMMANDS, idle=0.5) == []

    assert stack.cli("toggle", "set", "kill_switch", "--off", "--reason", "INC-1 fixed").code == 0
    stack.wait_consumed(worker, "pm.time-entries", 3, timeout=30)
    assert worker.events_consumed("pm.time-entries") == {"posted": 3}

    real = commands_by_entry(stack, COMMANDS)
    shadow = commands_by_entry(stack, f"{COMMANDS}.shadow")
    # TE-1 and TE-3 (Acme, C-1) post for real; TE-2 (Globex) goes to the shadow topic
    assert {k: len(v) for k, v in real.items()} == {"TE-1": 2, "TE-3": 1}
    assert {k: len(v) for k, v in shadow.items()} == {"TE-2": 2}
    every = [c["command_id"] for cs in [*real.values(), *shadow.values()] for c in cs]
    assert len(every) == len(set(every)) == 5  # each command exactly once

    gauge = {
        dict(labels)["toggle"]: value
        for (name, labels), value in worker.metrics().items()
        if name == "ledgerstream_toggle_enabled"
    }
    assert gauge == {"kill_switch": 0.0, "pilot": 1.0, "dry_run": 0.0}

    consumed = stack.cli("consume", f"{COMMANDS}.shadow", "--idle", "0.5")
    assert consumed.code == 0
    ids = {json.loads(line)["value"]["source"]["id"] for line in consumed.out.splitlines()}
    assert {i for i in ids if not i.startswith(KEY_PREFIX)} == {"TE-2"}

    listing = stack.cli("toggle", "list")
    assert listing.code == 0
    lines = {line.split()[0]: line for line in listing.out.splitlines()}
    assert lines["kill_switch"].startswith("kill_switch  off")
    assert "customers=C-1" in lines["pilot"]
    assert "alice: CHG-2: pilot with Acme" in lines["pilot"]
    assert "off (not set)" in lines["dry_run"]

    audit = [json.loads(r.value or b"{}") for r in stack.read("ledgerstream.audit", idle=0.5)]
    assert [(a["action"], a["arguments"]["name"], a["arguments"]["enabled"]) for a in audit] == [
        ("toggle.set", "kill_switch", True),
        ("toggle.set", "pilot", True),
        ("toggle.set", "kill_switch", False),
    ]
    assert audit[1]["operator"] == "alice"
    assert audit[1]["arguments"]["allow_customers"] == ["C-1"]


def test_toggle_set_refuses_allow_lists_on_other_toggles(stack: Stack) -> None:
    run = stack.cli("toggle", "set", "dry_run", "--on", "--allow-customer", "C-1", "--reason", "x")
    assert run.code == 2
    assert "only go with the pilot" in run.err
    assert stack.read("ledgerstream.control", idle=0.5) == []


def wait_metric(worker: WorkerProcess, name: str, value: float, timeout: float = 15.0) -> None:
    """Wait until an unlabelled gauge of the worker shows ``value``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.metrics().get((name, ())) == value:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} never reached {value}:\n{worker.tail()}")


def test_an_entity_kill_switch_holds_its_records_in_order_and_resuming_posts_each_once(
    stack: Stack,
) -> None:
    publish_reference(stack)  # US01, with projects P-1 (USD) and P-2 (EUR)
    stack.publish("ref.entities", "DE01", entity("DE01", "EUR", "Europe/Berlin"))
    stack.publish(
        "pm.projects", "P-DE", project("P-DE", "C-2", "EUR", "90.00") | {"entity_id": "DE01"}
    )
    stack.publish(
        "pm.employees",
        "E-DE",
        employee("E-DE", "40.00") | {"entity_id": "DE01", "cost_currency": "EUR"},
    )
    stack.flush()
    paused = stack.cli(
        "toggle", "set", "kill_switch", "--entity", "DE01", "--on", "--reason", "INC-7 DE close"
    )
    assert paused.code == 0, paused.err
    worker = stack.worker()
    assert worker.wait_ready()["toggles"]["paused_entities"] == ["DE01"]

    german = [entry(f"TE-DE-{n}", "P-DE", 60) | {"employee_id": "E-DE"} for n in range(3)]
    german.append(german[0] | {"version": 2, "duration_minutes": 30})  # an edit, held behind v1
    for value in german:
        stack.publish("pm.time-entries", value["entry_id"], value)
    for n in range(3):
        stack.publish("pm.time-entries", f"TE-US-{n}", entry(f"TE-US-{n}", "P-1", 60))
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "posted", 3)  # US01 goes on
    stack.wait_outcome(worker, "pm.time-entries", "parked", 4)  # DE01 is held, not lost
    assert set(commands_by_entry(stack, COMMANDS)) == {"TE-US-0", "TE-US-1", "TE-US-2"}
    assert worker.metrics()[("ledgerstream_paused_entities", ())] == 1
    wait_metric(worker, "ledgerstream_parked_records", 3)  # three source records wait
    listed = stack.cli("parked", "--json", "--idle", "1")
    assert listed.code == 0, listed.err
    rows = [json.loads(line) for line in listed.out.splitlines()]
    assert rows[-1] == {"by_code": {"ENTITY_PAUSED": 3, "QUEUED": 1}, "total": 4}
    queued = next(r for r in rows[:-1] if r["code"] == "QUEUED")
    assert (queued["source"], queued["position"]) == ("time_entry:TE-DE-0", 1)  # behind v1

    resumed = stack.cli(
        "toggle", "set", "kill_switch", "--entity", "DE01", "--off", "--reason", "INC-7 done"
    )
    assert resumed.code == 0, resumed.err
    stack.wait_outcome(worker, "pm.time-entries", "posted", 7)
    assert stack.cli("parked", "--idle", "1").out.startswith("0 parked records")
    by_entry = commands_by_entry(stack, COMMANDS)
    ids = [c["command_id"] for commands in by_entry.values() for c in commands]
    assert len(ids) == len(set(ids))  # each once
    # TE-DE-0 v1 (revenue, cost), then v2: REVERSE both, POST both, in that order
    assert [(c["action"], c["source"]["version"]) for c in by_entry["TE-DE-0"]] == [
        ("POST", 1),
        ("POST", 1),
        ("REVERSE", 2),
        ("REVERSE", 2),
        ("POST", 2),
        ("POST", 2),
    ]
    assert {k: len(v) for k, v in by_entry.items() if k.startswith("TE-DE")} == {
        "TE-DE-0": 6,
        "TE-DE-1": 2,
        "TE-DE-2": 2,
    }
    audit = [json.loads(r.value or b"{}") for r in stack.read("ledgerstream.audit", idle=0.5)]
    assert [(a["arguments"]["name"], a["arguments"]["enabled"]) for a in audit] == [
        ("kill_switch/DE01", True),
        ("kill_switch/DE01", False),
    ]
