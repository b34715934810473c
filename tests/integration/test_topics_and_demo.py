"""`topics create` is idempotent and refuses a mismatch; `demo --once` runs the whole path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from streams.adapters.exceptions import TopicMismatchError
from streams.adapters.topics import TopicOutcome, TopicSpec, ensure_topics, load_topic_specs
from streams.demo.month import mixed_month
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_topics_create_is_idempotent_and_refuses_a_partition_mismatch(bootstrap: str) -> None:
    settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=f"x{uuid.uuid4().hex[:6]}.")
    specs = load_topic_specs(settings.topics_file)
    client = settings.kafka_client_config()

    first = ensure_topics(client, specs, prefix=settings.topic_prefix, single_node=True)
    assert set(first.values()) == {TopicOutcome.CREATED}
    assert len(first) == len(specs) == 17
    again = ensure_topics(client, specs, prefix=settings.topic_prefix, single_node=True)
    assert set(again.values()) == {TopicOutcome.EXISTS}

    wrong = [TopicSpec("pm.time-entries", partitions=12, replication_factor=1, configs={})]
    with pytest.raises(TopicMismatchError, match=r"pm\.time-entries has 6 partitions, declared 12"):
        ensure_topics(client, wrong, prefix=settings.topic_prefix, single_node=True)


def test_cli_topics_create_reports_each_topic(bootstrap: str) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LEDGERSTREAM_PROFILE": "embedded",
        "LEDGERSTREAM_TOPIC_PREFIX": f"c{uuid.uuid4().hex[:6]}.",
    }
    command = [sys.executable, "-m", "streams", "topics", "create"]
    created = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert created.stdout.count("created ") == 17
    repeated = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert repeated.stdout.count("exists ") == 17


def test_demo_once_posts_the_sample_set_balanced(tmp_path: Path) -> None:
    """The `make run` path, bounded: its own embedded broker, sample data, a worker."""
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["LEDGERSTREAM_DATA_DIR"] = str(tmp_path / "data")
    env["TMPDIR"] = str(tmp_path / "tmp")  # where the demo's worker keeps its log and state
    (tmp_path / "tmp").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "streams", "demo", "--once", "--events", "2000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    month = sum(mixed_month().counts().values())  # the mixed month comes first
    assert summary["events_in"] == month + 2000
    assert summary["processed"] + summary["parked"] == summary["events_in"]
    assert summary["unbalanced"] == 0
    # every 500th sample entry is broken on purpose: 3 dead letters, and one that
    # waits (parked) for a project that never comes; a month record still waiting
    # for its retry when `--once` stops is parked too (not lost: it is in the table)
    assert summary["dead_letters"] == 3
    assert summary["parked"] >= 1
    assert summary["commands_out"] > 2000
    assert summary["held"] > 0  # DE01 requires approval; ~10% of its entries are not approved
    # a run that ended well leaves nothing behind: no worker directory, no broker log
    assert list((tmp_path / "tmp").iterdir()) == []
    assert list((tmp_path / "data").glob("tansu-*.log")) == []
    assert "stopped (finished)" in result.stdout
    # the mixed month's close, once it has posted: one allocation, one consolidation
    assert "allocation GB10-SHARED v1 GB10 2026-09: pool 6100 44.36 GBP" in result.stdout
    assert "consolidation HARBOR v1 2026-09 into HARBOR-CONS" in result.stdout


def test_demo_timeout_ends_with_one_message_and_keeps_the_worker_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["LEDGERSTREAM_DATA_DIR"] = str(tmp_path / "data")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "streams", "demo", "--once", "--events", "20000", "--timeout", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "stopped (timed out)" in result.stdout + result.stderr
    (kept,) = (tmp_path / "tmp").glob("ledgerstream-demo-*")
    assert (
        f"ledgerstream: demo did not finish in 1s (--timeout); the worker's log is kept: {kept}"
        in (result.stderr)
    )
