"""`ledgerstream produce` on a real broker: good lines published, bad ones reported by line."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.cli import main
from streams.producer import is_traceparent
from tests.integration.conftest import Stack
from tests.unit.adapters.avro_support import SCHEMAS_DIR, latest_case

pytestmark = pytest.mark.integration

TOPIC = "pm.expenses"


def expense(**overrides: object) -> dict[str, object]:
    return copy.deepcopy(latest_case(TOPIC).record) | overrides


def test_produce_publishes_the_good_lines_and_reports_each_bad_one(
    stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "expenses.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(expense(expense_id="EX-1")),
                json.dumps(expense(expense_id="EX-2", amount=12.5)),
                json.dumps(expense(expense_id="EX-3", category="TRAINING", version=2)),
                '{"expense_id": "EX-4",',
                json.dumps(expense(expense_id="EX-5", description="old field")),
                json.dumps(expense(expense_id="EX-6", markup_rate=None)),
                json.dumps(expense(expense_id="EX-7", currency="EUR")),
            ]
        )
        + "\n"
    )
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.settings.kafka_bootstrap_servers or "")
    monkeypatch.setenv("LEDGERSTREAM_TOPIC_PREFIX", stack.settings.topic_prefix)

    code = main(["produce", "--topic", TOPIC, str(path), "--progress", "always"])

    err = capsys.readouterr().err
    assert code == 1  # some lines were rejected
    # FILE:LINE:COLUMN: field: reason [CODE]
    assert re.search(
        rf"{re.escape(str(path))}:2:\d+: amount: expected decimal string, got 12.5", err
    )
    assert re.search(rf"{re.escape(str(path))}:4:\d+: not valid JSON: .* \[INVALID_JSON\]", err)
    assert re.search(
        rf"{re.escape(str(path))}:5:\d+: description: unknown field \(it was a field of v1 only",
        err,
    )
    assert re.search(
        rf"{re.escape(str(path))}:6:\d+: markup_rate: is required \(null is not allowed\)", err
    )
    assert "] 100% 7 lines, 3 ok, 4 rejected" in err  # the progress bar's last state
    assert "pm.expenses: 3 published, 4 rejected, 7 lines" in err

    records = stack.read(TOPIC)
    assert sorted(r.key or b"" for r in records) == [b"EX-1", b"EX-3", b"EX-7"]
    catalog = SchemaCatalog.from_directory(SCHEMAS_DIR)
    codec = AvroCodec(catalog)
    for record in records:
        decoded = codec.decode(TOPIC, record.value)
        assert decoded.version == catalog.latest(TOPIC).version
        assert decoded.record["expense_id"].encode() == record.key
        headers = dict(record.headers)
        assert is_traceparent((headers["traceparent"] or b"").decode())


def test_produce_publishes_the_files_a_dry_run_posts_reference_data_included(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`{"topic", ["schema_version",] "value"}` lines, several topics, in one command."""
    month = Path(__file__).resolve().parents[2] / "examples" / "month"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.settings.kafka_bootstrap_servers or "")
    monkeypatch.setenv("LEDGERSTREAM_TOPIC_PREFIX", stack.settings.topic_prefix)
    files = [str(month / "reference.jsonl"), str(month / "events.jsonl")]

    code = main(["produce", "--progress", "never", *files])

    err = capsys.readouterr().err
    assert code == 0, err
    lines = [json.loads(x) for f in files for x in Path(f).read_text().splitlines() if x.strip()]
    for topic in ("pm.projects", "ref.fx-rates", "pm.invoices", "pm.time-entries"):
        wanted = sum(1 for x in lines if x["topic"] == topic)
        assert wanted > 0
        assert len(stack.read(topic, idle=1.0)) == wanted, topic
