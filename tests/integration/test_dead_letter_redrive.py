"""Poison records end in the DLQ with their precise error; a fixed one is re-driven exactly once.

The operator's path, on a real broker: `dlq list` / `dlq show` to triage, publish
the missing reference record, `dlq redrive --code MISSING_REFERENCE`, and a
second redrive that finds the first one's marker and re-publishes nothing. Both
redrives leave an audit record.
"""

from __future__ import annotations

import json
import struct
import time
from datetime import timedelta
from typing import Any

import pytest
from streams.adapters.dlq_store import REDRIVE_COUNT_HEADER, REDRIVEN_FROM_HEADER
from tests.integration.conftest import Stack
from tests.integration.records import (
    command_id,
    entry,
    expense,
    fixed_fee_line,
    invoice,
    project,
    publish_organisation,
)

pytestmark = pytest.mark.integration

QUIET = {"LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS": "0"}  # no canaries in the counts
#: A record waiting for reference data that never arrives is dead-lettered after 3 s.
SHORT_PARKING = {
    "LEDGERSTREAM_PARK_DEADLINE_SECONDS": "3",
    "LEDGERSTREAM_RETRY_FIRST_SECONDS": "0.5",
}


def dlq(stack: Stack, *args: str) -> Any:
    """Run ``ledgerstream dlq ARGS``, reading topics until idle for 1 s."""
    return stack.cli("dlq", *args, "--idle", "1")


