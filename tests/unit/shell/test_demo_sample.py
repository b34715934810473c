from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.demo import sample
from streams.demo.month import mixed_month
from streams.demo.runner import (
    EVENTS_CONSUMED,
    PARKED_RECORDS,
    DemoSummary,
    Settled,
    consumption,
    is_balanced,
    publish,
    summary_json,
)
from streams.domain.posting import EVENT_TOPICS


def test_the_sample_stream_is_deterministic_and_marks_its_broken_records() -> None:
    first = list(sample.time_entries(1000))
    assert first == list(sample.time_entries(1000))
    broken = [r for r in first if r.expect_dead_letter]
    assert [r.key for r in broken] == ["TE-0000500"]
    assert {r.corruption for r in broken} <= {None, "bad_magic", "truncate"}
    waiting = next(r for r in first if r.key == "TE-0001000")  # parked, not dead-lettered
    assert waiting.value is not None
    assert waiting.value["project_id"] == "P-404"


def test_the_sample_organisation_spans_three_currencies_and_intercompany_work() -> None:
    assert {e["base_currency"] for e in sample.ENTITIES} == {"USD", "EUR", "JPY"}
    entries = [r.value for r in sample.time_entries(2000) if r.value]
    employees = {e["employee_id"]: e["entity_id"] for e in sample.EMPLOYEES}
    projects = {p["project_id"]: p["entity_id"] for p in sample.PROJECTS}
    assert any(employees[e["employee_id"]] != projects.get(e["project_id"]) for e in entries)
    assert any(not e["billable"] for e in entries)


def test_is_balanced_checks_both_currencies_independently() -> None:
    line = {"side": "DEBIT", "amount": Decimal("1.00"), "base_amount": Decimal("1.08")}
    credit = {"side": "CREDIT", "amount": Decimal("1.00"), "base_amount": Decimal("1.08")}
    assert is_balanced({"lines": [line, credit]})
    assert not is_balanced({"lines": [line, credit | {"base_amount": Decimal("1.07")}]})
    assert not is_balanced({"lines": [line, credit | {"amount": Decimal("0.99")}]})


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    def send(self, topic: str, key: bytes, value: bytes | None) -> None:
        self.sent.append((topic, key, value))


class _Settings:
    def topic(self, name: str) -> str:
        return f"demo.{name}"


def test_publish_writes_each_record_with_its_schema_version_and_counts_per_topic() -> None:
    codec = AvroCodec(SchemaCatalog.from_directory(Path(__file__).resolve().parents[3] / "schemas"))
    month = mixed_month()
    producer = _Producer()
    counts = publish(producer, codec, _Settings(), month.events)  # type: ignore[arg-type]
    assert counts == Counter(month.counts())
    assert sum(counts.values()) == len(producer.sent) == len(month.events)
    versions = Counter(
        (topic, codec.decode(topic.removeprefix("demo."), value).version)
        for topic, _, value in producer.sent
        if value is not None
    )
    assert versions[("demo.pm.time-entries", 1)] == 1
    assert versions[("demo.pm.expenses", 1)] == 1
    tombstones = [key for _, key, value in producer.sent if value is None]
    assert tombstones == [r.key.encode() for r in month.events if r.value is None]
    assert len(tombstones) == 1


