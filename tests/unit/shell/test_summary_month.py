"""Cadence SUMMARY over the mixed month: every summary balances, every net balance is kept."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from streams.adapters.avro import SchemaCatalog
from streams.domain.commands import CommandAction, PostLedgerEntry
from streams.domain.summary import SUMMARY_JOURNAL, summarised
from streams.domain.trial_balance import trial_balance
from streams.dryrun import dry_run

_Pair = tuple[Decimal, Decimal]
ROOT = Path(__file__).resolve().parents[3]
MONTH = ROOT / "examples" / "month"


def test_summarising_both_entities_keeps_every_net_balance_with_fewer_commands() -> None:
    run = dry_run(
        MONTH / "reference.jsonl",
        MONTH / "events.jsonl",
        catalog=SchemaCatalog.from_directory(ROOT / "schemas"),
        rule_version="test/1",
    )
    assert run.ok
    summaries = summarised(run.commands, ["US10", "GB10"], "test/1")

    assert {c.journal for c in summaries} == {SUMMARY_JOURNAL}
    assert {c.action for c in summaries} == {CommandAction.POST}  # one flush: no revisions
    assert len(summaries) < len(run.commands)
    sources = {s for c in summaries for s in c.related_source_ids}
    reversed_ids = {c.reverses for c in run.commands}
    live = {
        c.source.id
        for c in run.commands
        if c.action is CommandAction.POST and c.command_id not in reversed_ids
    }
    assert sources == live  # every live record, and no deleted one (TE-M0056-DUP)
    assert "TE-M0056-DUP" not in sources

    def nets(commands: list[PostLedgerEntry]) -> dict[tuple[str, str, str], _Pair]:
        return {
            (r.entity_id, r.account, r.currency): (
                r.debit - r.credit,
                r.base_debit - r.base_credit,
            )
            for r in trial_balance(commands)
            if r.debit != r.credit or r.base_debit != r.base_credit
        }

    assert nets(summaries) == nets(run.commands)
    assert summarised(run.commands, [], "test/1") == run.commands  # REALTIME: unchanged
