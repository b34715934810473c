"""A mixed month for two entities on the broker: the trial balance, account by account.

The sample month (``streams.demo.month``: time, expenses, retainer, invoices with tax
and discounts, a credit memo, partial foreign payments, intercompany time, a capex
project, late approvals, edits and a deletion) is published to the embedded broker
in recording order, topic by topic, so the worker meets invoices before the entries
they bill and must park them. Its commands must be exactly those of the offline dry
run of the same month (whose rules the golden tests check by hand), and so must the
trial balance, per entity, account and currency, in both currencies; and each
command, id by id, must have the same body on both paths (memos, dates, the event
time of a deletion's reversals), whatever scale Avro gave its decimals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streams.adapters.avro import SchemaCatalog
from streams.demo.month import mixed_month
from streams.demo.runner import publish
from streams.domain.commands import PostLedgerEntry
from streams.domain.trial_balance import trial_balance
from streams.dryrun import dry_run
from tests.integration.conftest import Stack
from tests.integration.load import SinkWatcher

pytestmark = pytest.mark.integration


#: Where a path read the record: a broker's topic, partition and offset, or the dry
#: run's file line. Everything else of a command is the same on both paths.
_POSITION = frozenset({"topic", "partition", "offset"})


def body(command: PostLedgerEntry) -> dict[str, Any]:
    """A command as a ledger compares it (decimals by value), its source position aside."""
    data = command.model_dump()
    data["source"] = {k: v for k, v in data["source"].items() if k not in _POSITION}
    return data


def test_a_mixed_month_posts_the_offline_trial_balance_account_by_account(
    stack: Stack, tmp_path: Path
) -> None:
    month = mixed_month()
    catalog = SchemaCatalog.from_directory(stack.settings.schemas_dir)
    reference, events = month.write_jsonl(tmp_path, catalog)
    offline = dry_run(reference, events, catalog=catalog, rule_version=stack.settings.rule_version)
    assert offline.ok, offline.errors
    expected = {c.command_id: c for c in offline.commands}
    entities = {c.entity_id for c in expected.values()}
    assert len(entities) == 2

    publish(stack.producer, stack.codec, stack.settings, month.reference)
    stack.flush()
    worker = stack.worker(LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS="0")
    worker.wait_ready()
    by_topic: dict[str, list[object]] = {}
    for record in month.events:  # each topic in recording order, topics one after the other
        by_topic.setdefault(record.topic, []).append(record)
    for topic in ("pm.payments", "pm.invoices", "pm.expenses", "pm.time-entries"):
        publish(stack.producer, stack.codec, stack.settings, by_topic.get(topic, []))  # type: ignore[arg-type]
    stack.flush()

    sink = SinkWatcher(stack, "acct.ledger-commands")
    for _ in range(240):
        sink.poll(0.5)
        if len(sink.ids) >= len(expected):
            break
        assert worker.running, worker.tail()
    sink.poll(2.0)
    assert sink.ids == set(expected), worker.tail()
    posted = {c["command_id"]: PostLedgerEntry.model_validate(c) for c in sink.records}
    assert len(posted) == len(sink.records)  # each command sent once
    # one id, one body, whatever the path (issue 16): a ledger deduplicating by id
    # must never meet two bodies; only where each path read the record differs
    differ = [i for i in sorted(expected) if body(posted[i]) != body(expected[i])]
    assert differ == [], (len(differ), body(posted[differ[0]]), body(expected[differ[0]]))
    assert trial_balance(posted.values()) == trial_balance(expected.values())
    rows = trial_balance(posted.values())
    assert {row.entity_id for row in rows} == entities
    for entity in entities:
        mine = [r for r in rows if r.entity_id == entity]
        assert sum(r.base_debit for r in mine) == sum(r.base_credit for r in mine)
    assert stack.read("ledgerstream.dlq", idle=0.5) == []
