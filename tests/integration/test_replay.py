"""Replay by offset reset, on a real broker: refused while a worker runs, exact when applied.

After a complete run the worker is stopped and its group moved back to the
earliest offsets; a new worker reads everything again and produces the very same
command ids (zero new distinct ids) and, thanks to the posted-records table,
sends none of them again. `--to-offset` and
`--to-datetime` move exactly the partitions they name, checked with the admin
API. Every attempt leaves an audit record.

On the embedded broker the admin call is refused with UNKNOWN_MEMBER_ID for a
stopped Faust group (docs/embedded-broker.md), so these tests also run the stand-in member
fallback; describe_consumer_groups lists no member there, so a running worker
is recognised by its heartbeat canaries (interval 1 s here).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from streams.adapters.topics import load_topic_specs
from streams.cli import worker_input_topics
from tests.integration.conftest import Stack
from tests.integration.records import entity, entry, project, publish_organisation

pytestmark = pytest.mark.integration

BEATING = {"LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS": "1"}  # liveness seen within 3 s
WAVE = 8
#: A record whose project never arrives is dead-lettered by stage 2 after 2 s.
SHORT_PARK = {"LEDGERSTREAM_PARK_DEADLINE_SECONDS": "2"}


def committed(stack: Stack) -> dict[tuple[str, int], int]:
    """The group's committed offsets (logical topic, partition), by the admin API."""
    admin = AdminClient(stack.client)
    metadata = admin.list_topics(timeout=10).topics
    partitions = [
        TopicPartition(stack.settings.topic(topic), p)
        for topic in worker_input_topics()
        for p in metadata[stack.settings.topic(topic)].partitions
    ]
    group = stack.settings.app_id
    request = ConsumerGroupTopicPartitions(group, partitions)
    result = admin.list_consumer_group_offsets([request])[group].result(30)
    prefix = stack.settings.topic_prefix
    return {
        (tp.topic.removeprefix(prefix), tp.partition): tp.offset for tp in result.topic_partitions
    }


def command_ids(stack: Stack) -> Counter[str]:
    return Counter(c["command_id"] for c in stack.decoded("acct.ledger-commands", idle=1.5))


def replay(stack: Stack, *args: str) -> Any:
    return stack.cli(
        "replay", "--group", stack.settings.app_id, "--operator", "sre-1", *args, **BEATING
    )


def publish_records_that_end_without_commands(stack: Stack) -> None:
    """One entry held (awaiting approval), one dead-lettered by each stage."""
    stack.publish("ref.entities", "AP01", entity("AP01", "USD", "America/New_York", approval=True))
    stack.publish(
        "pm.projects", "P-AP", project("P-AP", "C-1", "USD", "100.00") | {"entity_id": "AP01"}
    )
    stack.flush()
    submitted = {"status": "SUBMITTED", "approved_by": None, "approved_at": None}
    stack.publish("pm.time-entries", "TE-HELD", entry("TE-HELD", "P-AP", 30) | submitted)
    stack.publish("pm.time-entries", "TE-LOST", entry("TE-LOST", "P-NEVER", 30))  # stage 2
    stack.publish_raw("pm.time-entries", "TE-POISON", b"\x07not avro")  # stage 1
    stack.flush()


def ended_without_commands(stack: Stack) -> tuple[Counter[str], Counter[str]]:
    """Held feedback per source id, and dead letters per key, as written to the topics."""
    held = Counter(
        f["source_id"] for f in stack.decoded("pm.sync-feedback", idle=1.0) if f["status"] == "HELD"
    )
    letters = Counter((r.key or b"").decode() for r in stack.read("ledgerstream.dlq", idle=1.0))
    return held, letters


