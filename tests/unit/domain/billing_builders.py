"""Builders for the billing tests: expenses, invoices, payments, and a ledger that posts them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from streams.domain.commands import PostLedgerEntry, Side, SourceRef
from streams.domain.events import ExpenseRecorded
from streams.domain.feedback import SyncFeedback
from streams.domain.invoices import InvoiceIssued
from streams.domain.payments import PaymentReceived
from streams.domain.posted import PostedLedger
from streams.domain.posting import SourceEvent, Step, identity, post_deletion, post_event
from streams.domain.reference import ReferenceBook
from streams.domain.rules import Posted
from tests.unit.domain.builders import RULE_VERSION

D = Decimal
RECORDED = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)


def expense(**overrides: Any) -> ExpenseRecorded:
    data: dict[str, Any] = {
        "expense_id": "EX-1",
        "version": 1,
        "employee_id": "alice",
        "project_id": "P-100",
        "incurred_on": date(2026, 3, 31),
        "amount": D("200.00"),
        "currency": "USD",
        "category": "TRAVEL",
        "billable": True,
        "markup_rate": D("0.1000"),
        "status": "APPROVED",
        "approved_by": "bob",
        "approved_at": datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
        "business_purpose": "client visit",
        "recorded_at": RECORDED,
    }
    return ExpenseRecorded.model_validate(data | overrides)


def line(line_no: int = 1, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "line_no": line_no,
        "kind": "TIME",
        "amount": D("0"),
        "discount": D("0"),
    }
    return data | overrides


def invoice(**overrides: Any) -> InvoiceIssued:
    data: dict[str, Any] = {
        "invoice_id": "INV-1",
        "version": 1,
        "kind": "INVOICE",
        "entity_id": "US",
        "customer_id": "C-1",
        "project_id": "P-100",
        "currency": "USD",
        "issued_on": date(2026, 4, 30),
        "lines": [line()],
        "retainer_applied": D("0"),
        "recorded_at": RECORDED,
    }
    return InvoiceIssued.model_validate(data | overrides)


def credit_memo(**overrides: Any) -> InvoiceIssued:
    data: dict[str, Any] = {
        "invoice_id": "CM-1",
        "kind": "CREDIT_MEMO",
        "lines": [],
        "credited_invoice_id": "INV-1",
        "credited_line_nos": [1],
        "issued_on": date(2026, 5, 10),
    }
    return invoice(**(data | overrides))


def payment(**overrides: Any) -> PaymentReceived:
    data: dict[str, Any] = {
        "payment_id": "PAY-1",
        "version": 1,
        "entity_id": "US",
        "customer_id": "C-1",
        "currency": "USD",
        "amount": D("100.00"),
        "received_on": date(2026, 5, 15),
        "allocations": [{"invoice_id": "INV-1", "amount": D("100.00")}],
        "recorded_at": RECORDED,
    }
    return PaymentReceived.model_validate(data | overrides)


TOPICS = {
    "time_entry": "pm.time-entries",
    "expense": "pm.expenses",
    "invoice": "pm.invoices",
    "payment": "pm.payments",
}


def source_of(event: SourceEvent, offset: int = 7) -> SourceRef:
    kind, source_id, version = identity(event)
    return SourceRef(
        system="pm",
        type=kind,
        id=source_id,
        version=version,
        topic=TOPICS[kind],
        partition=0,
        offset=offset,
        event_time=event.recorded_at,
    )


Row = tuple[str, str, Decimal, Decimal]


def rows(command: PostLedgerEntry) -> list[Row]:
    """A command's lines as (account, side, amount, base_amount)."""
    return [(ln.account, str(ln.side), ln.amount, ln.base_amount) for ln in command.lines]


@dataclass
class Books:
    """Posts events one after the other, keeping every command, like the sink would."""

    book: ReferenceBook = field(repr=False)
    ledger: PostedLedger = field(default_factory=PostedLedger, repr=False)
    commands: list[PostLedgerEntry] = field(default_factory=list, repr=False)
    feedback: list[SyncFeedback] = field(default_factory=list, repr=False)
    last: Step | None = field(default=None, repr=False)

    def post(self, event: SourceEvent) -> tuple[PostLedgerEntry, ...]:
        step = post_event(
            self.ledger, event, self.book, source=source_of(event), rule_version=RULE_VERSION
        )
        return self._keep(step)

    def delete(self, kind: str, source_id: str) -> tuple[PostLedgerEntry, ...]:
        source = SourceRef(
            system="pm",
            type=kind,
            id=source_id,
            version=1,
            topic=TOPICS[kind],
            partition=0,
            offset=99,
            event_time=RECORDED,
        )
        return self._keep(post_deletion(self.ledger, source=source, rule_version=RULE_VERSION))

    def _keep(self, step: Step) -> tuple[PostLedgerEntry, ...]:
        self.last = step
        self.ledger = step.ledger
        self.feedback += step.feedback
        posted = step.outcome.commands if isinstance(step.outcome, Posted) else ()
        self.commands += posted
        return posted

    def balance(self, account: str, entity: str | None = None) -> tuple[Decimal, Decimal]:
        """Net debit balance of an account over every command (transaction, base)."""
        txn, base = D(0), D(0)
        for command in self.commands:
            if entity is not None and command.entity_id != entity:
                continue
            for ln in command.lines:
                if ln.account == account:
                    sign = 1 if ln.side is Side.DEBIT else -1
                    txn += sign * ln.amount
                    base += sign * ln.base_amount
        return txn, base

    def net(self) -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
        """Net balance per (entity, account, currency), zero balances left out."""
        totals: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
        for command in self.commands:
            for ln in command.lines:
                sign = 1 if ln.side is Side.DEBIT else -1
                key = (command.entity_id, ln.account, command.transaction_currency)
                totals[key][0] += sign * ln.amount
                totals[key][1] += sign * ln.base_amount
        return {k: (v[0], v[1]) for k, v in totals.items() if v[0] or v[1]}
