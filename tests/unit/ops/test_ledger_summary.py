"""Stage 2 at sync cadence SUMMARY: windows in the table, flushed as summaries, corrected.

The golden numbers of tests/unit/domain/test_summary_cadence.py, through the stage
over its store, across a restart between the posts and the flush.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.metrics import Metrics
from streams.agents.ledger import FEEDBACK_TOPIC, LedgerStage
from streams.agents.runtime import Output, Runtime
from streams.domain.toggles import Toggles
from tests.unit.domain.builders import RULE_VERSION, standard_book, time_entry
from tests.unit.ops.test_ledger_stage import Harness

D = Decimal
COMMANDS = "acct.ledger-commands"


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SchemaCatalog.from_directory(Path("schemas")))


def summary_stage(harness: Harness, rows: dict[bytes, bytes] | None = None) -> LedgerStage:
    harness.stage = LedgerStage(
        harness.rt, policy=harness.policy, summary_entities=frozenset({"US"})
    )
    harness.stage.load(0, rows if rows is not None else {})
    return harness.stage


def flush(harness: Harness) -> list[Output]:
    outputs, writes = harness.stage.flush([0])
    harness.stage.apply(writes)
    return outputs


def nets(command: dict[str, object]) -> list[tuple[str, str, Decimal]]:
    return [(ln["account"], ln["side"], ln["amount"]) for ln in command["lines"]]  # type: ignore[attr-defined,index]


def test_a_summary_entity_posts_one_summary_per_window_and_corrects_it(codec: AvroCodec) -> None:
    harness = Harness(codec, standard_book())
    summary_stage(harness)

    posted = harness.post(time_entry(), time_entry(entry_id="TE-2", duration_minutes=60))
    assert harness.commands(posted) == []  # nothing per record reaches the sink
    assert FEEDBACK_TOPIC in harness.topics(posted)  # the project system still hears

    summary_stage(harness, dict(harness.store))  # a restart: windows come back from the table
    (summary,) = harness.commands(flush(harness))
    assert summary["journal"] == "SUMMARY"
    assert summary["related_source_ids"] == ["TE-1", "TE-2"]
    assert nets(summary) == [
        ("1150", "DEBIT", D("337.5000")),
        ("2150", "CREDIT", D("180.0000")),
        ("4000", "CREDIT", D("337.5000")),
        ("5000", "DEBIT", D("180.0000")),
    ]
    assert flush(harness) == []  # unchanged: nothing more

    harness.post(time_entry(version=2, duration_minutes=60))
    reversal, second = harness.commands(flush(harness))
    assert (reversal["action"], reversal["reverses"]) == ("REVERSE", summary["command_id"])
    assert second["action"] == "POST"
    assert nets(second)[0] == ("1150", "DEBIT", D("300.0000"))


def test_realtime_entities_are_untouched(codec: AvroCodec) -> None:
    harness = Harness(codec, standard_book())
    harness.stage = LedgerStage(
        Runtime(codec=codec, book=standard_book(), metrics=Metrics(), rule_version=RULE_VERSION),
        summary_entities=frozenset({"GB10"}),
    )
    harness.stage.load(0, {})
    assert len(harness.commands(harness.post(time_entry()))) == 2
    assert flush(harness) == []


def test_a_summary_of_a_closed_period_posts_into_the_next_open_one(codec: AvroCodec) -> None:
    harness = Harness(codec, standard_book())
    summary_stage(harness)
    harness.rt.set_toggles(Toggles(closed_periods=frozenset({("US", "2026-03")})))
    harness.post(time_entry())
    (summary,) = harness.commands(flush(harness))
    assert (summary["period"], summary["late_for_period"]) == ("2026-04", "2026-03")
    assert summary["effective_date"].isoformat() == "2026-03-31"


def test_windows_held_before_the_cadence_became_realtime_are_still_sent(
    codec: AvroCodec,
) -> None:
    harness = Harness(codec, standard_book())
    summary_stage(harness)
    harness.post(time_entry())
    rows = dict(harness.store)
    harness.stage = LedgerStage(harness.rt, policy=harness.policy)  # US is REALTIME now
    harness.stage.load(0, rows)
    (summary,) = harness.commands(flush(harness))
    assert summary["related_source_ids"] == ["TE-1"]
    assert flush(harness) == []
