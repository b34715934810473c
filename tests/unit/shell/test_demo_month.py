"""The demo's mixed month: every event type and case posts in the dry run, balanced.

The month is generated, written as dry-run files and posted offline; each test
looks for one case in the commands and the sync feedback. The committed copy in
``examples/month/`` must equal a fresh generation.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from streams.adapters.avro import SchemaCatalog
from streams.cli import main
from streams.demo import sample
from streams.demo.month import DEFAULT_SEED, Month, jsonl_line, mixed_month
from streams.demo.month.organisation import ENTITIES, PROJECTS
from streams.demo.runner import is_balanced
from streams.domain.commands import CommandAction, CostClass, PostLedgerEntry, RateType
from streams.domain.feedback import FeedbackStatus, SyncFeedback
from streams.domain.posted import ar_key
from streams.domain.trial_balance import trial_balance
from streams.dryrun import DryRun, dry_run

REPO = Path(__file__).resolve().parents[3]
CATALOG = SchemaCatalog.from_directory(REPO / "schemas")
EXAMPLE = REPO / "examples" / "month"
EVENT_TOPICS = {"pm.time-entries", "pm.expenses", "pm.invoices", "pm.payments"}
CHICAGO = ZoneInfo("America/Chicago")


@dataclass(frozen=True)
class Posted:
    month: Month
    run: DryRun

    def values(self, topic: str) -> list[dict[str, Any]]:
        return [r.value for r in self.month.events if r.topic == topic and r.value is not None]

    def of(self, source_id: str) -> list[PostLedgerEntry]:
        return [c for c in self.run.commands if c.source.id == source_id]

    def feedback(self, source_id: str) -> list[SyncFeedback]:
        return [f for f in self.run.feedback if f.source_id == source_id]


def post(month: Month, directory: Path) -> Posted:
    reference, events = month.write_jsonl(directory, CATALOG)
    return Posted(month, dry_run(reference, events, catalog=CATALOG, rule_version="test/1"))


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> Posted:
    return post(mixed_month(), tmp_path_factory.mktemp("month"))


def test_every_line_posts_in_order_and_every_command_balances(posted: Posted) -> None:
    run = posted.run
    assert run.errors == []
    assert run.ledger.skipped == 0
    # one POSTED/HELD/REVERSED feedback per event line, in line order: nothing was parked
    said = [(f.source_id, f.version) for f in run.feedback if f.status != FeedbackStatus.RELEASED]
    lines = [(r.key, r.value["version"] if r.value else None) for r in posted.month.events]
    assert [key for key, _ in said] == [key for key, _ in lines]
    assert all(is_balanced(c.model_dump()) for c in run.commands)
    rows = trial_balance(run.commands)
    bases = {r.entity_id: r.base_currency for r in rows}
    assert bases == {"US10": "USD", "GB10": "GBP"}
    for entity_id in bases:
        mine = [r for r in rows if r.entity_id == entity_id]
        assert sum(r.base_debit for r in mine) == sum(r.base_credit for r in mine)


def test_every_event_type_and_project_kind_posts(posted: Posted) -> None:
    assert set(posted.month.counts()) == EVENT_TOPICS
    journals = {(c.source.type, c.journal) for c in posted.run.commands}
    assert journals == {
        ("time_entry", "TIME"),
        ("expense", "EXPENSE"),
        ("invoice", "INVOICE"),
        ("payment", "CASH"),
    }
    kinds = {
        PROJECTS[line.dimensions.project_id]["kind"]
        for c in posted.run.commands
        for line in c.lines
        if line.dimensions.project_id
    }
    assert kinds == {"CLIENT_TM", "CLIENT_FIXED", "RETAINER", "INTERNAL_OPEX", "INTERNAL_CAPEX"}
    policies = {e["tax_rounding"] for e in ENTITIES.values()}
    assert policies == {"PER_LINE", "PER_INVOICE"}
    invoice_kinds = Counter(v["kind"] for v in posted.values("pm.invoices"))
    assert invoice_kinds == {"INVOICE": 4, "RETAINER": 1, "CREDIT_MEMO": 1}


def test_intercompany_time_books_both_entities(posted: Posted) -> None:
    ic = [
        c
        for c in posted.run.commands
        if c.action is CommandAction.POST and any(ln.account == "2400" for ln in c.lines)
    ]
    assert ic
    for cost in ic:
        recharge = [
            c
            for c in posted.of(cost.source.id)
            if c.entity_id != cost.entity_id
            and (c.action, c.source.version) == (CommandAction.POST, cost.source.version)
        ]
        assert (cost.entity_id, cost.transaction_currency) == ("US10", "GBP")
        assert [c.entity_id for c in recharge] == ["GB10"]
        legs = {(ln.account, ln.side) for ln in recharge[0].lines}
        assert ("1200", "DEBIT") in legs
        assert {ln.dimensions.counterparty_entity_id for ln in cost.lines} == {"GB10"}


def test_capex_time_and_expenses_are_capitalised(posted: Posted) -> None:
    capex = {
        c.journal
        for c in posted.run.commands
        for ln in c.lines
        if ln.account == "1300" and ln.dimensions.cost_class is CostClass.CAPEX
    }
    assert capex == {"TIME", "EXPENSE"}


def test_the_retainer_is_billed_paid_and_drawn_down(posted: Posted) -> None:
    [retainer] = posted.of("RET-M001")
    assert ("2300", "CREDIT", Decimal("6000.00")) in {
        (ln.account, ln.side, ln.amount) for ln in retainer.lines
    }
    [drawn] = posted.of("INV-M004")
    sides = {(ln.account, ln.side): ln.amount for ln in drawn.lines}
    assert sides[("2300", "DEBIT")] == Decimal("2000.00")
    # GB-VAT: the VAT charged on the 2000.00 applied (a third of 1200.00) is taken off
    assert sides[("2200", "DEBIT")] == Decimal("400.00")
    assert sides[("1100", "DEBIT")] > 0  # the rest is receivable
    [paid] = posted.of("PAY-M001")
    assert paid.lines[0].amount == Decimal("7200.00")  # deposit + 20 % VAT


def test_the_credit_memo_releases_its_line_entries_to_wip(posted: Posted) -> None:
    invoice = next(v for v in posted.values("pm.invoices") if v["invoice_id"] == "INV-M002")
    credited = invoice["lines"][1]["time_entry_ids"]
    [memo] = posted.of("CM-M001")
    relieved = next(
        ln for ln in posted.of("INV-M002")[0].lines if ln.amount == invoice["lines"][1]["amount"]
    )
    restored = next(ln for ln in memo.lines if ln.account == "1150")
    assert (restored.side, restored.amount) == ("DEBIT", relieved.amount)
    assert any(
        ln.account == "2310" and ln.side == "CREDIT" for ln in memo.lines
    )  # paid: a credit on account
    released = [f for f in posted.run.feedback if f.status == FeedbackStatus.RELEASED]
    assert sorted(f.source_id for f in released) == sorted(credited)
    assert {f.related_id for f in released} == {"CM-M001"}


def test_the_eur_invoice_is_paid_in_two_parts_with_realised_fx(posted: Posted) -> None:
    [invoice] = posted.of("INV-M003")
    assert invoice.fx.rate_type is RateType.CONTRACT
    # the entries accrued at the same contract rate: no FX, only per-entry rounding (7950)
    assert not any(ln.account == "7900" for ln in invoice.lines)
    receivable = next(ln for ln in invoice.lines if ln.account == "1100")
    parts = [*posted.of("PAY-M004"), *posted.of("PAY-M005")]
    assert [(c.entity_id, c.transaction_currency) for c in parts] == [("GB10", "EUR")] * 2
    assert all(c.fx.rate_type is RateType.SPOT for c in parts)
    cleared = [ln for c in parts for ln in c.lines if ln.account == "1100"]
    assert sum(ln.amount for ln in cleared) == receivable.amount
    assert sum(ln.base_amount for ln in cleared) == receivable.base_amount  # at the carried base
    assert all(any(ln.account == "7900" for ln in c.lines) for c in parts)
    left = posted.run.ledger.balance(ar_key("INV-M003"))
    assert left is None or left.amount == 0


def test_late_approvals_are_held_then_posted_once(posted: Posted) -> None:
    late = [
        (v.get("entry_id") or v["expense_id"])
        for topic in ("pm.time-entries", "pm.expenses")
        for v in posted.values(topic)
        if v["status"] == "SUBMITTED"
    ]
    assert len(late) == 5  # four time entries, one expense
    for source_id in late:
        said = [(f.version, f.status) for f in posted.feedback(source_id)]
        assert said[:2] == [(1, FeedbackStatus.HELD), (2, FeedbackStatus.POSTED)]
        commands = posted.of(source_id)
        assert commands
        assert all(c.action is CommandAction.POST and c.source.version == 2 for c in commands)
        assert all(c.approval is not None for c in commands)


def test_edited_entries_reverse_their_first_version(posted: Posted) -> None:
    edited = [
        v["entry_id"]
        for v in posted.values("pm.time-entries")
        if v["version"] == 2 and "corrected" in v["description"]
    ]
    assert len(edited) == 3
    for entry_id in edited:
        commands = posted.of(entry_id)
        first = [c.command_id for c in commands if c.source.version == 1]
        reversals = [c for c in commands if c.action is CommandAction.REVERSE]
        assert first
        assert sorted(c.reverses for c in reversals) == sorted(first)


def test_the_last_evening_entry_books_on_the_last_day_of_the_month(posted: Posted) -> None:
    [late] = [
        v
        for v in posted.values("pm.time-entries")
        if v["started_at"].astimezone(UTC).date() == date(2026, 10, 1)
    ]
    assert late["started_at"].astimezone(CHICAGO).strftime("%H:%M") == "23:30"
    commands = posted.of(late["entry_id"])
    assert commands
    assert {(c.effective_date, c.period) for c in commands} == {(date(2026, 9, 30), "2026-09")}


def test_v1_records_and_a_deletion_post(posted: Posted) -> None:
    old = [r for r in posted.month.events if r.schema_version == 1]
    assert sorted(r.topic for r in old) == ["pm.expenses", "pm.time-entries"]
    assert "duration_minutes" in next(r.value for r in old if r.topic == "pm.time-entries")
    for record in old:
        assert [f.status for f in posted.feedback(record.key)] == [FeedbackStatus.POSTED]
        assert posted.of(record.key)
    [deleted] = [r.key for r in posted.month.events if r.value is None]
    commands = posted.of(deleted)
    assert [c.action for c in commands].count(CommandAction.REVERSE) == len(commands) // 2 > 0
    assert posted.feedback(deleted)[-1].status == FeedbackStatus.REVERSED


def test_fx_contract_spot_and_the_contract_rate_record(posted: Posted) -> None:
    rate_types = {c.fx.rate_type for c in posted.run.commands}
    assert rate_types == {RateType.IDENTITY, RateType.SPOT, RateType.CONTRACT}
    contract = [r for r in posted.month.reference if r.key.endswith("/CONTRACT")]
    assert [r.value["contract_id"] for r in contract if r.value] == ["FXC-HANSA-2026"]
    spot_days = {r.value["rate_date"] for r in posted.month.reference if r.key.endswith("/SPOT")}
    assert {date(2026, 9, d) for d in range(1, 31)} <= spot_days


def test_events_are_in_the_order_recorded_and_bills_follow_what_they_bill(posted: Posted) -> None:
    events = posted.month.events
    times = [r.value["recorded_at"] for r in events if r.value is not None]
    assert times == sorted(times)
    seen: set[str] = set()
    for record in events:
        value = record.value or {}
        billed = [
            x for ln in value.get("lines", []) for x in ln["time_entry_ids"] + ln["expense_ids"]
        ]
        billed += [value["credited_invoice_id"]] if value.get("credited_invoice_id") else []
        billed += [a["invoice_id"] for a in value.get("allocations", [])]
        assert set(billed) <= seen, record.key
        seen.add(record.key)


def test_the_month_is_deterministic_and_other_seeds_post_too(tmp_path: Path) -> None:
    assert mixed_month() == mixed_month(DEFAULT_SEED)
    other = mixed_month(DEFAULT_SEED + 1)
    assert other.events != mixed_month().events
    for seed in (1, 2, 3):
        run = post(mixed_month(seed), tmp_path / str(seed)).run
        assert (run.errors, run.ledger.skipped) == ([], 0)


def test_the_committed_example_is_a_fresh_generation() -> None:
    month = mixed_month()
    for name, records in (("reference.jsonl", month.reference), ("events.jsonl", month.events)):
        expected = "".join(jsonl_line(r, CATALOG) + "\n" for r in records)
        assert (EXAMPLE / name).read_text(encoding="utf-8") == expected, (
            f"examples/month/{name} is stale: run `python -m streams.demo.month`"
        )
    lines = [json.loads(x) for x in (EXAMPLE / "events.jsonl").read_text().splitlines()]
    assert sum(1 for x in lines if x.get("schema_version") == 1) == 2


def test_cli_dry_runs_the_committed_month_without_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "dry-run",
            "--reference",
            str(EXAMPLE / "reference.jsonl"),
            str(EXAMPLE / "events.jsonl"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "trial balance" in out
    totals = [x.split() for x in out.splitlines() if "total    (base currency)" in x]
    assert [(t[0], t[4]) for t in totals] == [("GB10", "GBP"), ("US10", "USD")]
    assert all(t[5] == t[6] and t[7] == "0.00" for t in totals)  # debits = credits in base
    assert err.strip().endswith("0 skipped, 0 line(s) not posted")


def _nets(run: DryRun) -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    return {
        (r.entity_id, r.account, r.currency): (
            r.debit - r.credit,
            r.base_debit - r.base_credit,
        )
        for r in trial_balance(run.commands)
        if r.debit != r.credit or r.base_debit != r.base_credit
    }


def test_the_credit_memo_before_the_payment_leaves_the_same_books(tmp_path: Path) -> None:
    """PAY-M002 pays INV-M002 in full; CM-M001 credits its line 2. Swapped, the payment
    exceeds what the memo left open: the excess is a customer credit (2310), not refused."""
    reference, events = mixed_month().write_jsonl(tmp_path, CATALOG)
    lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
    pay = next(i for i, x in enumerate(lines) if '"PAY-M002"' in x)
    memo = next(i for i, x in enumerate(lines) if '"CM-M001"' in x)
    assert memo == pay + 1  # adjacent: swapping them changes nothing else
    lines[pay], lines[memo] = lines[memo], lines[pay]
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_text("".join(lines), encoding="utf-8")
    as_recorded = dry_run(reference, events, catalog=CATALOG, rule_version="test/1")
    credit_first = dry_run(reference, swapped, catalog=CATALOG, rule_version="test/1")
    assert (as_recorded.errors, credit_first.errors) == ([], [])
    assert _nets(credit_first) == _nets(as_recorded)
    cash = _nets(as_recorded)[("US10", "1000", "USD")]
    assert cash == _nets(credit_first)[("US10", "1000", "USD")]
    [paid] = [c for c in credit_first.commands if c.source.id == "PAY-M002"]
    assert [ln.account for ln in paid.lines] == ["1000", "1100", "2310"]


def test_the_demo_samples_v1_shaped_time_entries_are_written_as_v1_lines(tmp_path: Path) -> None:
    """Issue 16: the sample's entries carry ``duration_minutes``: they were written as v2
    lines with ``ended_at: null`` and without their duration, which dry-run refused."""
    entries = list(sample.time_entries(40, bad_every=0))
    lines = [json.loads(jsonl_line(r, CATALOG)) for r in entries]
    assert {line.get("schema_version") for line in lines} == {1}
    assert all(line["value"]["duration_minutes"] > 0 for line in lines)
    assert all("ended_at" not in line["value"] for line in lines)
    reference = tmp_path / "reference.jsonl"
    events = tmp_path / "events.jsonl"
    reference.write_text("".join(jsonl_line(r, CATALOG) + "\n" for r in sample.reference_records()))
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = dry_run(reference, events, catalog=CATALOG, rule_version="test")
    assert run.errors == []
    assert run.commands
    # the mixed month's own lines (v2 entries, with their v1 entry named) are unchanged
    assert jsonl_line(mixed_month().events[0], CATALOG).count("schema_version") == 0
