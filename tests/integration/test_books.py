"""The books on the embedded broker: SIGKILL mid-stream, and acks back as sync feedback.

The books run as a real ``ledgerstream books run`` process. Killed with SIGKILL
while booking, then restarted, they must have booked every command exactly once
(the database's key and the idempotency answer ``EXISTS`` for what is read again),
and every command must have its ``BOOKED`` ack on ``acct.ledger-acks`` (the outbox:
no ack lost). Each test has its own topics and consumer group (``stack``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from streams.adapters.avro import SchemaCatalog
from streams.books.periods import close_period
from streams.books.reports import trial_balance
from streams.books.tables import database_url, entries, lines, open_books, outbox
from streams.domain.commands import PostLedgerEntry
from streams.domain.trial_balance import trial_balance as expected_balance
from streams.dryrun import dry_run
from tests.integration.conftest import Stack
from tests.support.postgres import PostgresServer
from tests.unit.books.builders import command, line

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MONTH = REPO / "examples" / "month"
COMMANDS, ACKS, FEEDBACK = "acct.ledger-commands", "acct.ledger-acks", "pm.sync-feedback"
SYNTHETIC = 500


def _month_commands() -> list[PostLedgerEntry]:
    run = dry_run(
        MONTH / "reference.jsonl",
        MONTH / "events.jsonl",
        catalog=SchemaCatalog.from_directory(REPO / "schemas"),
        rule_version="test/1",
    )
    assert len(run.commands) == 191
    return run.commands


def _synthetic(n: int) -> list[PostLedgerEntry]:
    start = date(2026, 9, 1)
    made = []
    for i in range(n):
        amount = f"{10 + i % 97}.{i % 100:02d}"
        raw = command(
            [
                line("1150", "DEBIT", amount, project=f"P-{i % 7}"),
                line("4000", "CREDIT", amount, project=f"P-{i % 7}"),
            ],
            command_id=f"synthetic-{i}",
            entity="US10",
            on=start + timedelta(days=i % 30),
            source_id=f"TE-S{i}",
            offset=i,
        )
        made.append(PostLedgerEntry.model_validate(raw))
    return made


def _publish(stack: Stack, commands: list[PostLedgerEntry]) -> None:
    for c in commands:
        stack.publish(COMMANDS, c.entity_id, c.model_dump())
    stack.flush()


def _books(stack: Stack, url: str, *args: str, group: str = "") -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.settings.kafka_bootstrap_servers or "",
        "LEDGERSTREAM_PROFILE": "embedded",
        "LEDGERSTREAM_APP_ID": group or stack.settings.app_id,
        "LEDGERSTREAM_TOPIC_PREFIX": stack.settings.topic_prefix,
        "LEDGERSTREAM_DATA_DIR": str(stack.log_dir / "books-data"),
        "LEDGERSTREAM_BOOKS_URL": url,
    }
    with (stack.log_dir / "books.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "--log-level", "info", "books", "run", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack.cleanup.append(lambda: process.poll() is None and process.kill())  # type: ignore[func-returns-value]
    return process


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _log(stack: Stack) -> str:
    return (stack.log_dir / "books.log").read_text(errors="replace")[-3000:]


@pytest.fixture(params=["sqlite", "postgresql"])
def books_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'books.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


def test_sigkill_mid_stream_loses_nothing_and_books_nothing_twice(
    stack: Stack, books_url: str
) -> None:
    commands = _month_commands() + _synthetic(SYNTHETIC)
    total = len(commands)
    _publish(stack, commands)
    engine = open_books(database_url(books_url, stack.log_dir))
    first = _books(stack, books_url, "--batch-size", "25")
    deadline = time.monotonic() + 90
    # kill as soon as a batch is in the database: likely before its offsets are committed
    while _count(engine, entries) < total // 4:
        assert first.poll() is None, _log(stack)
        assert time.monotonic() < deadline, _log(stack)
        time.sleep(0.001)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = _count(engine, entries)
    assert at_kill < total, "killed too late to be mid-stream"

    second = _books(stack, books_url, "--batch-size", "200", "--until-idle", "3")
    assert second.wait(timeout=120) == 0, _log(stack)

    # booked exactly once: every command, with every line, and nothing else
    assert _count(engine, entries) == total
    assert _count(engine, lines) == sum(len(c.lines) for c in commands)
    assert _count(engine, outbox) == 0
    for entity, period in sorted({(c.entity_id, c.period) for c in commands}):
        want = [r for r in expected_balance(commands, period=period) if r.entity_id == entity]
        assert trial_balance(engine, entity, period) == want, (entity, period)
    # every command answered BOOKED (none lost); what was read again answered EXISTS
    acks = stack.decoded(ACKS, idle=3.0)
    booked = Counter(a["command_id"] for a in acks if a["status"] == "BOOKED")
    assert set(booked) == {c.command_id for c in commands}
    statuses = Counter(a["status"] for a in acks)
    assert set(statuses) <= {"BOOKED", "EXISTS"}, statuses
    print(
        f"killed at {at_kill}/{total} booked; acks {dict(statuses)}; "
        f"BOOKED re-sent {sum(booked.values()) - len(booked)}"
    )

    # everything read again (a new group from offset 0): EXISTS for each, nothing booked;
    # the same code path on both databases, so once (on SQLite) keeps the test short
    if not books_url.startswith("sqlite"):
        engine.dispose()
        return
    replay = _books(stack, books_url, "--until-idle", "3", group=f"{stack.settings.app_id}-again")
    assert replay.wait(timeout=120) == 0, _log(stack)
    again = Counter(a["status"] for a in stack.decoded(ACKS, idle=3.0)) - statuses
    assert again == Counter({"EXISTS": total})
    assert _count(engine, entries) == total
    engine.dispose()


def test_acks_become_sync_feedback(stack: Stack, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'books.sqlite'}"
    engine = open_books(database_url(url, tmp_path))
    close_period(engine, "US10", "2026-08", operator="controller")
    good = command(
        [line("1150", "DEBIT", "150.00"), line("4000", "CREDIT", "150.00")],
        entity="US10",
        source_id="TE-GOOD",
    )
    late = command(
        [line("1150", "DEBIT", "20.00"), line("4000", "CREDIT", "20.00")],
        entity="US10",
        on=date(2026, 8, 31),
        source_id="TE-LATE",
    )
    unbalanced = command(
        [line("1150", "DEBIT", "10.00"), line("4000", "CREDIT", "9.00")],
        entity="US10",
        source_id="TE-BAD",
    )
    for raw in (good, late, unbalanced, good):  # the good one twice: EXISTS the second time
        stack.publish(COMMANDS, "US10", raw)
    stack.flush()
    assert _books(stack, url, "--until-idle", "3").wait(timeout=90) == 0, _log(stack)
    statuses = sorted((a["source_id"], a["status"]) for a in stack.decoded(ACKS))
    assert statuses == [
        ("TE-BAD", "REJECTED"),
        ("TE-GOOD", "BOOKED"),
        ("TE-GOOD", "EXISTS"),
        ("TE-LATE", "REJECTED"),
    ]

    worker = stack.worker(LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS="0")
    worker.wait_ready()
    stack.wait_consumed(worker, ACKS, 4)
    feedback = {f["source_id"]: f for f in stack.decoded(FEEDBACK, idle=2.0)}
    assert sorted(feedback) == ["TE-BAD", "TE-GOOD", "TE-LATE"]
    assert feedback["TE-GOOD"]["status"] == "BOOKED"
    assert feedback["TE-GOOD"]["command_ids"] == [good["command_id"]]
    assert feedback["TE-LATE"]["status"] == "REJECTED"
    assert feedback["TE-LATE"]["reason"] == (
        "REJECTED CLOSED_PERIOD: period 2026-08 of US10 is closed (by controller)"
    )
    assert feedback["TE-BAD"]["status"] == "REJECTED"
    assert feedback["TE-BAD"]["reason"].startswith("REJECTED UNBALANCED: debits 10.00")
    assert feedback["TE-BAD"]["event_time"] == datetime(2026, 9, 15, 12, tzinfo=UTC)
    assert Decimal(1) == 1
