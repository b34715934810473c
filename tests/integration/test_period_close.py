"""Period close on a real broker: allocate, consolidate, capitalise, depreciate the mixed month.

The mixed month's reference data and work are published, and its commands (those
the dry run posts, as a worker would) are put on acct.ledger-commands. The close
commands then read everything back from the broker, publish, and audit; a re-run
sends nothing, and a new time entry moves the allocation: only the shares that
changed are reversed and posted again. No worker is needed (cheap).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streams.adapters.avro import SchemaCatalog
from streams.demo.month import mixed_month
from streams.dryrun import dry_run
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

COMMANDS = "acct.ledger-commands"
ROOT = Path(__file__).resolve().parents[2]


def _seed(stack: Stack) -> None:
    month = mixed_month()
    for record in (*month.reference, *month.events):
        raw = (
            None
            if record.value is None
            else stack.codec.encode(record.topic, record.value, version=record.schema_version)
        )
        stack.publish_raw(record.topic, record.key, raw)
    run = dry_run(
        ROOT / "examples/month/reference.jsonl",
        ROOT / "examples/month/events.jsonl",
        catalog=SchemaCatalog.from_directory(ROOT / "schemas"),
        rule_version="2026.12.1",
    )
    for command in run.commands:
        stack.publish(COMMANDS, command.entity_id, command.model_dump())
    stack.flush()


def _close_commands(stack: Stack, kind: str) -> list[dict[str, Any]]:
    return [c for c in stack.decoded(COMMANDS, idle=1.0) if c["source"]["type"] == kind]


def _audit(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in stack.read("ledgerstream.audit", idle=1.0)]


def test_the_mixed_month_closes_on_the_broker_and_a_rerun_sends_only_what_changed(
    stack: Stack,
) -> None:
    _seed(stack)
    dry = stack.cli("allocate", "--entity", "GB10", "--period", "2026-09", "--dry-run")
    assert dry.code == 0, dry.err
    assert "pool 6100 44.36 GBP from 1 record(s) by hours" in dry.out
    assert "(dry run: nothing sent)" in dry.out
    assert _close_commands(stack, "allocation") == []

    first = stack.cli("allocate", "--entity", "GB10", "--period", "2026-09")
    assert first.code == 0, first.err
    assert "allocate: 3 to post, 0 to reverse, 0 unchanged" in first.out
    posted = _close_commands(stack, "allocation")
    assert sum(c["lines"][0]["amount"] for c in posted) == Decimal("44.36")
    assert {c["lines"][0]["dimensions"]["project_id"] for c in posted} == {
        "P-2010", "P-2020", "P-2030",
    }  # fmt: skip
    assert all(c["related_source_ids"] == ["EX-M004"] for c in posted)

    again = stack.cli("allocate", "--entity", "GB10", "--period", "2026-09")
    assert "allocate: 0 to post, 0 to reverse, 3 unchanged" in again.out, again.out

    # more hours on the internal project: every share moves, so all three are redone
    stack.publish(
        "pm.time-entries",
        "TE-CLOSE-1",
        {
            "entry_id": "TE-CLOSE-1", "version": 1, "employee_id": "E-GB12",
            "project_id": "P-2030", "task_id": None,
            "started_at": datetime(2026, 9, 29, 9, tzinfo=UTC),
            "ended_at": datetime(2026, 9, 29, 17, tzinfo=UTC),
            "billable": False, "billable_fraction": None, "rate_override": None,
            "status": "APPROVED", "approved_by": "lead.uk@harbor.example",
            "approved_at": datetime(2026, 9, 29, 18, tzinfo=UTC), "description": "tooling",
            "recorded_at": datetime(2026, 9, 29, 18, tzinfo=UTC), "external_id": None,
        },
    )  # fmt: skip
    stack.flush()
    moved = stack.cli("allocate", "--entity", "GB10", "--period", "2026-09")
    assert moved.code == 0, moved.err
    assert "allocate: 3 to post, 3 to reverse, 0 unchanged" in moved.out, moved.out
    after = _close_commands(stack, "allocation")
    undone = {c["reverses"] for c in after if c["action"] == "REVERSE"}
    assert undone == {c["command_id"] for c in posted}
    live = [c for c in after if c["action"] == "POST" and c["command_id"] not in undone]
    assert sum(c["lines"][0]["amount"] for c in live) == Decimal("44.36")

    cons = stack.cli("consolidate", "--group", "HARBOR", "--period", "2026-09")
    assert cons.code == 0, cons.err + cons.out
    assert "1 elimination(s), 0 exception(s)" in cons.out
    (elimination,) = _close_commands(stack, "elimination")
    assert elimination["entity_id"] == "HARBOR-CONS"
    accounts = [(ln["account"], ln["side"]) for ln in elimination["lines"]]
    assert accounts[:2] == [("2400", "DEBIT"), ("1200", "CREDIT")]
    assert accounts[2][0] == "3900"

    capex = stack.cli("capitalise", "--asset", "AS-1030")
    assert capex.code == 0, capex.err
    depr = stack.cli("depreciate", "--entity", "US10", "--period", "2026-10")
    assert depr.code == 0, depr.err
    (moved_in,) = _close_commands(stack, "capitalisation")
    cost = moved_in["lines"][0]["amount"]
    (charge,) = _close_commands(stack, "depreciation")
    assert charge["lines"][0]["account"] == "6800"
    assert charge["lines"][0]["amount"] == (cost / 36).quantize(Decimal("0.01"))
    assert "AS-1030 SL36 2026-10 month 1/36" in charge["memo"]

    # November closed before its depreciation ran: it posts into December, late for November
    locked = stack.cli(
        "period", "close", "--entity", "US10", "--period", "2026-11", "--reason", "Nov close"
    )
    assert locked.code == 0, locked.err
    late = stack.cli("depreciate", "--entity", "US10", "--period", "2026-11")
    assert late.code == 0, late.err
    november = [c for c in _close_commands(stack, "depreciation") if "2026-11" in c["memo"]]
    assert [(c["period"], c["late_for_period"]) for c in november] == [("2026-12", "2026-11")]
    assert november[0]["effective_date"].isoformat() == "2026-11-30"

    actions = [(a["action"], a["outcome"]) for a in _audit(stack)]
    assert actions == [
        ("close.allocate", "dry-run"),
        ("close.allocate", "applied"),
        ("close.allocate", "applied"),
        ("close.allocate", "applied"),
        ("close.consolidate", "applied"),
        ("close.capitalise", "applied"),
        ("close.depreciate", "applied"),
        ("period.close", "applied"),
        ("close.depreciate", "applied"),
    ]
