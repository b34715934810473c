"""Replaying any sequence of versions of a record nets to posting only the one that survives.

A sequence is shuffled, may repeat versions, holds unapproved ones and deletes the
record (tombstones) at any point. Whatever it is, the commands emitted for it (POST
and REVERSE as sent) sum, per entity, account and currency, in transaction and in
base currency, to what posting only the surviving version sends, and they leave the
same balances in the posted-records table. The survivor is found by a model of the
rules written here: the last version posted, unless deleted since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from streams.domain.commands import CommandAction, PostLedgerEntry
from streams.domain.posted import ar_key
from streams.domain.posting import SourceEvent
from streams.domain.reference import ReferenceBook, ReferenceModel
from tests.unit.domain.billing_builders import Books, credit_memo, expense, invoice, line, payment
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    time_entry,
)

D = Decimal
Op = int | None  # post that version, or delete the record (None)


def reference_book(base: str = "USD") -> ReferenceBook:
    """US entity (``base``), DE entity (EUR); projects in USD, EUR, capex, and in DE.

    EUR, GBP and USD SPOT rates among each other dated every day from 03-25 to 05-31.
    """
    rates: list[ReferenceModel] = []
    day = date(2026, 3, 25)
    while day <= date(2026, 5, 31):
        n = (day - date(2026, 3, 25)).days
        rates += [
            spot("EUR", "USD", str(D("1.0800") + D(n % 7) / 100), day),
            spot("GBP", "USD", str(D("1.2650") + D(n % 5) / 100), day),
            spot("GBP", "EUR", str(D("1.1700") + D(n % 3) / 100), day),
        ]
        day += timedelta(days=1)
    return book_of(
        entity(base_currency=base),
        entity(entity_id="DE", base_currency="EUR", timezone="Europe/Berlin"),
        customer(),
        customer(customer_id="C-2", currency="EUR"),
        customer(customer_id="C-DE", entity_id="DE", currency="EUR"),
        project(),
        project(project_id="P-EU", customer_id="C-2", billing_currency="EUR", rate=D("120")),
        project(project_id="P-CAP", kind="INTERNAL_CAPEX", customer_id=None, rate=None),
        project(
            project_id="P-DE",
            entity_id="DE",
            customer_id="C-DE",
            billing_currency="EUR",
            rate=D("100"),
            rounding_increment_minutes=15,
        ),
        employee(),
        employee(employee_id="hans", entity_id="DE", cost_currency="EUR", cost_rate=D("60")),
        *rates,
    )


@dataclass
class Survivor:
    """A model of post_event / post_deletion for one record: which version survives."""

    last: int | None = None
    deleted: bool = False
    skipped: int = 0

    def post(self, version: int, approved: bool) -> None:
        if self.last is not None and version <= self.last:
            self.skipped += 1
        elif approved:
            self.last, self.deleted = version, False

    def delete(self) -> None:
        if self.last is None or self.deleted:
            self.skipped += 1
        else:
            self.deleted = True

    @property
    def live(self) -> int | None:
        return None if self.deleted else self.last


@dataclass
class Reversals:
    """Checks that every REVERSE mirrors a POST sent earlier, and reverses it only once."""

    posts: dict[str, PostLedgerEntry] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)

    def check(self, commands: list[PostLedgerEntry]) -> None:
        for command in commands:
            if command.action is CommandAction.POST:
                self.posts[command.command_id] = command
                continue
            assert command.reverses is not None
            assert command.reverses not in self.reversed
            self.reversed.add(command.reverses)
            original = self.posts[command.reverses]
            assert (command.entity_id, command.period, command.fx) == (
                original.entity_id,
                original.period,
                original.fx,
            )
            mirror = [(a.account, a.amount, a.base_amount, a.side) for a in original.lines]
            assert [(b.account, b.amount, b.base_amount, b.side) for b in command.lines] == [
                (account, amount, base, "CREDIT" if side == "DEBIT" else "DEBIT")
                for account, amount, base, side in mirror
            ]


def ops(count: int) -> st.SearchStrategy[list[Op]]:
    return st.lists(st.integers(1, count) | st.none(), min_size=1, max_size=12)


def replay(
    book: ReferenceBook,
    *,
    setup: list[SourceEvent],
    versions: dict[int, list[SourceEvent]],
    approved: dict[int, bool],
    sequence: list[Op],
    records: list[tuple[str, str]],
) -> tuple[Books, Survivor]:
    """Post ``setup``, then each op; check the reversals; return the books and the model."""
    books = Books(book)
    for event in setup:
        books.post(event)
    survivor = Survivor()
    reversals = Reversals()
    reversals.check(books.commands)
    for op in sequence:
        before = len(books.commands)
        if op is None:
            survivor.delete()
            for kind, source_id in records:
                books.delete(kind, source_id)
        else:
            survivor.post(op, approved[op])
            for event in versions[op]:
                books.post(event)
        reversals.check(books.commands[before:])
    return books, survivor


def fresh(book: ReferenceBook, setup: list[SourceEvent], events: list[SourceEvent]) -> Books:
    books = Books(book)
    for event in (*setup, *events):
        books.post(event)
    return books


def assert_same(replayed: Books, expected: Books) -> None:
    assert replayed.net() == expected.net()
    assert dict(replayed.ledger.balances) == dict(expected.ledger.balances)
    assert dict(replayed.ledger.billed) == dict(expected.ledger.billed)
    assert dict(replayed.ledger.credited) == dict(expected.ledger.credited)
    assert set(replayed.ledger.invoices) == set(expected.ledger.invoices)


PROJECTS = ["P-100", "P-EU", "P-CAP", "P-DE"]
CLIENT = {"P-100", "P-EU", "P-DE"}


@st.composite
def work_versions(draw: st.DrawFn) -> tuple[dict[int, list[SourceEvent]], dict[int, bool]]:
    """Versions 1..n of time entry TE-1 and expense EX-1, each on any project and day."""
    count = draw(st.integers(min_value=1, max_value=5))
    versions: dict[int, list[SourceEvent]] = {}
    approved: dict[int, bool] = {}
    for v in range(1, count + 1):
        project_id = draw(st.sampled_from(PROJECTS))
        ok = draw(st.booleans())
        status: dict[str, Any] = (
            {"status": "APPROVED"}
            if ok
            else {"status": "SUBMITTED", "approved_by": None, "approved_at": None}
        )
        day = draw(st.integers(0, 3))
        started = datetime(2026, 3, 28, 13, 0, tzinfo=UTC) + timedelta(
            days=day, minutes=draw(st.integers(0, 14 * 60))
        )
        entry = time_entry(
            version=v,
            project_id=project_id,
            employee_id=draw(st.sampled_from(["alice", "hans"])),
            started_at=started,
            duration_minutes=draw(st.integers(0, 900)),
            billable=draw(st.booleans()),
            **status,
        )
        spent = expense(
            version=v,
            project_id=draw(st.sampled_from([*PROJECTS, None])),
            amount=D(draw(st.integers(0, 10**6))) / 100,
            currency=draw(st.sampled_from(["USD", "EUR", "GBP"])),
            markup_rate=draw(st.sampled_from([D(0), D("0.1"), D("0.15")])),
            incurred_on=date(2026, 3, 28) + timedelta(days=day),
            billable=False,
            **status,
        )
        if spent.project_id in CLIENT and draw(st.booleans()):
            spent = spent.model_copy(update={"billable": True})
        versions[v] = [entry, spent]
        approved[v] = ok
    return versions, approved


@settings(max_examples=120, deadline=None)
@given(work_versions(), st.data())
def test_replaying_any_sequence_of_versions_nets_to_posting_only_the_last(
    run: tuple[dict[int, list[SourceEvent]], dict[int, bool]], data: st.DataObject
) -> None:
    versions, approved = run
    sequence = data.draw(ops(len(versions)))
    book = reference_book()
    records = [("time_entry", "TE-1"), ("expense", "EX-1")]
    replayed, survivor = replay(
        book, setup=[], versions=versions, approved=approved, sequence=sequence, records=records
    )
    live = survivor.live
    expected = fresh(book, [], versions[live] if live is not None else [])
    assert_same(replayed, expected)
    assert replayed.ledger.skipped == 2 * survivor.skipped


def billed_setup(currency: str) -> list[SourceEvent]:
    """TE-1 and TE-2 accrued on the project billing ``currency``; INV-0 a fee on its own."""
    project_id = "P-EU" if currency == "EUR" else "P-100"
    return [
        time_entry(entry_id="TE-1", project_id=project_id, duration_minutes=75),
        time_entry(entry_id="TE-2", project_id=project_id, duration_minutes=130),
    ]


def invoice_of(currency: str, **overrides: Any) -> SourceEvent:
    customer_id, project_id = ("C-2", "P-EU") if currency == "EUR" else ("C-1", "P-100")
    data = {"customer_id": customer_id, "project_id": project_id, "currency": currency}
    return invoice(**(data | overrides))


def money(draw: st.DrawFn, high: int = 10**6) -> Decimal:
    return D(draw(st.integers(0, high))) / 100


@st.composite
def invoice_versions(draw: st.DrawFn, currency: str) -> dict[int, list[SourceEvent]]:
    versions: dict[int, list[SourceEvent]] = {}
    for v in range(1, draw(st.integers(1, 4)) + 1):
        lines = []
        for n, entry in enumerate(("TE-1", "TE-2"), start=1):
            if draw(st.booleans()):
                amount = money(draw)
                lines.append(
                    line(
                        n,
                        amount=amount,
                        discount=min(amount, money(draw, 5000)),
                        tax_code="T",
                        tax_rate=D("0.19"),
                        time_entry_ids=[entry],
                    )
                )
        if not lines or draw(st.booleans()):
            lines.append(
                line(3, kind="FIXED_FEE", amount=money(draw), tax_code="T", tax_rate=D("0.19"))
            )
        issued = date(2026, 4, 27) + timedelta(days=draw(st.integers(0, 3)))
        versions[v] = [invoice_of(currency, version=v, lines=lines, issued_on=issued)]
    return versions


def fixed_invoice(currency: str) -> SourceEvent:
    """INV-1: TE-1 at 200.00, TE-2 at 300.00 less 30.00, a fee of 123.45; 19 % per invoice."""
    tax = {"tax_code": "T", "tax_rate": D("0.19")}
    return invoice_of(
        currency,
        lines=[
            line(1, amount=D("200.00"), time_entry_ids=["TE-1"], **tax),
            line(2, amount=D("300.00"), discount=D("30.00"), time_entry_ids=["TE-2"], **tax),
            line(3, kind="FIXED_FEE", amount=D("123.45"), **tax),
        ],
    )


@st.composite
def payment_versions(draw: st.DrawFn, currency: str) -> dict[int, list[SourceEvent]]:
    # INV-1 receivable: 200.00 + 270.00 + 123.45 = 593.45 + 19 % = 112.7555 -> 112.76; 706.21
    customer_id = "C-2" if currency == "EUR" else "C-1"
    versions: dict[int, list[SourceEvent]] = {}
    for v in range(1, draw(st.integers(1, 4)) + 1):
        allocated = D(draw(st.integers(0, 70621))) / 100
        versions[v] = [
            payment(
                version=v,
                customer_id=customer_id,
                currency=currency,
                amount=allocated + money(draw, 20000),
                received_on=date(2026, 5, 1) + timedelta(days=draw(st.integers(0, 30))),
                allocations=[{"invoice_id": "INV-1", "amount": allocated}],
            )
        ]
    return versions


@st.composite
def memo_versions(draw: st.DrawFn, currency: str) -> dict[int, list[SourceEvent]]:
    customer_id, project_id = ("C-2", "P-EU") if currency == "EUR" else ("C-1", "P-100")
    versions: dict[int, list[SourceEvent]] = {}
    for v in range(1, draw(st.integers(1, 4)) + 1):
        credited = draw(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=3, unique=True))
        versions[v] = [
            credit_memo(
                version=v,
                customer_id=customer_id,
                project_id=project_id,
                currency=currency,
                credited_line_nos=credited,
                issued_on=date(2026, 5, 1) + timedelta(days=draw(st.integers(0, 30))),
            )
        ]
    return versions


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(["invoice", "payment", "credit memo"]),
    st.sampled_from(["USD", "EUR"]),
    st.sampled_from(["USD", "GBP"]),
    st.data(),
)
def test_replaying_billing_versions_with_deletions_nets_to_posting_only_the_last(
    kind: str, currency: str, base: str, data: st.DataObject
) -> None:
    setup = billed_setup(currency)
    if kind == "invoice":
        versions = data.draw(invoice_versions(currency))
        record = ("invoice", "INV-1")
    elif kind == "payment":
        setup.append(fixed_invoice(currency))
        versions = data.draw(payment_versions(currency))
        record = ("payment", "PAY-1")
    else:
        setup.append(fixed_invoice(currency))
        versions = data.draw(memo_versions(currency))
        record = ("invoice", "CM-1")
    sequence = data.draw(ops(len(versions)))
    book = reference_book(base)
    approved = dict.fromkeys(versions, True)
    replayed, survivor = replay(
        book,
        setup=setup,
        versions=versions,
        approved=approved,
        sequence=sequence,
        records=[record],
    )
    live = survivor.live
    expected = fresh(book, setup, versions[live] if live is not None else [])
    assert_same(replayed, expected)
    assert replayed.ledger.skipped == survivor.skipped
    if kind != "invoice":
        receivable = replayed.ledger.balance(ar_key("INV-1"))
        assert receivable is None or receivable.amount >= 0
