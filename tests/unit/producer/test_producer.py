"""The producer toolkit: precise rejections, wire format, stable keys, traceparent, files."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.cli import main
from streams.domain.events import TimeEntryRecorded
from streams.producer import (
    EventBuilder,
    EventProducer,
    EventRejectedError,
    Progress,
    build_event,
    is_traceparent,
    new_traceparent,
    produce_file,
)
from tests.unit.adapters.avro_support import SCHEMAS_DIR, latest_case

TIME = "pm.time-entries"
CATALOG = SchemaCatalog.from_directory(SCHEMAS_DIR)


def entry(**overrides: Any) -> dict[str, Any]:
    """A current (v2) time entry in JSON form."""
    return copy.deepcopy(latest_case(TIME).record) | overrides


def expense(**overrides: Any) -> dict[str, Any]:
    return copy.deepcopy(latest_case("pm.expenses").record) | overrides


class FakeKafka:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.flushed = 0

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any = ()) -> None:
        self.sent.append((topic, key, value, list(headers)))

    def flush(self, timeout: float = 30.0) -> None:
        self.flushed += 1


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> tuple[EventProducer, FakeKafka]:
    fake = FakeKafka()
    made = EventProducer({"bootstrap.servers": "127.0.0.1:9"}, catalog=CATALOG, topic_prefix="t.")
    monkeypatch.setattr(made, "_producer", fake)
    return made, fake


def test_a_json_form_event_is_validated_into_the_model_and_keyed_by_its_id() -> None:
    event = build_event(TIME, entry(), json_form=True, catalog=CATALOG)
    assert isinstance(event.model, TimeEntryRecorded)
    assert (event.key, event.version) == ("TE-6001", 2)
    assert event.model.duration_minutes == 95


def test_python_values_and_models_are_accepted_too() -> None:
    event = build_event(TIME, entry(), json_form=True, catalog=CATALOG)
    again = build_event(TIME, event.model, catalog=CATALOG)
    from_python = build_event(TIME, dict(event.record), catalog=CATALOG)
    assert again.record == from_python.record == event.record
    fx = build_event(
        "ref.fx-rates",
        {
            "from_currency": "EUR",
            "to_currency": "USD",
            "rate_date": "2026-03-02",
            "rate": Decimal("1.0790"),
            "rate_type": "SPOT",
            "source": "ECB",
            "quoted_at": datetime(2026, 3, 2, 16, tzinfo=UTC),
        },
        catalog=CATALOG,
    )
    assert fx.key == "EUR/USD/2026-03-02/SPOT"


@pytest.mark.parametrize(
    ("topic", "data", "field", "reason"),
    [
        (TIME, entry(duration_minutes=95), "duration_minutes", "it was a field of v1 only"),
        (TIME, entry(ended_att="x"), "ended_att", "did you mean 'ended_at'?"),
        (TIME, entry(ended_at="2026-03-09T07:00:00.000+00:00"), "ended_at", "must not be before"),
        (TIME, entry(ended_at=None), "ended_at", "is required (null is not allowed)"),
        (TIME, entry(rate_override=150.5), "rate_override", "expected decimal string, got 150.5"),
        (TIME, entry(started_at="2026-03-09T08:00:00"), "started_at", "expected ISO-8601"),
        (TIME, {k: v for k, v in entry().items() if k != "employee_id"}, "employee_id", "required"),
        ("pm.expenses", expense(currency="XXY"), "currency", "unknown currency XXY"),
        ("pm.expenses", expense(markup_rate=None), "markup_rate", "is required"),
        ("pm.expenses", expense(category="GIFTS"), "category", "expected one of TRAVEL"),
    ],
)
def test_invalid_events_are_rejected_naming_the_field_and_the_reason(
    topic: str, data: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(EventRejectedError) as error:
        build_event(topic, data, json_form=True, catalog=CATALOG)
    assert error.value.field == field
    assert reason in error.value.reason
    assert str(error.value).startswith(f"{topic}: {field}: ")


def test_unknown_topics_and_wrong_models_are_rejected() -> None:
    with pytest.raises(EventRejectedError, match="not a topic producers write"):
        build_event("acct.ledger-commands", {}, catalog=CATALOG)
    model = build_event(TIME, entry(), json_form=True, catalog=CATALOG).model
    with pytest.raises(EventRejectedError, match="expected a ExpenseRecorded"):
        build_event("pm.expenses", model, catalog=CATALOG)


def test_send_serialises_in_wire_format_with_key_and_traceparent(
    producer: tuple[EventProducer, FakeKafka],
) -> None:
    made, fake = producer
    sent = made.send(TIME, entry(), json_form=True)
    topic, key, value, headers = fake.sent[0]
    assert (topic, key) == ("t.pm.time-entries", b"TE-6001")
    assert value is not None
    assert value[0] == 0
    assert int.from_bytes(value[1:5], "big") == CATALOG.latest(TIME).schema_id == sent.schema_id
    decoded = AvroCodec(CATALOG).decode(TIME, value)
    assert decoded.record["external_id"] == "JIRA-WL-88121"
    assert headers == [("traceparent", sent.traceparent.encode())]
    assert is_traceparent(sent.traceparent)


def test_a_given_traceparent_is_kept_and_a_bad_one_rejected(
    producer: tuple[EventProducer, FakeKafka],
) -> None:
    made, fake = producer
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert made.send(TIME, entry(), json_form=True, traceparent=given).traceparent == given
    with pytest.raises(EventRejectedError) as error:
        made.send(TIME, entry(), json_form=True, traceparent="00-abc-01")
    assert error.value.field == "traceparent"
    assert len(fake.sent) == 1


def test_the_current_opentelemetry_span_is_propagated() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("publish") as span:
        context = span.get_span_context()
        flags = int(context.trace_flags)
        assert new_traceparent() == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert new_traceparent() != new_traceparent()  # outside a span: a new trace each time


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_publishes_good_lines_and_reports_bad_ones_by_line_and_field(
    tmp_path: Path, producer: tuple[EventProducer, FakeKafka]
) -> None:
    made, fake = producer
    good = [json.dumps(entry(entry_id=f"TE-{n}")) for n in range(3)]
    path = write_lines(
        tmp_path / "entries.jsonl",
        [
            good[0],
            json.dumps(entry(ended_at="2026-03-09T07:00:00.000+00:00")),
            "",
            good[1],
            "{not json",
            json.dumps([1, 2]),
            json.dumps(entry(duration_minutes=60)),
            good[2],
        ],
    )
    seen: list[str] = []
    bar = io.StringIO()

    summary = produce_file(
        path,
        TIME,
        made,
        builder=EventBuilder(CATALOG),
        on_error=lambda e: seen.append(str(e)),
        progress=Progress(path.stat().st_size, bar),
    )

    assert [key for _, key, _, _ in fake.sent] == [b"TE-0", b"TE-1", b"TE-2"]
    assert fake.flushed == 1
    assert [(e.line, e.field) for e in summary.errors] == [
        (2, "ended_at"),
        (5, None),
        (6, None),
        (7, "duration_minutes"),
    ]
    assert seen[0].startswith(f"{path}:2:158: ended_at: must not be before started_at")
    assert seen[0].endswith("[EVENT_REJECTED]")
    assert f"{path}:5:" in seen[1]
    assert "not valid JSON" in seen[1]
    assert seen[1].endswith("[INVALID_JSON]")
    assert (summary.lines, summary.published) == (7, 3)
    assert str(summary).startswith("pm.time-entries: 3 published, 4 rejected, 7 lines in ")
    assert bar.getvalue().endswith("\n")
    assert "[" + "#" * 30 + "] 100% 7 lines, 3 ok, 4 rejected" in bar.getvalue()


def test_the_cli_dry_run_reports_each_bad_line_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(
        tmp_path / "e.jsonl", [json.dumps(entry()), json.dumps(entry(billable="yes"))]
    )
    code = main(["produce", "--topic", TIME, str(path), "--dry-run", "--progress", "never"])
    err = capsys.readouterr().err
    assert code == 1
    assert f'{path}:2:203: billable: expected boolean, got "yes" [EVENT_REJECTED]' in err
    assert "pm.time-entries: 1 valid (dry run, nothing sent), 1 rejected, 2 lines" in err
