"""Stage 2 over an in-memory store: the same postings as the pure rules, parking, pause, remap.

The store here is a dict of the bytes the worker's Faust table would hold; every
batch's writes go through ``LedgerStage.apply`` as in a worker, and a fresh stage
over the same store stands for a restarted worker that recovered its table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.avro.codec import DecodedRecord
from streams.adapters.dlq import SourceRecord
from streams.adapters.exceptions import RegistryUnavailableError
from streams.adapters.metrics import Metrics, Outcome
from streams.adapters.parking import decode_queue
from streams.agents.ledger import FEEDBACK_TOPIC, LedgerStage, ParkingPolicy
from streams.agents.route import LEDGER_TOPIC, RELOCATED, forward, handle_route
from streams.agents.runtime import Output, Runtime
from streams.domain.commands import PostLedgerEntry
from streams.domain.posting import SourceEvent, identity
from streams.domain.reference import ReferenceBook
from streams.domain.routing import ledger_key
from streams.domain.toggles import Toggles
from tests.unit.domain.billing_builders import TOPICS, Books, credit_memo, expense, invoice, line
from tests.unit.domain.billing_builders import payment as payment_event
from tests.unit.domain.builders import (
    RULE_VERSION,
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    standard_book,
    time_entry,
)

D = Decimal
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SchemaCatalog.from_directory(Path("schemas")))


class Harness:
    """A stage over a dict store, fed Avro records as stage 1 would forward them."""

    def __init__(self, codec: AvroCodec, book: ReferenceBook, **policy: timedelta) -> None:
        self.codec = codec
        self.now = START
        self.rt = Runtime(codec=codec, book=book, metrics=Metrics(), rule_version=RULE_VERSION)
        self.policy = ParkingPolicy(**policy)
        self.offset = 0
        self.stage = LedgerStage(self.rt, policy=self.policy, clock=lambda: self.now)
        self.stage.load(0, {})

    @property
    def store(self) -> dict[bytes, bytes]:
        return self.stage.rows(0)

    def restart(self) -> LedgerStage:
        """A new worker taking partition 0 over: it reads the table back from its rows."""
        rows = dict(self.store)
        self.stage = LedgerStage(self.rt, policy=self.policy, clock=lambda: self.now)
        self.stage.load(0, rows)
        return self.stage

    def record(self, event: SourceEvent, key: str | None = None) -> SourceRecord:
        """The record stage 1 forwards (under ``key``, by default the event's ledger key)."""
        kind, source_id, _ = identity(event)
        if key is None:
            key = ledger_key(event, self.rt.current_book)
        topic = TOPICS[kind]
        self.offset += 1
        original = SourceRecord(
            topic,
            0,
            self.offset,
            source_id.encode(),
            self.codec.encode(topic, event.model_dump()),
            (),
        )
        sent = forward(self.rt, original, key.encode())
        return SourceRecord(LEDGER_TOPIC, 0, self.offset, sent.key, sent.value, sent.headers)

    def run(self, *records: SourceRecord) -> list[Output]:
        outputs, writes = self.stage.run((0, r) for r in records)
        self.stage.apply(writes)
        return outputs

    def post(self, *events: SourceEvent) -> list[Output]:
        return self.run(*(self.record(e) for e in events))

    def retry(self, *, wake: bool = False) -> list[Output]:
        outputs, writes = self.stage.retry([0], wake=wake)
        self.stage.apply(writes)
        return outputs

    def commands(self, outputs: list[Output]) -> list[dict[str, Any]]:
        return [
            self.codec.decode("acct.ledger-commands", o.value).record
            for o in outputs
            if o.topic == "acct.ledger-commands" and o.value is not None
        ]

    def topics(self, outputs: list[Output]) -> list[str]:
        return [o.topic for o in outputs]


def essence(command: dict[str, Any] | PostLedgerEntry) -> tuple[Any, ...]:
    data = command.model_dump() if isinstance(command, PostLedgerEntry) else command
    return (
        data["command_id"],
        str(data["action"]),
        [(ln["account"], str(ln["side"]), ln["amount"], ln["base_amount"]) for ln in data["lines"]],
    )


def scenario() -> list[SourceEvent]:
    """Entries, an expense, an invoice billing them, a payment, an edit and a credit memo."""
    return [
        time_entry(),
        time_entry(entry_id="TE-2", duration_minutes=120),
        expense(),
        invoice(
            lines=[
                line(1, amount=D("187.50"), time_entry_ids=["TE-1"]),
                line(
                    2, amount=D("300.00"), time_entry_ids=["TE-2"], tax_code="S", tax_rate=D("0.2")
                ),
                line(3, kind="EXPENSE", amount=D("220.00"), expense_ids=["EX-1"]),
            ]
        ),
        payment_event(amount=D("100.00")),
        time_entry(entry_id="TE-3"),
        time_entry(entry_id="TE-3", version=2, duration_minutes=60),
        credit_memo(credited_line_nos=[2]),
        time_entry(entry_id="TE-3", version=2, duration_minutes=60),  # a redelivery
    ]


def test_stage_two_posts_exactly_what_the_pure_rules_post_one_batch_or_many(
    codec: AvroCodec,
) -> None:
    books = Books(standard_book())
    for event in scenario():
        books.post(event)
    expected = [essence(c) for c in books.commands]
    assert len(expected) >= 14

    one_batch = Harness(codec, standard_book())
    assert [essence(c) for c in one_batch.commands(one_batch.post(*scenario()))] == expected

    # event by event, with a "restart" (a fresh stage over the recovered store) each time
    many = Harness(codec, standard_book())
    seen: list[tuple[Any, ...]] = []
    for event in scenario():
        seen += [essence(c) for c in many.commands(many.post(event))]
        many.restart()
    assert seen == expected
    assert one_batch.store == many.store


def test_a_redelivered_batch_after_its_writes_sends_nothing_and_before_them_the_same_ids(
    codec: AvroCodec,
) -> None:
    h = Harness(codec, standard_book())
    records = [h.record(e) for e in scenario()[:4]]
    outputs, writes = h.stage.run((0, r) for r in records)
    first = h.commands(outputs)
    # crash before the writes: the store never heard of the batch; the same ids again
    h.restart()
    assert h.commands(h.run(*records)) == first
    # crash after the writes: the batch is posted; redelivered, it sends nothing
    h.restart()
    assert h.commands(h.run(*records)) == []
    del writes


def test_sync_feedback_says_posted_and_released(codec: AvroCodec) -> None:
    h = Harness(codec, standard_book())
    h.post(*scenario()[:4])
    outputs = h.post(credit_memo(credited_line_nos=[1]))
    feedback = [
        codec.decode(FEEDBACK_TOPIC, o.value).record
        for o in outputs
        if o.topic == FEEDBACK_TOPIC and o.value is not None
    ]
    assert [(f["source_id"], f["status"]) for f in feedback] == [
        ("CM-1", "POSTED"),
        ("TE-1", "RELEASED"),
    ]


def test_a_record_waiting_for_its_project_parks_in_order_and_posts_when_it_arrives(
    codec: AvroCodec,
) -> None:
    book = standard_book()
    h = Harness(codec, book)
    late = project(project_id="P-LATE")
    v1 = time_entry(entry_id="TE-9", project_id="P-LATE")
    v2 = time_entry(entry_id="TE-9", project_id="P-LATE", version=2, duration_minutes=60)
    # stage 1 could not route them (no project): they arrive under their own key
    assert h.run(h.record(v1, key="TE-9"), h.record(v2, key="TE-9")) == []
    assert h.stage.parked() == {0: {"time_entry:TE-9"}}
    assert h.retry(wake=True) == []  # still missing: stays parked
    book.put("P-LATE", late)
    forwarded = h.retry(wake=True)
    # routed again, in order, to the entity's ledger; nothing posted from the wrong partition
    assert [(o.topic, o.key) for o in forwarded] == [(LEDGER_TOPIC, b"US/customer/C-1")] * 2
    assert h.stage.parked() == {0: set()}
    records = [
        SourceRecord(LEDGER_TOPIC, 0, 90 + i, o.key, o.value, o.headers)
        for i, o in enumerate(forwarded)
    ]
    commands = h.commands(h.run(*records))
    assert [c["action"] for c in commands] == ["POST", "POST", "REVERSE", "REVERSE", "POST", "POST"]
    assert {c["source"]["offset"] for c in commands} == {1, 2}  # provenance: the original offsets


def test_a_missing_rate_is_retried_with_backoff_then_dead_lettered_after_the_deadline(
    codec: AvroCodec,
) -> None:
    book = standard_book()
    h = Harness(
        codec,
        book,
        deadline=timedelta(minutes=10),
        first_retry=timedelta(seconds=30),
        max_retry=timedelta(minutes=4),
    )
    eur = invoice(
        invoice_id="INV-EUR",
        currency="EUR",
        issued_on=date(2026, 7, 1),
        lines=[line(1, kind="FIXED_FEE", amount=D("100.00"))],
    )
    assert h.post(eur) == []
    retries = []
    while True:
        h.now += timedelta(seconds=10)
        outputs = h.retry()
        if outputs:
            break
        retries.append(h.now)
        assert h.now < START + timedelta(minutes=11)
    (letter,) = outputs
    envelope = codec.decode("ledgerstream.dlq", letter.value).record
    assert envelope["error_code"] == "MISSING_FX_RATE"
    assert envelope["retryable"] is True
    # tried at 30 s, 60 s, 120 s, 240 s, 240 s after each failure: 6 attempts by 10 min
    assert envelope["attempts"] == 6
    assert envelope["first_failed_at"] == START
    assert envelope["source_topic"] == "pm.invoices"
    assert h.stage.parked() == {0: set()}
    del retries


def test_a_rate_that_arrives_in_time_posts_the_parked_invoice(codec: AvroCodec) -> None:
    book = standard_book()
    h = Harness(codec, book)
    eur = invoice(
        invoice_id="INV-EUR",
        currency="EUR",
        issued_on=date(2026, 7, 1),
        lines=[line(1, kind="FIXED_FEE", amount=D("100.00"))],
    )
    h.post(eur)
    book.put("EUR/USD/2026-07-01/SPOT", spot("EUR", "USD", "1.1000", date(2026, 7, 1)))
    (command,) = h.commands(h.retry(wake=True))
    # 100.00 EUR x 1.1000 = 110.00 USD
    assert essence(command)[2][0] == ("1100", "DEBIT", D("100.00"), D("110.00"))


def test_a_paused_entity_holds_its_records_until_resumed_then_posts_each_once(
    codec: AvroCodec,
) -> None:
    h = Harness(codec, standard_book())
    h.rt.set_toggles(Toggles(paused_entities=frozenset({"US"})))
    assert h.post(time_entry(), time_entry(entry_id="TE-2")) == []
    h.now += timedelta(days=30)
    assert h.retry() == []  # paused records never expire and are not retried on a timer
    h.rt.set_toggles(Toggles())
    commands = h.commands(h.retry(wake=True))
    assert len(commands) == 4
    assert h.commands(h.retry(wake=True)) == []


def test_a_replay_under_a_new_rule_version_reposts_only_changed_records(codec: AvroCodec) -> None:
    book = standard_book()
    h = Harness(codec, book)
    events = [time_entry(), expense()]
    first = h.commands(h.post(*events))
    assert h.commands(h.post(*events)) == []  # same rules: a replay posts nothing
    h.rt.rule_version = "time-entry/2"
    assert h.commands(h.post(*events)) == []  # new version, same lines: nothing either
    entity = book.entity("US")
    book.put("US", entity.model_copy(update={"account_overrides": {"5100": "5150"}}))
    again = h.commands(h.post(*events))
    # only the expense's cost command uses 5100: REVERSE the old one, POST the new one
    reversed_ids = [c["reverses"] for c in again if c["action"] == "REVERSE"]
    assert len(reversed_ids) == len(again) // 2
    assert set(reversed_ids) <= {c["command_id"] for c in first}
    assert all(c["source"]["type"] == "expense" for c in again)
    assert any(ln["account"] == "5150" for c in again for ln in c["lines"])


def routed(h: Harness, outputs: list[Output]) -> list[tuple[str, str, str]]:
    """(sink, action, command id) of each command output."""
    found = []
    for o in outputs:
        if "ledger-commands" not in o.topic or o.value is None:
            continue
        command = h.codec.decode("acct.ledger-commands", o.value).record
        sink = "shadow" if o.topic.endswith(".shadow") else "real"
        found.append((sink, command["action"], command["command_id"]))
    return found


def test_a_reversal_goes_where_its_original_went_whatever_the_toggles_say_now(
    codec: AvroCodec,
) -> None:
    h = Harness(codec, standard_book())
    h.rt.set_toggles(Toggles(pilot=True))  # nobody allow-listed: everything shadowed
    first = routed(h, h.post(time_entry()))
    assert [(s, a) for s, a, _ in first] == [("shadow", "POST")] * 2
    h.rt.set_toggles(Toggles())  # pilot over
    second = routed(h, h.post(time_entry(version=2, duration_minutes=60)))
    # the real sink never saw v1: its reversals stay in the shadow, v2 posts for real
    assert [(s, a) for s, a, _ in second] == [
        ("shadow", "REVERSE"),
        ("shadow", "REVERSE"),
        ("real", "POST"),
        ("real", "POST"),
    ]
    h.rt.set_toggles(Toggles(dry_run=True))
    third = routed(h, h.post(time_entry(version=3, duration_minutes=45)))
    # v2 went for real, so the real sink must hear its reversal even under dry-run
    assert [(s, a) for s, a, _ in third] == [
        ("real", "REVERSE"),
        ("real", "REVERSE"),
        ("shadow", "POST"),
        ("shadow", "POST"),
    ]


def test_a_replay_after_dry_run_promotes_the_shadowed_commands_once_with_the_same_ids(
    codec: AvroCodec,
) -> None:
    h = Harness(codec, standard_book())
    h.rt.set_toggles(Toggles(dry_run=True))
    shadowed = routed(h, h.post(time_entry(), expense()))
    assert {s for s, _, _ in shadowed} == {"shadow"}
    h.rt.set_toggles(Toggles())
    promoted = routed(h, h.post(time_entry(), expense()))  # the replay
    assert promoted == [("real", a, cid) for _, a, cid in shadowed]
    assert routed(h, h.post(time_entry(), expense())) == []  # and only once


def written(changelog: dict[bytes, bytes], outputs: list[Output]) -> None:
    """Apply changelog records to a compacted topic's latest values."""
    for out in outputs:
        assert out.key is not None
        if out.value is None:
            changelog.pop(out.key, None)
        else:
            changelog[out.key] = out.value


def test_a_batch_whose_rows_were_half_written_is_restored_whole_from_its_intent(
    codec: AvroCodec,
) -> None:
    h = Harness(codec, standard_book())
    h.post(*scenario()[:2])
    changelog = dict(h.store)
    outputs, writes = h.stage.run((0, h.record(e)) for e in scenario()[2:4])
    intents, rows = LedgerStage.changelog("changelog", writes)
    assert [(o.key, o.partition) for o in intents] == [(b"intent", 0)]
    # the worker died after the intent and half of the rows reached the changelog
    written(changelog, [*intents, *rows[: len(rows) // 2]])
    h.stage.apply(writes)  # what a worker that finished would hold
    complete = dict(h.store)
    assert changelog != complete
    h.stage = LedgerStage(h.rt, policy=h.policy, clock=lambda: h.now)
    restored = h.stage.load(0, dict(changelog))
    assert h.store == complete  # the new owner has the whole batch, not half of it
    assert h.commands(h.post(*scenario()[2:4])) == []  # so it posts nothing twice
    assert h.commands(outputs)  # (the batch did post)

    # it writes the rows it restored, then a batch of its own, whose intent replaces
    # the old one: a third owner must still see the first batch whole
    written(changelog, LedgerStage.changelog("changelog", restored)[1])
    _, more = h.stage.run((0, h.record(e)) for e in scenario()[4:6])
    intents, rows = LedgerStage.changelog("changelog", more)
    written(changelog, [*intents, *rows])
    h.stage.apply(more)
    third = LedgerStage(h.rt, policy=h.policy, clock=lambda: h.now)
    third.load(0, dict(changelog))
    assert third.rows(0) == h.store


def test_a_tombstone_reverses_only_in_the_partition_that_posted_it(codec: AvroCodec) -> None:
    """A deletion reaches every stage-2 partition; the others must not find the record."""
    harness = Harness(codec, standard_book())
    harness.stage.load(1, {})  # this worker owns a second partition, empty
    posted = harness.commands(harness.post(time_entry()))
    deleted = SourceRecord(TOPICS["time_entry"], 0, 99, b"TE-1", None, ())
    copies = [
        SourceRecord(LEDGER_TOPIC, p, 100 + p, o.key, o.value, o.headers)
        for p, o in enumerate(forward(harness.rt, deleted, None, p) for p in (0, 1))
    ]

    outputs, writes = harness.stage.run([(0, copies[0]), (1, copies[1])])
    harness.stage.apply(writes)

    reversals = harness.commands(outputs)
    assert sorted(str(c["action"]) for c in reversals) == ["REVERSE"] * len(posted)
    assert {c["reverses"] for c in reversals} == {c["command_id"] for c in posted}
    assert harness.stage.rows(1) == {}  # nothing written where it was never posted


def consumed(rt: Runtime, topic: str) -> dict[str, float]:
    """``ledgerstream_events_consumed_total`` of one topic, by outcome (zeros left out)."""
    return {
        sample.labels["outcome"]: sample.value
        for family in rt.metrics.events.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["topic"] == topic and sample.value
    }


def test_a_tombstone_read_again_after_a_replay_is_counted_once_as_skipped(
    codec: AvroCodec,
) -> None:
    """Consumed must reach published: a replayed deletion ends (skipped) where it posted."""
    harness = Harness(codec, standard_book())
    harness.stage.load(1, {})  # a second partition, which never saw TE-1
    harness.post(time_entry())
    deleted = SourceRecord(TOPICS["time_entry"], 0, 99, b"TE-1", None, ())

    def copies() -> list[tuple[int, SourceRecord]]:
        sent = (forward(harness.rt, deleted, None, p) for p in (0, 1))
        return [
            (p, SourceRecord(LEDGER_TOPIC, p, 100 + p, o.key, o.value, o.headers))
            for p, o in enumerate(sent)
        ]

    for _ in range(2):  # the deletion, then the same tombstone read again by a replay
        outputs, writes = harness.stage.run(copies())
        harness.stage.apply(writes)

    assert harness.commands(outputs) == []  # reversed once only
    topic = TOPICS["time_entry"]
    assert consumed(harness.rt, topic) == {"posted": 2.0, "skipped": 1.0}
    assert harness.stage.rows(1) == {}


@pytest.mark.parametrize("attempts", [1, 2, 9, 48, 5_000])
def test_the_backoff_doubles_up_to_its_cap_however_many_attempts(attempts: int) -> None:
    """A record retried after every posting batch reaches hundreds of attempts."""
    policy = ParkingPolicy(first_retry=timedelta(seconds=1), max_retry=timedelta(minutes=5))
    delay = policy.next_retry(attempts, START) - START
    assert delay == timedelta(seconds=min(2 ** min(attempts - 1, 20), 300))


class RegistryDown(AvroCodec):
    """A codec whose schema registry cannot be asked about project events while ``down``."""

    down = True

    def decode(self, topic: str, data: bytes | None) -> DecodedRecord:
        if self.down and topic in TOPICS.values():
            raise RegistryUnavailableError("schema registry get_schema failed: ConnectionError")
        return super().decode(topic, data)

    def decode_fields(self, topic: str, data: bytes | None, fields: frozenset[str]) -> Any:
        if self.down and topic in TOPICS.values():  # stage 1 reads its routing fields
            raise RegistryUnavailableError("schema registry get_schema failed: ConnectionError")
        return super().decode_fields(topic, data, fields)


def test_a_transient_decode_failure_waits_in_order_and_posts_when_the_registry_is_back() -> None:
    codec = RegistryDown(SchemaCatalog.from_directory(Path("schemas")))
    h = Harness(codec, standard_book(), first_retry=timedelta(seconds=1))
    v1, v2 = time_entry(), time_entry(version=2, duration_minutes=60)
    assert h.post(v1, v2) == []  # both wait: v2 queued behind v1, nothing dead-lettered
    h.now += timedelta(seconds=5)
    assert h.retry() == []  # still down: retried, still waiting
    codec.down = False
    h.now += timedelta(seconds=5)
    sent = h.commands(h.retry())
    assert [(str(c["action"]), c["source"]["version"]) for c in sent] == [
        ("POST", 1),
        ("POST", 1),
        ("REVERSE", 2),  # reversed by version 2
        ("REVERSE", 2),
        ("POST", 2),
        ("POST", 2),
    ]
    assert h.stage.parked() == {0: set()}


def test_a_registry_down_past_the_deadline_dead_letters_the_record_as_retryable() -> None:
    codec = RegistryDown(SchemaCatalog.from_directory(Path("schemas")))
    h = Harness(codec, standard_book(), deadline=timedelta(minutes=1))
    assert h.post(time_entry()) == []
    h.now += timedelta(minutes=2)
    (letter,) = h.retry()
    codec.down = False
    envelope = codec.decode("ledgerstream.dlq", letter.value).record
    assert (envelope["error_code"], envelope["retryable"]) == ("SCHEMA_REGISTRY_UNAVAILABLE", True)
    assert envelope["attempts"] == 2
    assert envelope["source_topic"] == "pm.time-entries"


def test_stage_one_forwards_a_record_it_cannot_decode_yet_under_its_own_key() -> None:
    codec = RegistryDown(SchemaCatalog.from_directory(Path("schemas")))
    rt = Runtime(codec=codec, book=standard_book(), metrics=Metrics(), rule_version=RULE_VERSION)
    codec.down = False
    value = codec.encode(TOPICS["time_entry"], time_entry().model_dump())
    codec.down = True
    record = SourceRecord(TOPICS["time_entry"], 2, 7, b"TE-1", value, ())

    outcome, (sent,) = handle_route(rt, record, 6)

    assert outcome is Outcome.ROUTED  # not dead-lettered: stage 2 parks it
    assert (sent.topic, sent.key, sent.value) == (LEDGER_TOPIC, b"TE-1", value)


# -- a record whose versions change ledger (issue 16 point 7) -----------------------------


def two_ledgers(codec: AvroCodec, book: ReferenceBook) -> Harness:
    """A stage owning partitions 0 and 1 of a two-partition stage-2 topic."""
    h = Harness(codec, book)
    h.stage = LedgerStage(h.rt, policy=h.policy, clock=lambda: h.now, partitions=2)
    h.stage.load(0, {})
    h.stage.load(1, {})
    return h


def run_at(h: Harness, partition: int, *records: SourceRecord) -> list[Output]:
    outputs, writes = h.stage.run((partition, r) for r in records)
    h.stage.apply(writes)
    return outputs


def notices(outputs: list[Output]) -> list[tuple[int, SourceRecord]]:
    """The relocation notices among outputs, as the partitions they were sent to read them."""
    return [
        (o.partition, SourceRecord(LEDGER_TOPIC, o.partition, 900 + i, o.key, o.value, o.headers))
        for i, o in enumerate(outputs)
        if o.topic == LEDGER_TOPIC and o.partition is not None
    ]


@pytest.mark.parametrize(
    "moved",
    [
        {"entity_id": "US2"},  # the project moves to another entity
        {"customer_id": "C-2"},  # or to another customer (another key since the rekey)
    ],
)
def test_a_project_moved_after_posting_reverses_in_the_old_ledger_and_posts_in_the_new(
    codec: AvroCodec, moved: dict[str, str]
) -> None:
    def books_of() -> ReferenceBook:
        return standard_book(entity(entity_id="US2", name="Example 2"), customer(customer_id="C-2"))

    v1 = time_entry()
    v2 = time_entry(version=2, duration_minutes=60)
    # what one ledger knowing both versions posts: v1, then REVERSE v1 and POST v2
    one = Books(books_of())
    one.post(v1)
    one.book.put("P-100", project(**moved))
    one.post(v2)
    expected = sorted(essence(c) for c in one.commands)

    h = two_ledgers(codec, books_of())
    sent = h.commands(run_at(h, 0, h.record(v1)))
    h.rt.book.put("P-100", project(**moved))
    new = h.record(v2)
    assert new.key != b"US/customer/C-1"
    outputs = run_at(h, 1, new)
    sent += h.commands(outputs)
    ((to, notice),) = notices(outputs)  # to every other partition: here, partition 0
    assert to == 0
    reversed_here = run_at(h, 0, notice)
    sent += h.commands(reversed_here)
    assert sorted(essence(c) for c in sent) == expected
    assert [c["action"] for c in h.commands(reversed_here)] == ["REVERSE", "REVERSE"]
    feedback = [
        codec.decode(FEEDBACK_TOPIC, o.value).record
        for o in reversed_here
        if o.topic == FEEDBACK_TOPIC and o.value is not None
    ]
    assert [(f["status"], f["version"]) for f in feedback] == [("REVERSED", 1)]
    assert "now posts in ledger" in feedback[0]["reason"]
    # the notice again (a redelivery), or a replay of v2: nothing more
    assert h.commands(run_at(h, 0, notice)) == []
    assert h.commands(run_at(h, 1, new)) == []


def moved_while_billed(codec: AvroCodec) -> tuple[Harness, SourceRecord]:
    """TE-1 billed on INV-1 in US/customer/C-1, then v2 posted under US/customer/C-2."""
    h = two_ledgers(codec, standard_book(customer(customer_id="C-2")))
    run_at(h, 0, h.record(time_entry()))
    run_at(h, 0, h.record(invoice(lines=[line(1, amount=D("187.50"), time_entry_ids=["TE-1"])])))
    h.rt.book.put("P-100", project(customer_id="C-2"))
    outputs = run_at(h, 1, h.record(time_entry(version=2, duration_minutes=60)))
    ((_, notice),) = notices(outputs)
    return h, notice


def test_a_moved_entry_billed_in_its_old_ledger_waits_there_until_credited(
    codec: AvroCodec,
) -> None:
    h, notice = moved_while_billed(codec)
    assert run_at(h, 0, notice) == []  # billed on INV-1 here: parked
    assert h.stage.parked()[0] == {"time_entry:TE-1"}
    # the line is credited (the entry goes back to WIP here): the reversal goes through
    run_at(h, 0, h.record(credit_memo(credited_line_nos=[1]), key="US/customer/C-1"))
    h.now += timedelta(minutes=10)
    outputs, writes = h.stage.retry([0], wake=False)
    h.stage.apply(writes)
    assert [c["action"] for c in h.commands(outputs)] == ["REVERSE", "REVERSE"]
    assert h.stage.parked()[0] == set()


def test_a_moved_entry_never_credited_is_dead_lettered_with_the_reason(codec: AvroCodec) -> None:
    h, notice = moved_while_billed(codec)
    run_at(h, 0, notice)
    h.now += timedelta(days=2)  # past the parking deadline
    outputs, writes = h.stage.retry([0], wake=False)
    h.stage.apply(writes)
    (letter,) = [o for o in outputs if o.topic == "ledgerstream.dlq"]
    envelope = codec.decode("ledgerstream.dlq", letter.value).record
    assert (envelope["error_code"], envelope["retryable"]) == ("RELOCATION_BLOCKED", True)
    assert (
        "time_entry TE-1 v2 now posts in ledger US/customer/C-2, but v1 here is billed on "
        "invoice INV-1" in envelope["error_message"]
    )


def test_a_new_version_in_the_same_ledger_sends_no_notice(codec: AvroCodec) -> None:
    h = two_ledgers(codec, standard_book())
    run_at(h, 0, h.record(time_entry()))
    outputs = run_at(h, 0, h.record(time_entry(version=2, duration_minutes=60)))
    assert notices(outputs) == []
    assert [c["action"] for c in h.commands(outputs)] == ["REVERSE", "REVERSE", "POST", "POST"]


def test_upstream_cannot_forge_a_relocation_notice(codec: AvroCodec) -> None:
    rt = Runtime(codec=codec, book=standard_book(), metrics=Metrics(), rule_version=RULE_VERSION)
    value = codec.encode(TOPICS["time_entry"], time_entry().model_dump())
    forged = SourceRecord(TOPICS["time_entry"], 0, 1, b"TE-1", value, [(RELOCATED, b"X")])
    _, (sent,) = handle_route(rt, forged, 2)
    assert RELOCATED not in dict(sent.headers)


def test_intercompany_time_waits_while_the_employees_entity_is_paused(codec: AvroCodec) -> None:
    # it posts its recharge in DE: DE's kill switch holds it, though the key is US's
    book = standard_book(
        entity(entity_id="DE", base_currency="EUR", timezone="Europe/Berlin"),
        employee(employee_id="hans", entity_id="DE", cost_currency="EUR", cost_rate=D("60")),
        spot("EUR", "USD", "1.08", date(2026, 3, 30)),
    )
    h = Harness(codec, book)
    h.rt.set_toggles(Toggles(paused_entities=frozenset({"DE"})))
    assert h.post(time_entry(employee_id="hans"), time_entry(entry_id="TE-2")) != []
    assert h.stage.parked()[0] == {"time_entry:TE-1"}  # alice's entry (US only) posted
    h.rt.set_toggles(Toggles())
    assert [c["entity_id"] for c in h.commands(h.retry(wake=True))] == ["US", "US", "DE"]


def test_a_parked_record_redelivered_after_restarts_stays_parked_once(codec: AvroCodec) -> None:
    """Issue 16.10: three SIGKILLs used to queue the same record behind itself three times."""
    book = standard_book()
    h = Harness(codec, book, deadline=timedelta(minutes=10))
    waiting = h.record(time_entry(entry_id="TE-9", project_id="P-LATE"), key="TE-9")
    assert h.run(waiting) == []
    # three new owners, each redelivered the record (its offset was never committed)
    for _ in range(3):
        h.restart()
        assert h.run(waiting) == []
    assert h.stage.parked() == {0: {"time_entry:TE-9"}}
    (queue,) = [raw for key, raw in h.store.items() if key.startswith(b"parked|")]
    (parked,) = decode_queue(queue)
    assert (parked.code, parked.offset) == ("MISSING_REFERENCE", waiting.offset)
    # past the deadline it is one dead letter, not one per restart
    h.now += timedelta(minutes=11)
    outputs = h.retry(wake=True)
    assert [codec.decode("ledgerstream.dlq", o.value).record["error_code"] for o in outputs] == [
        "MISSING_REFERENCE"
    ]
    assert h.stage.parked() == {0: set()}


def test_a_replay_emits_no_dead_letter_or_held_feedback_twice_under_the_same_rules(
    codec: AvroCodec,
) -> None:
    """Issue 16.11: a record that ended held or dead-lettered ends so once per rule version."""
    books = book_of(entity(approval_required=True), customer(), project(), employee())
    h = Harness(codec, books, deadline=timedelta(minutes=10))
    held = h.record(time_entry(entry_id="TE-H", status="SUBMITTED"))
    late = h.record(time_entry(entry_id="TE-L", project_id="P-LATE"), key="TE-L")
    first = h.run(held, late)
    assert h.topics(first) == [FEEDBACK_TOPIC]  # held: feedback only; the other parked
    h.now += timedelta(minutes=11)
    assert h.topics(h.retry(wake=True)) == ["ledgerstream.dlq"]
    h.rt.metrics = Metrics()

    # a replay (and a restart before it): the same source positions, the same rules
    h.restart()
    assert h.run(held, late) == []
    h.now += timedelta(minutes=11)
    assert h.retry(wake=True) == []
    assert h.stage.parked() == {0: set()}
    skipped = h.rt.metrics.events.labels(topic="pm.time-entries", outcome="skipped")
    assert skipped._value.get() == 2  # counted as read again, not as new outcomes

    # under new rules the held record is judged again (and held again, once)
    h.rt.rule_version = "test.2"
    assert h.topics(h.run(held)) == [FEEDBACK_TOPIC]
    assert h.run(held) == []


def test_a_record_dead_lettered_by_its_rule_is_not_dead_lettered_again_on_a_replay(
    codec: AvroCodec,
) -> None:
    h = Harness(codec, standard_book())
    h.post(*scenario()[:4])  # TE-1 is billed on INV-1
    deleted = SourceRecord(TOPICS["time_entry"], 0, 77, b"TE-1", None, ())
    sent = forward(h.rt, deleted, None, 0)
    tombstone = SourceRecord(LEDGER_TOPIC, 0, 78, sent.key, sent.value, sent.headers)
    letters = h.run(tombstone)
    assert [codec.decode("ledgerstream.dlq", o.value).record["error_code"] for o in letters] == [
        "ALREADY_BILLED"
    ]
    h.restart()
    assert h.run(tombstone) == []  # replayed: already dead-lettered under these rules