def test_the_summary_counts_per_topic_and_does_not_wait_for_unconsumed_topics() -> None:
    samples = {
        (EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.time-entries"))): 7.0,
        (EVENTS_CONSUMED, (("outcome", "held"), ("topic", "pm.time-entries"))): 2.0,
        (EVENTS_CONSUMED, (("outcome", "synthetic"), ("topic", "pm.time-entries"))): 40.0,
        (EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.expenses"))): 0.0,
        (EVENTS_CONSUMED, (("outcome", "loaded"), ("topic", "ref.entities"))): 3.0,
        ("ledgerstream_commands_total", (("action", "POST"),)): 9.0,
    }
    consumed = consumption(samples, EVENT_TOPICS)
    assert consumed == {"pm.time-entries": {"posted": 7.0, "held": 2.0}, "pm.expenses": {}}
    summary = DemoSummary()
    summary.count_in(Counter({"pm.time-entries": 9, "pm.expenses": 2, "pm.invoices": 1}))
    summary.count_in(Counter({"pm.time-entries": 1}))
    summary.not_consumed = sorted(set(summary.events_in_by_topic) - set(consumed))
    assert summary.events_in == 13
    assert summary.not_consumed == ["pm.invoices"]
    summary.count_processed(samples)
    assert (summary.processed, summary.held, summary.parked) == (9, 2, 0)
    assert not summary.caught_up()  # 9 of 10 time entries, 0 of 2 expenses
    samples[(EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.time-entries")))] = 8.0
    samples[(EVENTS_CONSUMED, (("outcome", "held"), ("topic", "pm.expenses")))] = 2.0
    summary.count_processed(samples)
    assert summary.caught_up()  # the invoice waits in Kafka: not consumed, not waited for
    line = json.loads(summary_json(summary))
    assert line["events_in_by_topic"] == {"pm.expenses": 2, "pm.invoices": 1, "pm.time-entries": 10}
    assert line["processed_by_topic"] == {"pm.expenses": 2, "pm.time-entries": 10}
    assert (line["events_in"], line["processed"], line["not_consumed"]) == (13, 12, ["pm.invoices"])


def test_a_parked_record_is_not_processed_until_it_ends() -> None:
    posted = (EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.invoices")))
    parked = (EVENTS_CONSUMED, (("outcome", "parked"), ("topic", "pm.invoices")))
    summary = DemoSummary()
    summary.count_in(Counter({"pm.invoices": 2}))
    # one invoice posted, the other parked three times (each retry counts) and still waits
    summary.count_processed({posted: 1.0, parked: 3.0, (PARKED_RECORDS, ()): 1.0})
    assert (summary.processed, summary.parked) == (1, 1)
    assert summary.caught_up()  # every record ended or waits in the worker
    summary.count_processed({posted: 2.0, parked: 3.0, (PARKED_RECORDS, ()): 0.0})
    assert (summary.processed_by_topic, summary.parked) == ({"pm.invoices": 2}, 0)


def test_extra_counts_on_one_topic_do_not_hide_missing_ones_on_another() -> None:
    summary = DemoSummary()
    summary.count_in(Counter({"pm.time-entries": 10, "pm.invoices": 2}))
    redelivered = (EVENTS_CONSUMED, (("outcome", "skipped"), ("topic", "pm.time-entries")))
    summary.count_processed(
        {
            (EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.time-entries"))): 10.0,
            redelivered: 5.0,
            (EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.invoices"))): 1.0,
        }
    )
    assert summary.processed == 16 > summary.events_in
    assert not summary.caught_up()  # an invoice has not ended yet


def test_once_gives_parked_records_a_grace_period_then_stops() -> None:
    summary = DemoSummary()
    summary.count_in(Counter({"pm.invoices": 2}))
    posted = (EVENTS_CONSUMED, (("outcome", "posted"), ("topic", "pm.invoices")))
    settled = Settled(10.0)
    summary.count_processed({posted: 1.0})
    assert not settled(summary, 0.0)  # one invoice in flight
    summary.count_processed({posted: 1.0, (PARKED_RECORDS, ()): 1.0})
    assert not settled.waiting
    assert not settled(summary, 1.0)  # parked: wait for it to post
    assert settled.waiting
    assert not settled(summary, 10.5)
    assert settled(summary, 11.0)  # still parked after the grace period: report it, stop
    summary.count_processed({posted: 2.0, (PARKED_RECORDS, ()): 0.0})
    assert settled(summary, 11.1)
    assert Settled(10.0)(summary, 0.0)  # nothing parked: at once
