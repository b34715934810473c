"""Input files: one error format, JSON words, whole JSON reasons, warnings, one line format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streams.adapters.jsonlines import LineError, read_json_lines
from streams.cli import main

MONTH = Path(__file__).resolve().parents[3] / "examples" / "month"
LINE_ERROR = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?:\S+: )?.+ \[[A-Z_]+\]$"
)


def test_a_json_error_keeps_its_whole_reason_and_its_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"topic": "pm.projects", "value": {"name": "a\tb"}}\n')
    (error,) = list(read_json_lines(path))
    assert isinstance(error, LineError)
    assert str(error) == (
        f'{path}:1:46: not valid JSON: Invalid control character "\\t" at column 46 [INVALID_JSON]'
    )


def test_dry_run_and_produce_print_errors_in_one_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    bad_value = {"topic": "pm.payments", "value": {"payment_id": None}}
    events.write_text("{oops\n" + json.dumps(bad_value) + "\n[1]\n")
    assert main(["dry-run", "--reference", str(MONTH / "reference.jsonl"), str(events)]) == 1
    dry = [x for x in capsys.readouterr().err.splitlines() if x.startswith("events.jsonl:")]
    assert main(["produce", "--dry-run", "--progress", "never", str(events)]) == 1
    produced = [x for x in capsys.readouterr().err.splitlines() if x.startswith(str(events) + ":")]
    for line in [*dry, *produced[:-1]]:
        assert LINE_ERROR.match(line), line
        assert "None" not in line
    assert len(dry) == 3
    assert len(produced) == 4  # three errors, then the summary
    assert any("got null" in x for x in dry)


@pytest.mark.parametrize("command", ["dry-run", "produce"])
def test_an_empty_input_file_warns(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    argv = (
        ["dry-run", "--reference", str(MONTH / "reference.jsonl"), str(empty)]
        if command == "dry-run"
        else ["produce", "--dry-run", str(empty)]
    )
    assert main(argv) == 0
    assert "empty.jsonl: no records (the file is empty)" in capsys.readouterr().err


def test_produce_takes_the_dry_run_line_format_reference_data_included(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [str(MONTH / "reference.jsonl"), str(MONTH / "events.jsonl")]
    assert main(["dry-run", "--reference", *files]) == 0
    capsys.readouterr()
    assert main(["produce", "--dry-run", "--progress", "never", *files]) == 0
    err = capsys.readouterr().err
    assert "rejected" in err
    assert " 0 rejected" in err
    assert "pm.projects" in err
    assert "pm.time-entries" in err


def test_produce_lines_must_agree_with_topic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = (MONTH / "reference.jsonl").read_text().splitlines()[0]
    topic = json.loads(first)["topic"]
    path = tmp_path / "one.jsonl"
    path.write_text(first + "\n" + json.dumps(json.loads(first)["value"]) + "\n")
    other = "pm.time-entries" if topic != "pm.time-entries" else "pm.expenses"
    assert main(["produce", "--dry-run", "--topic", other, str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:1:2: topic: the line is for {topic}, --topic says {other}" in err
    assert main(["produce", "--dry-run", str(path)]) == 1
    assert f"{path}:2:1: a bare event needs --topic" in capsys.readouterr().err
    assert main(["produce", "--dry-run", "--topic", topic, str(path)]) == 0


def test_produce_accepts_a_tombstone_line(tmp_path: Path) -> None:
    path = tmp_path / "delete.jsonl"
    path.write_text('{"topic": "pm.invoices", "key": "INV-1", "value": null}\n')
    assert main(["produce", "--dry-run", str(path)]) == 0
    path.write_text('{"topic": "pm.invoices", "value": null}\n')
    assert main(["produce", "--dry-run", str(path)]) == 1
