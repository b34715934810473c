"""The offline dry run: the shipped example, precise line errors, parking, the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
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
        'events.jsonl:12:148: amount: expected decimal string, got "12.3.4" [INVALID_JSON_FORM]'
    ]
    assert result.ledger.skipped == 1  # TE-1 v1 replayed after v2
    actions = [c.action for c in result.commands]
    assert actions.count(CommandAction.REVERSE) == 4  # TE-1 v1 (2), TE-4 deleted (2)
    rows = trial_balance(result.commands)
    for entity_id in {r.entity_id for r in rows}:
        mine = [r for r in rows if r.entity_id == entity_id]
        assert sum(r.base_debit for r in mine) == sum(r.base_credit for r in mine)
    # AR (USD): 1600.00 taxed at New York City's 8.875 % = 142.00, invoice 1962.00
    #   - payment 1000.00 - credit memo 220.00 = 742.00
    ar = next(r for r in rows if (r.entity_id, r.account, r.currency) == ("US", "1100", "USD"))
    assert ar.debit - ar.credit == Decimal("742.00")


def test_an_invoice_waiting_for_its_entry_is_parked_then_posts(tmp_path: Path) -> None:
    events = example_events()
    invoice = next(e for e in events if e["value"] and e["value"].get("invoice_id") == "INV-1")
    entry = next(e for e in events if e["value"] and e["value"].get("entry_id") == "TE-3")
    assert events.index(invoice) < events.index(entry)  # the example relies on parking
    result = run(EXAMPLES / "reference.jsonl", write(tmp_path / "e.jsonl", [invoice]))
    assert [str(e) for e in result.errors] == [
        "e.jsonl:1:335: lines.0.time_entry_ids: still parked: time_entry 'TE-1' has not been posted"
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
        "bad.jsonl:1:2: not valid JSON: Expecting property name enclosed in double quotes"
        " at column 2 [INVALID_JSON]",
        'bad.jsonl:2:2: topic: "pm.nope" is not an event topic (pm.time-entries, '
        "pm.expenses, pm.invoices, pm.payments) [UNKNOWN_TOPIC]",
        "bad.jsonl:3:1: employee_id: expected a value (required field), got null"
        " [INVALID_JSON_FORM]",
        "bad.jsonl:4:60: version: must be >= 1 (got 0) [INVALID_EVENT]",
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
    assert "events.jsonl:12:148: amount:" in err


def test_dry_run_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dry-run", "--help"])
    out = capsys.readouterr().out
    for option in ("--reference", "--rule-version", "--schemas", "--feedback"):
        assert option in out


def v2_entry() -> dict[str, Any]:
    """An intercompany entry (hans, DE, on the US project): three commands."""
    line = next(e for e in example_events() if e["value"] and e["value"]["entry_id"] == "TE-2")
    return json.loads(json.dumps(line))


def v1_twin(line: dict[str, Any]) -> dict[str, Any]:
    """The same entry as a v1 producer writes it: a duration instead of an end."""
    value = dict(line["value"])
    started = datetime.fromisoformat(value["started_at"])
    ended = datetime.fromisoformat(value.pop("ended_at"))
    value["duration_minutes"] = (ended - started) // timedelta(minutes=1)
    return {"topic": line["topic"], "schema_version": 1, "value": value}


def test_a_v1_time_entry_posts_exactly_like_its_v2_twin(tmp_path: Path) -> None:
    v2 = v2_entry()
    v1 = v1_twin(v2)
    assert "ended_at" not in v1["value"]
    assert v1["value"]["duration_minutes"] == 480
    reference = EXAMPLES / "reference.jsonl"
    old = run(reference, write(tmp_path / "v1.jsonl", [v1]))
    new = run(reference, write(tmp_path / "v2.jsonl", [v2]))
    assert (old.errors, new.errors) == ([], [])
    assert len(new.commands) == 3  # revenue, ic-cost, ic-recharge
    assert [c.model_dump() for c in old.commands] == [c.model_dump() for c in new.commands]
    # naming the newest version explicitly changes nothing either
    named = run(reference, write(tmp_path / "named.jsonl", [v2 | {"schema_version": 2}]))
    assert [c.model_dump() for c in named.commands] == [c.model_dump() for c in new.commands]


def test_an_old_version_is_translated_like_the_worker_does(tmp_path: Path) -> None:
    v1 = v1_twin(v2_entry())
    v1["value"]["duration_minutes"] = -30  # only v1 can say this; its translator refuses it
    expense = next(e for e in example_events() if e["value"] and e["value"].get("expense_id"))
    old_expense = dict(expense["value"])
    old_expense["description"] = old_expense.pop("business_purpose")
    old_expense["markup_rate"] = None  # v1: null meant no markup
    rows = [v1, {"topic": "pm.expenses", "schema_version": 1, "value": old_expense}]
    result = run(EXAMPLES / "reference.jsonl", write(tmp_path / "old.jsonl", rows))
    assert [str(e) for e in result.errors] == [
        "old.jsonl:1:378: duration_minutes: must be >= 0 (got -30) [INVALID_EVENT]"
    ]
    cost, rebill = result.commands
    assert (cost.journal, cost.lines[0].memo) == ("EXPENSE", "client visit")  # the description
    assert rebill.lines[0].amount == Decimal(old_expense["amount"])  # null markup: none


def test_a_wrong_schema_version_is_a_precise_line_error(tmp_path: Path) -> None:
    v2 = v2_entry()
    v1 = v1_twin(v2)
    rows = [
        v2 | {"schema_version": 3},
        v2 | {"schema_version": "2"},
        v2 | {"schema_version": 1},  # a v2 value read as v1: ended_at is not a v1 field
        {"topic": v1["topic"], "value": v1["value"]},  # a v1 value without its version
        v2,
    ]
    result = run(EXAMPLES / "reference.jsonl", write(tmp_path / "versions.jsonl", rows))
    assert [str(e) for e in result.errors] == [
        "versions.jsonl:1:403: schema_version: expected a schema version of pm.time-entries (1..2),"
        " got 3 [INVALID_JSON_FORM]",
        "versions.jsonl:2:403: schema_version: expected a schema version of pm.time-entries (1..2),"
        ' got "2" [INVALID_JSON_FORM]',
        "versions.jsonl:3:167: ended_at: unknown field, not in the schema [INVALID_JSON_FORM]",
        "versions.jsonl:4:357: duration_minutes: unknown field, not in pm.time-entries v2 (a field"
        ' of v1: give the line "schema_version": 1) [INVALID_JSON_FORM]',
    ]
    assert len(result.commands) == 3  # the good last line still posts


def test_reference_lines_may_name_an_older_version_too(tmp_path: Path) -> None:
    lines = (EXAMPLES / "reference.jsonl").read_text().splitlines()
    rows: list[Any] = [json.loads(line) for line in lines]
    entity = next(r for r in rows if r["value"].get("entity_id") == "DE")
    del entity["value"]["tax_rounding"]  # v1 of ref.entities has no tax policy
    entity["schema_version"] = 1
    reference = write(tmp_path / "reference.jsonl", rows)
    result = run(reference, write(tmp_path / "e.jsonl", [v2_entry()]))
    assert result.errors == []
    assert len(result.commands) == 3
    entity["schema_version"] = 7
    result = run(write(tmp_path / "bad.jsonl", rows), write(tmp_path / "e.jsonl", [v2_entry()]))
    assert str(result.errors[0]).startswith(
        "bad.jsonl:2:186: schema_version: expected a schema version of ref.entities (1..2), got 7"
    )


def test_dry_run_help_documents_schema_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dry-run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert '"schema_version": N' in out
    assert "translated to the current model exactly as a worker decodes it" in out
