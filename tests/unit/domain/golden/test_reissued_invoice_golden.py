"""Golden worked examples: an invoice reissued after a credit memo credited its lines.

A credit memo credits lines of the invoice *version* it was posted against. A new
version of the invoice replaces that version: the REVERSE of the old version gives
back everything it posted, so the memos on it are reversed with it (each told by a
``REVERSED`` feedback record) and the new version starts with no line credited.
Every amount is computed by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from streams.domain.commands import CommandAction
from streams.domain.feedback import FeedbackStatus
from streams.domain.posted import ar_key, wip_key
from tests.unit.domain.billing_builders import Books, credit_memo, invoice, line, rows
from tests.unit.domain.builders import standard_book, time_entry

D = Decimal
LATER = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def _billed_and_credited() -> tuple[Books, list[str]]:
    # TE-1: 75 min x USD 150/h = 187.50 of WIP.
    # INV-1 v1: line 1 TIME 187.50 (TE-1), line 2 FIXED_FEE 300.00; AR 487.50.
    # CM-1 credits line 1: Dr 1150 187.50 / Cr 1100 187.50; TE-1 released; AR 300.00.
    books = Books(standard_book())
    books.post(time_entry())
    (v1,) = books.post(
        invoice(
            lines=[
                line(1, amount=D("187.50"), time_entry_ids=["TE-1"]),
                line(2, kind="FIXED_FEE", amount=D("300.00")),
            ]
        )
    )
    (memo,) = books.post(credit_memo())
    assert rows(memo) == [
        ("1150", "DEBIT", D("187.50"), D("187.50")),
        ("1100", "CREDIT", D("187.50"), D("187.50")),
    ]
    return books, [memo.command_id, v1.command_id]


def test_reissued_invoice_reverses_the_memos_on_its_old_version_and_bills_afresh() -> None:
    """Rule: a new invoice version reverses the old one and the memos that credited it."""
    # INV-1 v2: line 1 TIME 187.50 (TE-1 again), line 2 FIXED_FEE 250.00; AR 437.50.
    # Commands: REVERSE CM-1 (Cr 1150 187.50 / Dr 1100 187.50), REVERSE v1
    #   (Cr 1100 487.50 / Dr 1150 187.50 / Dr 4000 300.00), then v2:
    #   Dr 1100 437.50, Cr 1150 187.50 (TE-1's WIP, once), Cr 4000 250.00.
    # Without reversing CM-1, TE-1's WIP would be given back twice (by CM-1 and by
    #   the REVERSE of v1): v2 would relieve 375.00 and write 187.50 down.
    books, (memo_id, v1_id) = _billed_and_credited()
    reverse_memo, reverse_v1, v2 = books.post(
        invoice(
            version=2,
            lines=[
                line(1, amount=D("187.50"), time_entry_ids=["TE-1"]),
                line(2, kind="FIXED_FEE", amount=D("250.00")),
            ],
            recorded_at=LATER,
        )
    )
    assert (reverse_memo.action, reverse_memo.reverses) == (CommandAction.REVERSE, memo_id)
    assert (reverse_v1.action, reverse_v1.reverses) == (CommandAction.REVERSE, v1_id)
    assert rows(v2) == [
        ("1100", "DEBIT", D("437.50"), D("437.50")),
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "CREDIT", D("250.00"), D("250.00")),
    ]
    # 1150: 187.50 - 187.50 + 187.50 - 187.50 + 187.50 - 187.50 = 0
    assert books.balance("1150") == (D("0.00"), D("0.00"))
    # 1100: 487.50 - 187.50 + 187.50 - 487.50 + 437.50 = 437.50
    assert books.balance("1100") == (D("437.50"), D("437.50"))
    # 4000: -187.50 (accrued) - 300.00 + 300.00 - 250.00 = -437.50
    assert books.balance("4000") == (D("-437.50"), D("-437.50"))
    ar = books.ledger.balance(ar_key("INV-1"))
    assert ar is not None
    assert ar.amount == D("437.50")
    assert books.ledger.balance(wip_key("time_entry", "TE-1")) is None
    assert books.ledger.billed == {wip_key("time_entry", "TE-1"): "INV-1"}
    assert dict(books.ledger.credited) == {}
    reversed_memo = [f for f in books.feedback if f.status is FeedbackStatus.REVERSED]
    assert [(f.source_id, f.version, f.related_id) for f in reversed_memo] == [("CM-1", 1, "INV-1")]
    assert "INV-1 v2" in reversed_memo[0].reason


def test_a_memo_on_the_new_version_credits_its_line_and_the_old_memo_stays_reversed() -> None:
    """Rule: the new version's lines are credited by memos on it; the old memo is not replayed."""
    # After v2 (as above), CM-2 credits v2's line 1: Dr 1150 187.50 / Cr 1100 187.50
    #   (refused before as "already credited by CM-1"). CM-1 v1 redelivered: skipped.
    books, _ = _billed_and_credited()
    books.post(
        invoice(
            version=2,
            lines=[
                line(1, amount=D("187.50"), time_entry_ids=["TE-1"]),
                line(2, kind="FIXED_FEE", amount=D("250.00")),
            ],
            recorded_at=LATER,
        )
    )
    (memo,) = books.post(credit_memo(invoice_id="CM-2", recorded_at=LATER))
    assert rows(memo) == [
        ("1150", "DEBIT", D("187.50"), D("187.50")),
        ("1100", "CREDIT", D("187.50"), D("187.50")),
    ]
    assert books.post(credit_memo()) == ()  # CM-1 v1 again: already posted, skipped
    assert books.balance("1100") == (D("250.00"), D("250.00"))
    assert books.balance("1150") == (D("187.50"), D("187.50"))
    assert dict(books.ledger.credited) == {"INV-1#1": "CM-2"}