def test_replay_to_earliest_after_a_complete_run_posts_no_new_command_ids(stack: Stack) -> None:
    publish_organisation(stack)
    publish_records_that_end_without_commands(stack)
    for n in range(WAVE):
        stack.publish("pm.time-entries", f"TE-{n}", entry(f"TE-{n}", "P-1", 30 + n))
    stack.flush()
    time.sleep(1.5)
    middle = datetime.now(UTC)
    time.sleep(1.5)
    for n in range(WAVE, 2 * WAVE):
        stack.publish("pm.time-entries", f"TE-{n}", entry(f"TE-{n}", "P-1", 30 + n))
    stack.flush()

    worker = stack.worker(**BEATING, **SHORT_PARK)
    worker.wait_ready()
    stack.wait_consumed(worker, "pm.time-entries", 2 * WAVE + 3)
    first_run = command_ids(stack)
    assert len(first_run) == 4 * WAVE  # revenue + cost per entry
    assert set(first_run.values()) == {1}
    deadline = time.monotonic() + 30
    while ended_without_commands(stack)[1]["TE-LOST"] == 0:  # parked, then past its deadline
        assert time.monotonic() < deadline, "TE-LOST was never dead-lettered"
    ended = ended_without_commands(stack)
    assert ended == (Counter({"TE-HELD": 1}), Counter({"TE-LOST": 1, "TE-POISON": 1}))

    running = replay(stack, "--to-earliest")
    assert running.code == 3, running.out + running.err
    assert "refused: a worker of group" in running.err
    assert "heartbeat canary" in running.err
    assert all(
        offset > 0 for (topic, _), offset in committed(stack).items() if topic == "ref.entities"
    )

    worker.stop()
    time.sleep(3.5)  # the heartbeat window: no canary younger than 3 s
    before = committed(stack)
    assert before[("ref.entities", 0)] == 2  # US01 and AP01
    assert sum(o for (t, _), o in before.items() if t == "pm.time-entries") >= 2 * WAVE

    dry = replay(stack, "--to-earliest", "--dry-run")
    assert dry.code == 0, dry.out + dry.err
    assert "dry run: nothing changed" in dry.out
    rows = [line.split() for line in dry.out.splitlines() if line.startswith("pm.time-entries")]
    assert len(rows) == 6
    assert all(row[3] == "0" for row in rows)  # NEW column: every partition back to 0
    assert committed(stack) == before

    applied = replay(stack, "--to-earliest")
    assert applied.code == 0, applied.out + applied.err
    assert "embedded-broker fallback" in applied.out  # UNKNOWN_MEMBER_ID from the admin API
    after = committed(stack)
    assert set(after) == set(before)
    assert all(offset in (0, -1001) for offset in after.values()), after
    assert all(after[tp] == 0 for tp, offset in before.items() if offset > 0)

    again = stack.worker(**BEATING, **SHORT_PARK)
    again.wait_ready()
    stack.wait_consumed(again, "pm.time-entries", 2 * WAVE + 3)
    second_run = command_ids(stack)
    assert set(second_run) == set(first_run)  # zero new distinct command ids
    assert set(second_run.values()) == {1}  # nothing re-sent: the table knew them all
    # held and dead-lettered in stage 2 under these rules: nothing new, counted skipped
    assert again.events_consumed("pm.time-entries")["skipped"] == 2 * WAVE + 2
    time.sleep(3)  # past the parking deadline, had TE-LOST been parked again
    held, letters = ended_without_commands(stack)
    assert (held, letters["TE-LOST"]) == (Counter({"TE-HELD": 1}), 1)
    # stage 1 keeps no state: the poison record is dead-lettered again, and the
    # DLQ tools show it once, with its copy counted
    assert letters["TE-POISON"] == 2
    listed = stack.cli("dlq", "list", "--json", "--idle", "1")
    assert listed.code == 0, listed.out + listed.err
    rows = [json.loads(line) for line in listed.out.splitlines()]
    by_key = {row["key"]: row["copies"] for row in rows if "key" in row}
    assert by_key == {"TE-LOST": 1, "TE-POISON": 2}
    assert rows[-1]["total"] == 2
    # the worker says it caught up on every partition it owns (lag to the exact end)
    deadline = time.monotonic() + 30
    caught_up: dict[Any, float] = {}
    while time.monotonic() < deadline:
        caught_up = {
            labels: v
            for (name, labels), v in again.metrics().items()
            if name == "ledgerstream_caught_up"
        }
        if len(caught_up) >= 6 and all(v == 1 for v in caught_up.values()):
            break
        time.sleep(0.5)
    assert len(caught_up) >= 6
    assert all(v == 1 for v in caught_up.values()), caught_up

    again.stop()
    time.sleep(3.5)
    before = committed(stack)
    done = stack.cli("status", "--json", "--idle", "0.5")
    assert done.code == 0, done.out + done.err
    report = json.loads(done.out)
    assert (report["caught_up"], report["lag"]) == (True, 0)
    stage_two = next(
        t.partitions
        for t in load_topic_specs(stack.settings.topics_file)
        if t.name == "ledgerstream.ledger-events"
    )
    assert len(report["partitions"]) == len(before) + stage_two  # and those of stage 2

    # --to-datetime: each time-entries partition to its first record at or after `middle`
    middle_ms = int(middle.timestamp() * 1000)
    firsts: dict[tuple[str, int], int] = {}
    for record in stack.read("pm.time-entries", idle=1.0):
        if record.timestamp_ms is not None and record.timestamp_ms >= middle_ms:
            tp = ("pm.time-entries", record.partition)
            firsts[tp] = min(record.offset, firsts.get(tp, record.offset))
    by_time = replay(stack, "--to-datetime", middle.isoformat(), "--topics", "pm.time-entries")
    assert by_time.code == 0, by_time.out + by_time.err
    after_time = committed(stack)
    assert after_time == before | firsts
    assert any(after_time[tp] < before[tp] for tp in firsts)
    behind = stack.cli("status", "--idle", "0.5")
    assert behind.code == 4, behind.out + behind.err  # not caught up: the replayed range
    assert behind.out.splitlines()[-1] == "caught up: no"
    lags = [line.split() for line in behind.out.splitlines() if line.startswith("pm.time-entries")]
    assert sum(int(row[4]) for row in lags) == WAVE  # real records after `middle`, no canary

    # --to-offset: exactly the named partitions, never forward unless asked
    busy = next(tp for tp, o in sorted(after_time.items()) if tp[0] == "pm.time-entries" and o)
    target = after_time[busy] - 1
    moved = replay(stack, "--to-offset", f"pm.time-entries:{busy[1]}:{target}", "ref.entities:0:0")
    assert moved.code == 0, moved.out + moved.err
    after = committed(stack)
    assert {tp for tp in after if after[tp] != after_time[tp]} == {busy, ("ref.entities", 0)}
    assert (after[busy], after[("ref.entities", 0)]) == (target, 0)
    forward = replay(stack, "--to-offset", f"pm.time-entries:{busy[1]}:{target + 1}")
    assert forward.code == 3  # moving forward would skip an unread record
    assert "--allow-forward" in forward.err
    assert committed(stack) == after

    audit = [json.loads(r.value) for r in stack.read("ledgerstream.audit", idle=1.0)]
    assert [(a["action"], a["operator"], a["outcome"]) for a in audit] == [
        ("replay", "sre-1", "refused"),
        ("replay", "sre-1", "dry-run"),
        ("replay", "sre-1", "applied"),
        ("replay", "sre-1", "applied"),
        ("replay", "sre-1", "applied"),
        ("replay", "sre-1", "refused"),
    ]
    earliest = audit[2]
    assert earliest["arguments"]["mode"] == "earliest"
    assert earliest["arguments"]["topics"] == worker_input_topics()
    assert earliest["counts"]["partitions"] == len(before)
    assert earliest["counts"]["records_to_reread"] >= 2 * WAVE
    assert earliest["details"]["applied_through"] == "member"
    assert "heartbeat" in audit[0]["error"]
    shown = stack.cli("consume", "ledgerstream.audit", "--idle", "1")
    assert [json.loads(line)["value"]["action_id"] for line in shown.out.splitlines()] == [
        a["action_id"] for a in audit
    ]
