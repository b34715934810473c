"""The demo's month-end close: shown once every command of the month has been read back."""

from __future__ import annotations

import io
from pathlib import Path

from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.demo.close import MonthEndClose
from streams.demo.month import mixed_month
from streams.dryrun import dry_run
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_close_waits_for_the_whole_month_then_shows_one_allocation_and_one_consolidation() -> (
    None
):
    settings = Settings(rule_version="2026.12.1")
    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    run = dry_run(
        ROOT / "examples/month/reference.jsonl",
        ROOT / "examples/month/events.jsonl",
        catalog=catalog,
        rule_version=settings.rule_version,
    )
    closer = MonthEndClose(mixed_month(), AvroCodec(catalog), settings)
    assert closer.expected == len(run.commands) == 191
    for command in run.commands[:-1]:
        closer.see(command.model_dump())
    closer.see({"entity_id": "US01"})  # another organisation's command: not the month's
    assert not closer.complete
    closer.see(run.commands[-1].model_dump())
    assert closer.complete
    out = io.StringIO()
    closer.show(out)
    closer.show(out)  # once
    text = out.getvalue()
    assert text.count("month-end close 2026-09") == 1
    assert "allocation GB10-SHARED v1 GB10 2026-09: pool 6100 44.36 GBP" in text
    assert "1 elimination(s), 0 exception(s)" in text
    assert "Dr 2400 1478.60 Cr 1200 1465.42 Cr 3900 13.18 USD" in text
