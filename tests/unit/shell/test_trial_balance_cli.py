"""The dry run's trial balance as an accountant reads it: names, net, both currencies."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from streams.cli import main
from streams.domain.trial_balance import account_name

MONTH = Path(__file__).resolve().parents[3] / "examples" / "month"
ARGS = ["dry-run", "--reference", str(MONTH / "reference.jsonl"), str(MONTH / "events.jsonl")]


def test_rows_name_their_account_and_show_net_in_both_labelled_currencies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*ARGS, "--balance-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "trial balance"
    assert out[1].split() == [
        "entity", "account", "name", "txn", "debit", "credit", "net",
        "base", "base", "debit", "base", "credit", "base", "net",
    ]  # fmt: skip
    assert not any(x.startswith("{") for x in out)  # no command lines
    ar = next(x for x in out if x.startswith("US10       1100"))
    assert "Accounts receivable" in ar
    fields = ar.split()
    assert Decimal(fields[-5]) == Decimal(fields[-7]) - Decimal(fields[-6])  # net = dr - cr
    fx = next(x for x in out if " 7900 " in x and " - " in x)
    assert "FX gain/loss" in fx  # realised FX: base amounts only, said so with "-"


def test_csv_and_json_carry_the_same_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--balance-only", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert main([*ARGS, "--balance-only", "--format", "json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows == lines
    for entity in {r["entity"] for r in rows}:
        mine = [r for r in rows if r["entity"] == entity]
        assert sum(Decimal(r["base_net"]) for r in mine) == 0
    assert {r["name"] for r in rows} >= {"Cash", "Accounts receivable", "Service revenue"}


def test_period_keeps_only_that_periods_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--balance-only", "--format", "json"]) == 0
    everything = capsys.readouterr().out.splitlines()
    assert main([*ARGS, "--balance-only", "--format", "json", "--period", "2026-09"]) == 0
    september = capsys.readouterr().out.splitlines()
    assert main([*ARGS, "--balance-only", "--format", "json", "--period", "1999-01"]) == 0
    assert capsys.readouterr().out == ""
    assert 0 < len(september) <= len(everything)
    with pytest.raises(SystemExit):
        main([*ARGS, "--period", "2026-9"])


def test_account_names_come_from_the_default_chart() -> None:
    assert account_name("1100") == "Accounts receivable"
    assert account_name("7950") == "Rounding"
    assert account_name("9999") == ""
