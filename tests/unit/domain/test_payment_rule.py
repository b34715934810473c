"""Worked examples for payments and realised FX; every amount below is computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from streams.domain.commands import CommandAction, RateType, SourceRef
from streams.domain.exceptions import UnpostedSourceError
from streams.domain.feedback import FeedbackStatus
from streams.domain.posted import ar_key, credit_key
from streams.domain.posting import post_deletion
from streams.domain.rules import Held, Posted
from tests.unit.domain.billing_builders import RULE_VERSION, Books, invoice, line, payment, rows
from tests.unit.domain.builders import book_of, customer, entity, project, spot, standard_book
from tests.unit.domain.test_invoice_rule import eur_books

D = Decimal
FEE: dict[str, Any] = {"kind": "FIXED_FEE"}


def test_two_partial_payments_in_a_foreign_currency_realise_fx() -> None:
    # invoice EUR 1000.00 at 1.10 -> AR USD 1100.00
    # pay 1 (05-15, 1.12): EUR 400.00 -> cash 448.00; AR relieved 1100 x 400/1000 = 440.00;
    #   gain 8.00 (Cr 7900)
    # pay 2 (05-31, 1.08): EUR 600.00 -> cash 648.00; AR relieved the rest, 660.00;
    #   loss 12.00 (Dr 7900). Net FX: 4.00 loss; AR 0 in EUR and USD.
    books = eur_books()
    books.book.put("EUR/USD/2026-05-15/SPOT", spot("EUR", "USD", "1.12", date(2026, 5, 15)))
    books.book.put("EUR/USD/2026-05-31/SPOT", spot("EUR", "USD", "1.08", date(2026, 5, 31)))
    books.post(
        invoice(
            customer_id="C-2",
            project_id="P-EU",
            currency="EUR",
            lines=[line(amount=D("1000.00"), **FEE)],
        )
    )
    paid = {"customer_id": "C-2", "currency": "EUR"}
    (first,) = books.post(
        payment(
            amount=D("400.00"), allocations=[{"invoice_id": "INV-1", "amount": D("400.00")}], **paid
        )
    )
    assert rows(first) == [
        ("1000", "DEBIT", D("400.00"), D("448.00")),
        ("1100", "CREDIT", D("400.00"), D("440.00")),
        ("7900", "CREDIT", D("0.00"), D("8.00")),
    ]
    (second,) = books.post(
        payment(
            payment_id="PAY-2",
            received_on=date(2026, 5, 31),
            amount=D("600.00"),
            allocations=[{"invoice_id": "INV-1", "amount": D("600.00")}],
            **paid,
        )
    )
    assert rows(second) == [
        ("1000", "DEBIT", D("600.00"), D("648.00")),
        ("1100", "CREDIT", D("600.00"), D("660.00")),
        ("7900", "DEBIT", D("0.00"), D("12.00")),
    ]
    assert (second.journal, second.fx.rate_type) == ("CASH", RateType.SPOT)
    assert books.balance("1100") == (D("0.00"), D("0.00"))
    assert books.balance("7900") == (D("0.00"), D("4.00"))
    assert books.ledger.balance(ar_key("INV-1")) is None


def test_one_payment_settles_two_invoices_and_holds_the_rest_on_account() -> None:
    # 200.00 received: 100.00 to INV-1, 50.00 to INV-2, 50.00 on account (Cr 2310)
    books = Books(standard_book())
    books.post(invoice(lines=[line(amount=D("100.00"), **FEE)]))
    books.post(invoice(invoice_id="INV-2", lines=[line(amount=D("50.00"), **FEE)]))
    (command,) = books.post(
        payment(
            amount=D("200.00"),
            allocations=[
                {"invoice_id": "INV-1", "amount": D("100.00")},
                {"invoice_id": "INV-2", "amount": D("50.00")},
            ],
        )
    )
    assert rows(command) == [
        ("1000", "DEBIT", D("200.00"), D("200.00")),
        ("1100", "CREDIT", D("100.00"), D("100.00")),
        ("1100", "CREDIT", D("50.00"), D("50.00")),
        ("2310", "CREDIT", D("50.00"), D("50.00")),
    ]
    held = books.ledger.balance(credit_key("US", "C-1", "USD"))
    assert held is not None
    assert held.amount == D("50.00")


def test_paying_more_than_is_open_on_an_invoice_books_the_cent_as_a_customer_credit() -> None:
    books = Books(standard_book())
    books.post(invoice(lines=[line(amount=D("100.00"), **FEE)]))
    (command,) = books.post(
        payment(amount=D("100.01"), allocations=[{"invoice_id": "INV-1", "amount": D("100.01")}])
    )
    assert rows(command)[1:] == [
        ("1100", "CREDIT", D("100.00"), D("100.00")),
        ("2310", "CREDIT", D("0.01"), D("0.01")),
    ]


def test_payment_before_its_invoice_parks() -> None:
    with pytest.raises(UnpostedSourceError) as info:
        Books(standard_book()).post(payment())
    assert (info.value.kind, info.value.key) == ("invoice", "INV-1")


def test_bhd_entity_partial_usd_payment_realises_fx_in_fils() -> None:
    # invoice USD 1000.00 at 0.376 -> AR BHD 376.000
    # pay USD 333.33 at 0.377 -> cash 125.66541 -> 125.665; AR relieved
    # 376.000 x 333.33 / 1000 = 125.33208 -> 125.332; gain 0.333
    books = Books(
        book_of(
            entity(entity_id="BH", base_currency="BHD", timezone="Asia/Bahrain"),
            customer(customer_id="C-B", entity_id="BH"),
            project(project_id="P-BH", entity_id="BH", customer_id="C-B"),
            spot("USD", "BHD", "0.376", date(2026, 4, 30)),
            spot("USD", "BHD", "0.377", date(2026, 5, 15)),
        )
    )
    ids = {"entity_id": "BH", "customer_id": "C-B"}
    books.post(invoice(project_id="P-BH", lines=[line(amount=D("1000.00"), **FEE)], **ids))
    (command,) = books.post(
        payment(
            amount=D("333.33"), allocations=[{"invoice_id": "INV-1", "amount": D("333.33")}], **ids
        )
    )
    assert rows(command) == [
        ("1000", "DEBIT", D("333.33"), D("125.665")),
        ("1100", "CREDIT", D("333.33"), D("125.332")),
        ("7900", "CREDIT", D("0.00"), D("0.333")),
    ]


def test_a_corrected_payment_reverses_the_first_and_relieves_again() -> None:
    # v1 pays 40.00, v2 says 60.00: REVERSE v1 (Cr 1000 / Dr 1100 40.00), POST 60.00; AR 40.00 open
    books = Books(standard_book())
    books.post(invoice(lines=[line(amount=D("100.00"), **FEE)]))
    (v1,) = books.post(
        payment(amount=D("40.00"), allocations=[{"invoice_id": "INV-1", "amount": D("40.00")}])
    )
    reverse, post = books.post(
        payment(
            version=2,
            amount=D("60.00"),
            allocations=[{"invoice_id": "INV-1", "amount": D("60.00")}],
        )
    )
    assert reverse.reverses == v1.command_id
    assert rows(reverse) == [
        ("1000", "CREDIT", D("40.00"), D("40.00")),
        ("1100", "DEBIT", D("40.00"), D("40.00")),
    ]
    assert rows(post)[0] == ("1000", "DEBIT", D("60.00"), D("60.00"))
    receivable = books.ledger.balance(ar_key("INV-1"))
    assert receivable is not None
    assert receivable.amount == D("40.00")


def test_an_invoice_with_a_payment_is_not_deleted_and_the_feedback_says_why() -> None:
    # issue 16: deleting a paid invoice reversed its 1,000.00 receivable, leaving -400.00
    books = Books(standard_book())
    books.post(invoice(lines=[line(amount=D("1000.00"), **FEE)]))
    books.post(
        payment(amount=D("400.00"), allocations=[{"invoice_id": "INV-1", "amount": D("400.00")}])
    )
    assert books.delete("invoice", "INV-1") == ()
    assert books.last is not None
    assert isinstance(books.last.outcome, Held)
    held = books.feedback[-1]
    assert (held.status, held.source_id, held.version) == (FeedbackStatus.HELD, "INV-1", 1)
    assert "400.00 USD of its receivable (ar/INV-1) is already relieved" in held.reason
    assert "would leave -400.00 USD" in held.reason
    receivable = books.ledger.balance(ar_key("INV-1"))
    assert receivable is not None
    assert receivable.amount == D("600.00")
    assert books.balance("1100") == (D("600.00"), D("600.00"))
    # once the payment is deleted, the invoice can be
    books.delete("payment", "PAY-1")
    assert [c.action for c in books.delete("invoice", "INV-1")] == [CommandAction.REVERSE]
    assert books.ledger.balance(ar_key("INV-1")) is None
    assert books.balance("1100") == (D(0), D(0))


def test_a_retainer_whose_deposit_was_applied_is_not_deleted() -> None:
    books = Books(standard_book())
    deposit_line = line(amount=D("500.00"), kind="DEPOSIT")
    books.post(invoice(invoice_id="RET-1", kind="RETAINER", lines=[deposit_line]))
    books.post(invoice(lines=[line(amount=D("800.00"), **FEE)], retainer_applied=D("500.00")))
    assert books.delete("invoice", "RET-1") == ()
    reason = books.feedback[-1].reason
    assert "RET-1 v1 not deleted" in reason
    assert "500.00 USD of its deposit (deposit/US/C-1/USD) is already relieved" in reason


def test_a_deletions_reversals_carry_the_deleted_versions_event_time() -> None:
    # a tombstone has only the broker's timestamp, which the dry run does not have
    books = Books(standard_book())
    (posted,) = books.post(invoice(lines=[line(amount=D("100.00"), **FEE)]))
    broker_time = SourceRef(
        system="pm",
        type="invoice",
        id="INV-1",
        version=1,
        topic="pm.invoices",
        partition=3,
        offset=41,
        event_time=datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
    )
    step = post_deletion(books.ledger, source=broker_time, rule_version=RULE_VERSION)
    assert isinstance(step.outcome, Posted)
    (reversal,) = step.outcome.commands
    assert reversal.source.event_time == posted.source.event_time
    assert step.feedback[0].event_time == posted.source.event_time
