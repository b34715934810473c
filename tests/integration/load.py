"""Mixed load for the fault tests: two entities, every event type, edits, poison, and its oracle.

``mixed_load(n)`` builds reference data and ``n`` project events in publish order:
time entries (a share edited later as version 2), expenses, fixed-fee invoices and
a partial payment against some of them (published after its invoice, but routed
through other partitions, so stage 2 may see the payment first and park it), plus
a few poison records. ``expected(load, codec, rule_version)`` posts the same events with
the pure rules, offline: the command ids and contents every broker run must end with.

``SinkWatcher`` follows an output topic incrementally (``assign()`` from offset 0,
never watermarks, docs/embedded-broker.md), so a test can wait for progress without re-reading.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from streams.adapters.avro import AvroCodec
from streams.adapters.exceptions import KafkaAdminError
from streams.agents.route import LEDGER_TOPIC, source_of
from streams.domain.commands import PostLedgerEntry, SourceRef
from streams.domain.events import parse_event
from streams.domain.exceptions import LedgerstreamError
from streams.domain.posted import PostedLedger
from streams.domain.posting import EVENT_TOPICS, identity, post_event
from streams.domain.reference import REFERENCE_TOPICS, ReferenceBook, reference_key
from streams.domain.rules import Posted
from streams.ops.parked import read_parked
from tests.integration.conftest import Stack
from tests.integration.records import (
    customer,
    employee,
    entity,
    entry,
    expense,
    fixed_fee_line,
    invoice,
    project,
    spot_rate,
)

NOVEMBER = [date(2026, 11, d) for d in range(1, 31)]


@dataclass(frozen=True)
class Rec:
    """One record to publish: logical topic, key and Avro value (None: poison bytes in raw)."""

    topic: str
    key: str
    value: dict[str, Any] | None
    raw: bytes | None = None


@dataclass
class Load:
    reference: list[Rec] = field(default_factory=list)
    events: list[Rec] = field(default_factory=list)
    poison: set[str] = field(default_factory=set)

    def publish(self, stack: Stack, records: Iterable[Rec]) -> None:
        for rec in records:
            if rec.raw is not None:
                stack.publish_raw(rec.topic, rec.key, rec.raw)
            else:
                stack.publish(rec.topic, rec.key, rec.value)
        stack.flush()


def mixed_load(events: int, *, seed: int = 7) -> Load:
    """Reference data for US01 (USD) and DE01 (EUR) and ``events`` mixed project events."""
    rnd = random.Random(seed)
    load = Load()
    ref = load.reference
    ref.append(Rec("ref.entities", "US01", entity("US01", "USD", "America/New_York")))
    ref.append(Rec("ref.entities", "DE01", entity("DE01", "EUR", "Europe/Berlin")))
    ref.append(Rec("pm.customers", "C-US", customer("C-US", "USD")))
    ref.append(Rec("pm.customers", "C-DE", customer("C-DE", "EUR") | {"entity_id": "DE01"}))
    ref.append(Rec("pm.customers", "C-EU", customer("C-EU", "EUR")))
    projects = {
        "P-US-1": project("P-US-1", "C-US", "USD", "150.00", increment=15),
        "P-US-2": project("P-US-2", "C-US", "USD", "95.50"),
        "P-EU-1": project("P-EU-1", "C-EU", "EUR", "120.00"),  # US01 billing in EUR
        "P-DE-1": project("P-DE-1", "C-DE", "EUR", "110.00") | {"entity_id": "DE01"},
        "P-DE-2": project("P-DE-2", "C-DE", "EUR", "87.25", increment=6) | {"entity_id": "DE01"},
    }
    ref += [Rec("pm.projects", pid, value) for pid, value in projects.items()]
    ref.append(Rec("pm.employees", "E-1", employee("E-1", "62.50")))
    ref.append(
        Rec(
            "pm.employees",
            "E-2",
            employee("E-2", "55.00") | {"entity_id": "DE01", "cost_currency": "EUR"},
        )
    )
    for day in [date(2026, 10, 31), *NOVEMBER]:
        rate = f"1.{rnd.randint(700, 999):04d}"
        ref.append(Rec("ref.fx-rates", f"EUR/USD/{day}/SPOT", spot_rate("EUR", "USD", day, rate)))

    out = load.events
    entries: list[dict[str, Any]] = []
    invoices: list[tuple[str, str, str, Decimal]] = []
    edited: set[str] = set()
    while len(out) < events:
        roll = rnd.random()
        n = len(out)
        day = NOVEMBER[rnd.randrange(25)]
        if roll < 0.62 or not entries:
            pid = rnd.choice(list(projects))
            worker = "E-2" if pid.startswith("P-DE") else "E-1"
            started = datetime(day.year, day.month, day.day, rnd.randint(13, 20), tzinfo=UTC)
            value = entry(f"TE-{n}", pid, rnd.randint(5, 480), started=started)
            value |= {"employee_id": worker, "billable": rnd.random() < 0.85}
            entries.append(value)
            out.append(Rec("pm.time-entries", value["entry_id"], value))
        elif roll < 0.72:
            first = rnd.choice(entries)
            if first["entry_id"] not in edited:
                edited.add(first["entry_id"])
                again = first | {"version": 2, "duration_minutes": rnd.randint(5, 480)}
                out.append(Rec("pm.time-entries", again["entry_id"], again))
        elif roll < 0.85:
            out.append(_expense(rnd, n, day))
        elif roll < 0.94:
            us = rnd.random() < 0.6
            currency = "USD" if us else "EUR"
            amount = Decimal(rnd.randint(1_000, 900_000)) / 100
            inv = invoice(f"INV-{n}", "C-US" if us else "C-EU", [fixed_fee_line(1, str(amount))])
            inv |= {"currency": currency, "issued_on": day}
            if rnd.random() < 0.3:  # a second line with tax
                inv["lines"].append(
                    fixed_fee_line(2, "250.00", tax_code="VAT20", tax_rate=Decimal("0.2"))
                )
            invoices.append((inv["invoice_id"], inv["customer_id"], currency, amount))
            out.append(Rec("pm.invoices", inv["invoice_id"], inv))
        elif roll < 0.995 and invoices:
            # one partial payment per invoice: two payments of one invoice are two
            # source records, with no order between them, and how the base amount of
            # a receivable splits between its partial payments depends on their order
            invoice_id, cust, currency, amount = invoices.pop(rnd.randrange(len(invoices)))
            part = (amount / 4).quantize(Decimal("0.01"))
            received = min(NOVEMBER[-1], day + timedelta(days=3))
            out.append(
                Rec(
                    "pm.payments",
                    f"PAY-{n}",
                    {
                        "payment_id": f"PAY-{n}",
                        "version": 1,
                        "entity_id": "US01",
                        "customer_id": cust,
                        "currency": currency,
                        "amount": part,
                        "received_on": received,
                        "allocations": [{"invoice_id": invoice_id, "amount": part}],
                        "reference": "",
                        "recorded_at": datetime(2026, 11, 30, tzinfo=UTC),
                    },
                )
            )
        else:
            bad = entry(f"TE-BAD-{n}", "P-US-1", -30)  # negative duration: INVALID_EVENT
            load.poison.add(bad["entry_id"])
            out.append(Rec("pm.time-entries", bad["entry_id"], bad))
    return load


def _expense(rnd: random.Random, n: int, day: date) -> Rec:
    us = rnd.random() < 0.6
    at = datetime(day.year, day.month, day.day, 18, tzinfo=UTC)
    value = expense(f"EX-{n}", "USD" if us else "EUR") | {
        "employee_id": "E-1" if us else "E-2",
        "project_id": rnd.choice(["P-US-1", "P-EU-1"] if us else ["P-DE-1", "P-DE-2"]),
        "incurred_on": day,
        "amount": Decimal(rnd.randint(100, 90_000)) / 100,
        "category": rnd.choice(["TRAVEL", "MEALS", "LODGING"]),
        "billable": rnd.random() < 0.7,
        "approved_at": at,
        "business_purpose": "client work",
        "recorded_at": at,
    }
    return Rec("pm.expenses", value["expense_id"], value)


@dataclass
class Expected:
    """What the rules post for a load, offline: commands by id, in per-source order."""

    commands: dict[str, PostLedgerEntry] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def expected(
    load: Load, codec: AvroCodec, rule_version: str, account_map: dict[str, str] | None = None
) -> Expected:
    """Post every event of the load with the pure rules, as one ordered stream."""
    book = ReferenceBook(account_map)
    for rec in load.reference:
        model = parse_event(REFERENCE_TOPICS[rec.topic][1], _round_trip(codec, rec))
        book.put(reference_key(model), model)
    store: dict[str, dict[str, object]] = {}
    ledger = PostedLedger.over(lambda name, key: store.get(name, {}).get(key))
    result = Expected()
    waiting: list[Any] = []
    for offset, rec in enumerate(load.events):
        if rec.key in load.poison:
            result.failed[rec.key] = "INVALID_EVENT"
            continue
        event: Any = parse_event(EVENT_TOPICS[rec.topic][1], _round_trip(codec, rec))
        waiting.append((offset, rec, event))
        progress = True
        while progress:  # a payment read before its invoice waits, as stage 2 parks it
            progress = False
            for item in list(waiting):
                step_offset, step_rec, step_event = item
                kind, source_id, version = identity(step_event)
                source = SourceRef(
                    system="pm",
                    type=kind,
                    id=source_id,
                    version=version,
                    topic=step_rec.topic,
                    partition=0,
                    offset=step_offset,
                    event_time=step_event.recorded_at,
                )
                try:
                    step = post_event(
                        ledger, step_event, book, source=source, rule_version=rule_version
                    )
                except LedgerstreamError as exc:
                    if exc.retryable:
                        continue
                    raise
                waiting.remove(item)
                progress = True
                _keep(store, step.ledger)
                ledger = PostedLedger.over(lambda name, key: store.get(name, {}).get(key))
                if isinstance(step.outcome, Posted):
                    for command in step.outcome.commands:
                        result.commands[command.command_id] = command
    assert not waiting, [w[1].key for w in waiting]
    return result


def diagnose(
    stack: Stack, oracle: Expected, commands: SinkWatcher, letters: SinkWatcher, log: str = ""
) -> str:
    """Say where the oracle's commands still missing from the sink are stuck.

    For a failed wait: is the command in the sink topic after all (the watcher
    missed it)? Which partitions hold the source records not posted: stage 1's
    (not routed yet) or stage 2's (routed, not posted)? Are they parked? ``log``
    (a worker's log) adds its last partition assignment.
    """
    missing = set(oracle.commands) - commands.ids
    in_sink = {r["command_id"] for r in stack.decoded("acct.ledger-commands", idle=2.0)}
    stuck = {_source(oracle.commands[c]) for c in missing - in_sink}
    where: dict[str, list[str]] = {}
    for topic in (*EVENT_TOPICS, LEDGER_TOPIC):
        for record in stack.read(topic, idle=1.0, max_seconds=120):
            source = source_of(record).topic.removeprefix(stack.settings.topic_prefix)
            if record.value is None or source not in EVENT_TOPICS:
                continue
            try:
                value = stack.codec.decode(source, record.value).record
                kind, source_id, version = identity(parse_event(EVENT_TOPICS[source][1], value))
            except LedgerstreamError:  # poison: dead-lettered by stage 1
                continue
            name = f"{kind}:{source_id}:v{version}"
            if name in stuck:
                where.setdefault(name, []).append(f"{topic.split('.')[-1]}[{record.partition}]")
    try:
        parked = {row["source"] for row in read_parked(stack.settings)}
    except KafkaAdminError:  # no worker has created the table's changelog yet
        parked = set()
    places = Counter(place for found in where.values() for place in found)
    assignment = log[log.rfind("newly assigned") :][:1500] if "newly assigned" in log else ""
    ledger = stack.settings.topic(LEDGER_TOPIC)
    group = Consumer(stack.client | {"group.id": stack.settings.app_id})
    try:
        positions = {
            tp.partition: tp.offset
            for tp in group.committed([TopicPartition(ledger, p) for p in range(6)], timeout=10)
        }
    finally:
        group.close()
    return (
        f"{len(missing)} commands missing from the watcher, {len(missing - in_sink)} from the"
        f" sink topic; {len(stuck)} source versions, of which parked now:"
        f" {sum(1 for s in stuck if s.rsplit(':', 1)[0] in parked)}; found at {dict(places)};"
        f" first: {sorted(stuck)[:5]}; stage 2 committed at {positions}; dead letters"
        f" {dict(Counter(d['error_code'] for d in letters.records))}"
        f"\nlast assignment: {assignment}"
    )


def _source(command: PostLedgerEntry) -> str:
    return f"{command.source.type}:{command.source.id}:v{command.source.version}"


def _keep(store: dict[str, dict[str, object]], ledger: PostedLedger) -> None:
    """Write a step's changes to the store, as the worker's table would."""
    for name, changes in ledger.changes().items():
        kept = store.setdefault(name, {})
        for key, value in changes.items():
            if value is None:
                kept.pop(key, None)
            else:
                kept[key] = value


def _round_trip(codec: AvroCodec, rec: Rec) -> dict[str, Any]:
    assert rec.value is not None
    decoded: dict[str, Any] = codec.decode(rec.topic, codec.encode(rec.topic, rec.value)).record
    return decoded


class SinkWatcher:
    """Reads an output topic from offset 0, incrementally, decoding every record."""

    def __init__(self, stack: Stack, topic: str) -> None:
        self.stack = stack
        self.topic = topic
        physical = stack.settings.topic(topic)
        self.consumer = Consumer(
            stack.client
            | {
                "group.id": f"watch-{physical}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        metadata = self.consumer.list_topics(physical, timeout=10)
        partitions = metadata.topics[physical].partitions
        self.consumer.assign([TopicPartition(physical, p, 0) for p in partitions])
        stack.cleanup.append(self.consumer.close)
        self.records: list[dict[str, Any]] = []
        self.partitions: list[int] = []
        self.ids: set[str] = set()  # distinct command ids (for posting commands)

    def poll(self, seconds: float = 0.5) -> int:
        """Read what arrived within ``seconds``; return how many records that was."""
        got = 0
        for message in self.consumer.consume(10_000, timeout=seconds):
            if message.error() is not None:
                raise AssertionError(message.error())
            record = self.stack.codec.decode(self.topic, message.value()).record
            self.records.append(record)
            self.partitions.append(message.partition())
            if "command_id" in record:
                self.ids.add(record["command_id"])
            got += 1
        return got
