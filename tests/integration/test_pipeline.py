"""Time entries in, exact posting commands out, bad records dead-lettered: on a real broker.

Every amount below is computed by hand in the comments, not by the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from tests.integration.conftest import Stack
from tests.integration.records import command_id, entry, lines, publish_reference

pytestmark = pytest.mark.integration


def test_time_entries_become_exact_commands_and_bad_records_are_dead_lettered(
    stack: Stack,
) -> None:
    bad_customer = publish_reference(stack)
    # a record waiting for a project that never arrives is dead-lettered after 3 s
    worker = stack.worker(
        LEDGERSTREAM_PARK_DEADLINE_SECONDS="3", LEDGERSTREAM_RETRY_FIRST_SECONDS="0.5"
    )
    worker.wait_ready()

    stack.publish("pm.time-entries", "TE-1", entry("TE-1", "P-1", 52))
    stack.publish("pm.time-entries", "TE-2", entry("TE-2", "P-2", 100))
    bad_magic = b"\x07" + stack.codec.encode("pm.time-entries", entry("TE-6", "P-1", 60))[1:]
    stack.publish_raw("pm.time-entries", "TE-6", bad_magic)
    stack.publish("pm.time-entries", "TE-3", entry("TE-3", "P-2", 7, override="133.33"))
    unknown = stack.publish("pm.time-entries", "TE-5", entry("TE-5", "P-404", 60))
    stack.publish("pm.time-entries", "TE-4", entry("TE-4", "P-1", 3, billable=False))
    stack.publish("pm.time-entries", "TE-7", entry("TE-7", "P-1", 60))
    stack.flush()

    stack.wait_consumed(worker, "pm.time-entries", 7)
    stack.wait_outcome(worker, "pm.time-entries", "dead_lettered", 2)
    commands = {c["command_id"]: c for c in stack.decoded("acct.ledger-commands")}
    usd, eur = Decimal, Decimal
    expected = {
        # TE-1: 52 min rounds up to 60 (15-min increment): 1 h x 165.00 = 165.00 USD
        command_id("TE-1", "revenue"): (
            "USD",
            [
                ("1150", "DEBIT", usd("165.00"), usd("165.00")),
                ("4000", "CREDIT", usd("165.00"), usd("165.00")),
            ],
        ),
        # cost on actual minutes: 52/60 x 62.50 = 54.1666.. -> 54.17
        command_id("TE-1", "cost"): (
            "USD",
            [
                ("2150", "CREDIT", usd("54.17"), usd("54.17")),
                ("5000", "DEBIT", usd("54.17"), usd("54.17")),
            ],
        ),
        # TE-2: 100/60 h x 120.00 EUR = 200.00 EUR; x 1.0790 (spot of 9 Nov) = 215.80 USD
        command_id("TE-2", "revenue"): (
            "EUR",
            [
                ("1150", "DEBIT", eur("200.00"), usd("215.80")),
                ("4000", "CREDIT", eur("200.00"), usd("215.80")),
            ],
        ),
        # 100/60 x 62.50 = 104.1666.. -> 104.17 USD
        command_id("TE-2", "cost"): (
            "USD",
            [
                ("2150", "CREDIT", usd("104.17"), usd("104.17")),
                ("5000", "DEBIT", usd("104.17"), usd("104.17")),
            ],
        ),
        # TE-3: 7/60 h x 133.33 (override) = 15.555.. -> 15.56 EUR; x 1.0790 = 16.789.. -> 16.79
        command_id("TE-3", "revenue"): (
            "EUR",
            [
                ("1150", "DEBIT", eur("15.56"), usd("16.79")),
                ("4000", "CREDIT", eur("15.56"), usd("16.79")),
            ],
        ),
        # 7/60 x 62.50 = 7.2916.. -> 7.29
        command_id("TE-3", "cost"): (
            "USD",
            [
                ("2150", "CREDIT", usd("7.29"), usd("7.29")),
                ("5000", "DEBIT", usd("7.29"), usd("7.29")),
            ],
        ),
        # TE-4: non-billable, cost only: 3/60 x 62.50 = 3.125 -> 3.13 (HALF_UP)
        command_id("TE-4", "cost"): (
            "USD",
            [
                ("2150", "CREDIT", usd("3.13"), usd("3.13")),
                ("5000", "DEBIT", usd("3.13"), usd("3.13")),
            ],
        ),
        command_id("TE-7", "revenue"): (
            "USD",
            [
                ("1150", "DEBIT", usd("165.00"), usd("165.00")),
                ("4000", "CREDIT", usd("165.00"), usd("165.00")),
            ],
        ),
        command_id("TE-7", "cost"): (
            "USD",
            [
                ("2150", "CREDIT", usd("62.50"), usd("62.50")),
                ("5000", "DEBIT", usd("62.50"), usd("62.50")),
            ],
        ),
    }
    assert set(commands) == set(expected), (set(commands) ^ set(expected), worker.tail())
    for cid, (currency, expected_lines) in expected.items():
        command = commands[cid]
        assert command["entity_id"] == "US01"
        assert command["transaction_currency"] == currency
        assert command["base_currency"] == "USD"
        assert command["effective_date"] == date(2026, 11, 10)
        assert command["period"] == "2026-11"
        assert lines(command) == expected_lines, cid
    fx = commands[command_id("TE-2", "revenue")]["fx"]
    assert (fx["rate"], fx["rate_type"], fx["rate_date"], fx["source"]) == (
        Decimal("1.0790"),
        "SPOT",
        date(2026, 11, 9),
        "ECB",
    )
    assert commands[command_id("TE-1", "cost")]["fx"]["rate_type"] == "IDENTITY"
    source = commands[command_id("TE-7", "revenue")]["source"]
    assert (source["id"], source["version"], source["topic"]) == (
        "TE-7",
        1,
        stack.settings.topic("pm.time-entries"),
    )

    letters = {d["key"]: d for d in stack.decoded("ledgerstream.dlq")}
    assert set(letters) == {b"TE-6", b"TE-5", b"C-BAD"}
    # a bad reference record is dead-lettered once by the reference agent
    assert letters[b"C-BAD"]["error_code"] == "UNKNOWN_CURRENCY"
    assert letters[b"C-BAD"]["field"] == "currency"
    assert letters[b"C-BAD"]["value"] == bad_customer
    assert letters[b"C-BAD"]["source_topic"] == stack.settings.topic("pm.customers")
    del letters[b"C-BAD"]
    assert letters[b"TE-6"]["error_code"] == "BAD_MAGIC_BYTE"
    assert letters[b"TE-6"]["value"] == bad_magic
    assert letters[b"TE-5"]["error_code"] == "MISSING_REFERENCE", letters[b"TE-5"]["stack_trace"]
    assert "P-404" in letters[b"TE-5"]["error_message"]
    assert letters[b"TE-5"]["value"] == unknown
    assert letters[b"TE-5"]["retryable"] is True
    # parked, retried with backoff (0.5 s, 1 s, 2 s...) until the 3 s deadline
    assert letters[b"TE-5"]["attempts"] >= 2
    assert letters[b"TE-5"]["last_failed_at"] - letters[b"TE-5"]["first_failed_at"] >= timedelta(
        seconds=3
    )
    for letter in letters.values():
        assert letter["source_topic"] == stack.settings.topic("pm.time-entries")
        assert "Traceback" in letter["stack_trace"]

    outcomes = worker.events_consumed("pm.time-entries")
    assert outcomes["posted"] == 5.0
    assert outcomes["dead_lettered"] == 2.0
    assert outcomes["parked"] == 1  # TE-5: counted when it began to wait (not per retry)
