"""The offline dry run: the shipped example, precise line errors, parking, the CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streams.adapters.avro import SchemaCatalog
from streams.cli import main
from streams.domain.commands import CommandAction
from streams.domain.trial_balance import trial_balance
from streams.dryrun import dry_run

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
CATALOG = SchemaCatalog.from_directory(REPO / "schemas")


def run(reference: Path, events: Path) -> Any:
    return dry_run(reference, events, catalog=CATALOG, rule_version="test/1")


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def example_events() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_the_shipped_example_posts_everything_but_its_one_bad_line() -> None:
    result = run(EXAMPLES / "reference.jsonl", EXAMPLES / "events.jsonl")
    assert [str(e) for e in result.errors] == [
        "events.jsonl:12: amount: expected decimal string, got '12.3.4' [INVALID_JSON_FORM]"
    ]
    assert result.ledger.skipped == 1  # TE-1 v1 replayed after v2
    actions = [c.action for c in result.commands]
    assert actions.count(CommandAction.REVERSE) == 4  # TE-1 v1 (2), TE-4 deleted (2)
    rows = trial_balance(result.commands)
    for entity_id in {r.entity_id for r in rows}:
        mine = [r for r in rows if r.entity_id == entity_id]
        assert sum(r.base_debit for r in mine) == sum(r.base_credit for r in mine)
    # AR (USD): invoice 1962.08 - payment 1000.00 - credit memo 220.00 = 742.08
    ar = next(r for r in rows if (r.entity_id, r.account, r.currency) == ("US", "1100", "USD"))
    assert ar.debit - ar.credit == Decimal("742.08")


def test_an_invoice_waiting_for_its_entry_is_parked_then_posts(tmp_path: Path) -> None:
    events = example_events()
    invoice = next(e for e in events if e["value"] and e["value"].get("invoice_id") == "INV-1")
    entry = next(e for e in events if e["value"] and e["value"].get("entry_id") == "TE-3")
    assert events.index(invoice) < events.index(entry)  # the example relies on parking
    result = run(EXAMPLES / "reference.jsonl", write(tmp_path / "e.jsonl", [invoice]))
    assert [str(e) for e in result.errors] == [
        "e.jsonl:1: lines.0.time_entry_ids: still parked: time_entry 'TE-1' has not been posted"
        " [UNPOSTED_SOURCE]"
    ]


def test_bad_lines_name_line_field_and_reason_and_good_lines_still_post(tmp_path: Path) -> None:
    good = example_events()[0]
    missing = json.loads(json.dumps(good))
    del missing["value"]["employee_id"]
    negative = json.loads(json.dumps(good))
    negative["value"] |= {"entry_id": "TE-9", "version": 0}
    rows = ["{not json", {"topic": "pm.nope", "value": {}}, missing, negative, good]
    result = run(EXAMPLES / "reference.jsonl", write(tmp_path / "bad.jsonl", rows))
    assert [str(e) for e in result.errors] == [
        "bad.jsonl:1: not valid JSON: Expecting property name enclosed in double quotes",
        "bad.jsonl:2: topic: topic 'pm.nope' is not an event topic (pm.time-entries, "
        "pm.expenses, pm.invoices, pm.payments)",
        "bad.jsonl:3: employee_id: expected a value (required field), got None [INVALID_JSON_FORM]",
        "bad.jsonl:4: version: must be >= 1 (got 0) [INVALID_EVENT]",
    ]
    assert len(result.commands) == 2


def test_cli_prints_commands_then_the_trial_balance_and_fails_on_bad_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "dry-run",
            "--reference",
            str(EXAMPLES / "reference.jsonl"),
            str(EXAMPLES / "events.jsonl"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    first = json.loads(out.splitlines()[0])
    assert (first["action"], first["journal"], first["lines"][0]["amount"]) == (
        "POST",
        "TIME",
        "187.50",
    )
    assert "trial balance" in out
    assert "events.jsonl:12: amount:" in err


def test_dry_run_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dry-run", "--help"])
    out = capsys.readouterr().out
    for option in ("--reference", "--rule-version", "--schemas", "--feedback"):
        assert option in out