def wait_for_projects(stack: Stack, worker: Any, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.wait_ready()["tables"]["project"] == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker never saw {count} projects:\n{worker.tail()}")


def test_poison_records_are_dead_lettered_precisely_and_a_fixed_one_is_redriven_once(
    stack: Stack,
) -> None:
    publish_organisation(stack)
    worker = stack.worker(**QUIET, **SHORT_PARKING)
    worker.wait_ready()

    good = stack.codec.encode("pm.time-entries", entry("TE-GOOD", "P-1", 60))
    stack.publish_raw("pm.time-entries", "TE-GOOD", good)
    stack.publish_raw("pm.time-entries", "TE-MAGIC", b"\x07" + good[1:])
    stack.publish_raw(
        "pm.time-entries", "TE-SCHEMA", b"\x00" + struct.pack(">I", 2_000_000_001) + good[5:]
    )
    stack.publish_raw("pm.time-entries", "TE-TRUNC", good[:-6])
    customer = {
        "customer_id": "C-9",
        "name": "Not a time entry",
        "entity_id": "US01",
        "currency": "USD",
        "tax_code": None,
        "default_rate": None,
    }
    stack.publish_raw("pm.time-entries", "TE-OTHER", stack.codec.encode("pm.customers", customer))
    stack.publish("pm.time-entries", "TE-NEG", entry("TE-NEG", "P-1", -30))
    unknown = stack.publish("pm.time-entries", "TE-X", entry("TE-X", "P-X", 90))
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "dead_lettered", 6)

    letters = {d["key"].decode(): d for d in stack.decoded("ledgerstream.dlq")}
    assert set(letters) == {"TE-MAGIC", "TE-SCHEMA", "TE-TRUNC", "TE-OTHER", "TE-NEG", "TE-X"}
    precise = {key: (d["error_code"], d["field"]) for key, d in letters.items()}
    assert precise == {
        "TE-MAGIC": ("BAD_MAGIC_BYTE", None),
        "TE-SCHEMA": ("UNKNOWN_SCHEMA_ID", None),
        "TE-TRUNC": ("AVRO_DECODE_FAILED", None),
        "TE-OTHER": ("AVRO_DECODE_FAILED", "entry_id"),  # a customer has no entry_id
        "TE-NEG": ("INVALID_EVENT", "duration_minutes"),
        "TE-X": ("MISSING_REFERENCE", None),
    }
    assert letters["TE-SCHEMA"]["schema_id"] == 2_000_000_001
    assert letters["TE-OTHER"]["schema_id"] is not None  # read with the customer schema...
    assert "cannot decode body" in letters["TE-OTHER"]["error_message"]  # ...which did not fit
    assert letters["TE-NEG"]["schema_id"] is not None
    assert "P-X" in letters["TE-X"]["error_message"]
    assert letters["TE-X"]["value"] == unknown
    # TE-X waited (parked, retried) for its project until the deadline
    assert letters["TE-X"]["retryable"] is True
    assert letters["TE-X"]["attempts"] >= 2
    assert letters["TE-X"]["last_failed_at"] - letters["TE-X"]["first_failed_at"] >= timedelta(
        seconds=3
    )
    assert {c["command_id"] for c in stack.decoded("acct.ledger-commands")} == {
        command_id("TE-GOOD", "revenue"),
        command_id("TE-GOOD", "cost"),
    }

    # triage: one line per dead letter and a count by code
    listed = dlq(stack, "list")
    assert listed.code == 0, listed.err
    lines = [line for line in listed.out.splitlines() if "key=" in line]
    assert len(lines) == 6
    (x_line,) = [line for line in lines if "key=TE-X" in line]
    assert "MISSING_REFERENCE" in x_line
    assert "pm.time-entries[" in x_line
    assert "project 'P-X' not found" in x_line
    assert "6 dead letters" in listed.out
    assert "AVRO_DECODE_FAILED       2" in listed.out
    only = dlq(stack, "list", "--code", "MISSING_REFERENCE", "--json")
    rows = [json.loads(line) for line in only.out.splitlines()]
    assert rows[0]["key"] == "TE-X"
    assert rows[-1] == {"by_code": {"MISSING_REFERENCE": 1}, "total": 1}
    position = rows[0]["position"]
    assert dlq(stack, "list", "--since", "1h", "--key", "TE-NEG").out.count("key=") == 1
    assert "0 dead letters" in dlq(stack, "list", "--until", "2h").out

    shown = dlq(stack, "show", position)
    assert shown.code == 0, shown.err
    assert "MISSING_REFERENCE (streams.domain.exceptions.MissingReferenceError)" in shown.out
    assert '"project_id": "P-X"' in shown.out  # the original value, decoded
    assert "Traceback" in shown.out
    magic = dlq(stack, "show", "--key", "TE-MAGIC")
    assert "not decodable (BAD_MAGIC_BYTE" in magic.out
    assert (b"\x07" + good[1:]).hex() in magic.out
    assert dlq(stack, "show", "9:9999").code == 2
    assert dlq(stack, "redrive").code == 2  # no selection and no --all

    # fix the cause, then re-drive: a dry run first changes nothing
    stack.publish("pm.projects", "P-X", project("P-X", "C-1", "USD", "100.00"))
    stack.flush()
    wait_for_projects(stack, worker, 2)
    dry = stack.cli(
        "dlq", "redrive", "--code", "MISSING_REFERENCE", "--dry-run", "--operator", "test-op"
    )
    assert dry.code == 0, dry.err
    assert f"would re-drive {position} -> pm.time-entries[" in dry.out
    assert "1 would be re-driven" in dry.out
    assert len(stack.read("pm.time-entries", idle=1.0)) == 7

    first = dlq(stack, "redrive", "--code", "MISSING_REFERENCE", "--operator", "test-op")
    assert first.code == 0, first.err
    assert "1 re-driven, 0 already re-driven (skipped)" in first.out
    stack.wait_outcome(worker, "pm.time-entries", "posted", 2)
    ids = [c["command_id"] for c in stack.decoded("acct.ledger-commands")]
    assert sorted(ids) == sorted(
        [
            command_id("TE-GOOD", "revenue"),
            command_id("TE-GOOD", "cost"),
            command_id("TE-X", "revenue"),
            command_id("TE-X", "cost"),
        ]
    ), worker.tail()

    second = dlq(stack, "redrive", "--code", "MISSING_REFERENCE", "--operator", "test-op")
    assert second.code == 0, second.err
    assert f"skip {position}: already re-driven" in second.out
    assert "0 re-driven, 1 already re-driven (skipped)" in second.out
    entries = stack.read("pm.time-entries", idle=1.0)
    redriven = [r for r in entries if any(k == REDRIVEN_FROM_HEADER for k, _ in r.headers)]
    assert len(entries) == 8
    assert len(redriven) == 1
    assert (redriven[0].key, redriven[0].value) == (b"TE-X", unknown)
    headers = dict(redriven[0].headers)
    assert headers[REDRIVEN_FROM_HEADER] == position.encode()
    assert headers[REDRIVE_COUNT_HEADER] == b"1"
    assert redriven[0].partition == letters["TE-X"]["source_partition"]
    assert len(stack.read("acct.ledger-commands", idle=1.0)) == 4  # still posted once

    audit = [json.loads(r.value) for r in stack.read("ledgerstream.audit", idle=1.0)]
    assert [(a["action"], a["operator"], a["outcome"]) for a in audit] == [
        ("dlq.redrive", "test-op", "dry-run"),
        ("dlq.redrive", "test-op", "applied"),
        ("dlq.redrive", "test-op", "applied"),
    ]
    assert audit[1]["counts"] == {
        "selected": 1,
        "redriven": 1,
        "already_redriven": 0,
        "not_redrivable": 0,
    }
    assert audit[2]["counts"]["already_redriven"] == 1
    assert audit[1]["arguments"]["code"] == ["MISSING_REFERENCE"]
    assert audit[1]["host"]
    assert audit[1]["started_at"] <= audit[1]["finished_at"]


def test_an_invoice_for_a_customer_that_never_arrives_is_dead_lettered_after_the_deadline(
    stack: Stack,
) -> None:
    publish_organisation(stack)
    worker = stack.worker(**QUIET, **SHORT_PARKING)
    worker.wait_ready()
    stranger = invoice("INV-X", "C-NEVER", [fixed_fee_line(1, "500.00")])
    raw = stack.publish("pm.invoices", "INV-X", stranger)
    ok = stack.publish(
        "pm.invoices", "INV-OK", invoice("INV-OK", "C-1", [fixed_fee_line(1, "80.00")])
    )
    stack.flush()
    stack.wait_outcome(worker, "pm.invoices", "dead_lettered", 1)

    (letter,) = stack.decoded("ledgerstream.dlq")
    assert (letter["key"], letter["value"]) == (b"INV-X", raw)
    assert letter["error_code"] == "MISSING_REFERENCE"
    assert "C-NEVER" in letter["error_message"]
    assert letter["retryable"] is True
    assert letter["source_topic"] == stack.settings.topic("pm.invoices")
    assert letter["last_failed_at"] - letter["first_failed_at"] >= timedelta(seconds=3)
    # nothing else disturbed: the other invoice of the same entity posted at once
    (command,) = stack.decoded("acct.ledger-commands")
    assert command["source"]["id"] == "INV-OK"
    assert ok is not None


def test_an_expense_in_an_unknown_currency_is_dead_lettered_at_once_naming_the_field(
    stack: Stack,
) -> None:
    publish_organisation(stack)
    worker = stack.worker(**QUIET)
    worker.wait_ready()
    bad = expense("EX-ZZZ", "ZZZ")
    raw = stack.publish("pm.expenses", "EX-ZZZ", bad)
    stack.publish("pm.expenses", "EX-OK", expense("EX-OK", "USD"))
    stack.flush()
    stack.wait_outcome(worker, "pm.expenses", "dead_lettered", 1)
    stack.wait_outcome(worker, "pm.expenses", "posted", 1)

    (letter,) = stack.decoded("ledgerstream.dlq")
    assert (letter["key"], letter["value"]) == (b"EX-ZZZ", raw)
    assert (letter["error_code"], letter["field"]) == ("UNKNOWN_CURRENCY", "currency")
    assert letter["retryable"] is False  # permanent: no parking, no retries
    assert letter["attempts"] == 1
    assert letter["schema_id"] is not None
    assert {c["source"]["id"] for c in stack.decoded("acct.ledger-commands")} == {"EX-OK"}
