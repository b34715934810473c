"""Golden worked examples: expenses. Every amount is computed by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from streams.domain.commands import CommandAction, CostClass, RateType
from streams.domain.feedback import FeedbackStatus
from streams.domain.money import allocate
from streams.domain.posted import wip_key
from streams.domain.rules import Held
from tests.unit.domain.billing_builders import Books, expense, rows
from tests.unit.domain.builders import (
    book_of,
    customer,
    employee,
    entity,
    project,
    spot,
    standard_book,
)

D = Decimal
ON = date(2026, 3, 31)


def eur_project(**overrides: object) -> Books:
    """US entity (USD); P-EU billed in EUR to C-2; EUR/USD 1.0850, GBP/USD 1.2700 on 03-31."""
    return Books(
        book_of(
            entity(),
            customer(customer_id="C-2", currency="EUR"),
            project(project_id="P-EU", customer_id="C-2", billing_currency="EUR", **overrides),
            employee(),
            spot("EUR", "USD", "1.0850", ON),
            spot("GBP", "USD", "1.2700", ON),
            spot("GBP", "EUR", "1.1713", ON),
        )
    )


def test_gbp_expense_on_a_eur_billed_project_in_a_usd_entity_converts_twice() -> None:
    """Rule: expense (billable with markup: cost at SPOT, re-bill in the billing currency)."""
    # cost: GBP 45.60 x 1.2700 = 57.912 -> USD 57.91 (Dr 5100 / Cr 2100)
    # re-bill: 45.60 x 1.20 = GBP 54.72; x GBP/EUR 1.1713 = 64.093536 -> EUR 64.09;
    # to base at EUR/USD 1.0850: 64.09 x 1.085 = 69.53765 -> USD 69.54 (Dr 1150 / Cr 4100)
    books = eur_project()
    cost, rebill = books.post(
        expense(project_id="P-EU", amount=D("45.60"), currency="GBP", markup_rate=D("0.2000"))
    )
    assert rows(cost) == [
        ("5100", "DEBIT", D("45.60"), D("57.91")),
        ("2100", "CREDIT", D("45.60"), D("57.91")),
    ]
    assert rows(rebill) == [
        ("1150", "DEBIT", D("64.09"), D("69.54")),
        ("4100", "CREDIT", D("64.09"), D("69.54")),
    ]
    assert (cost.transaction_currency, rebill.transaction_currency) == ("GBP", "EUR")
    assert (rebill.fx.rate_type, rebill.fx.rate) == (RateType.SPOT, D("1.0850"))
    wip = books.ledger.balance(wip_key("expense", "EX-1"))
    assert wip is not None
    assert (wip.currency, wip.amount, wip.base) == ("EUR", D("64.09"), D("69.54"))


def test_billable_expense_on_a_contract_rate_project_rebills_to_base_at_the_contract() -> None:
    """Rule: expense re-bill converts to base at the project's contract rate; cost at SPOT."""
    # cost: EUR 300.00 x SPOT 1.0850 = USD 325.50
    # re-bill: 300.00 x 1.10 = EUR 330.00 x CONTRACT 1.10 = USD 363.00
    books = eur_project(contract_fx_rate=D("1.1000"), contract_id="K-9")
    cost, rebill = books.post(
        expense(project_id="P-EU", amount=D("300.00"), currency="EUR", markup_rate=D("0.1000"))
    )
    assert rows(cost)[0] == ("5100", "DEBIT", D("300.00"), D("325.50"))
    assert cost.fx.rate_type is RateType.SPOT
    assert rows(rebill) == [
        ("1150", "DEBIT", D("330.00"), D("363.00")),
        ("4100", "CREDIT", D("330.00"), D("363.00")),
    ]
    assert (rebill.fx.rate_type, rebill.fx.contract_id) == (RateType.CONTRACT, "K-9")


def test_expense_approved_late_is_held_then_posted_on_the_day_incurred() -> None:
    """Rule: expense approvals (held until APPROVED; approver and time on every command)."""
    # USD 120.00 incurred 2026-03-31, markup 12.5 %: re-bill 120.00 x 1.125 = 135.00
    # approved by dana on 2026-05-04: still effective 2026-03-31, period 2026-03
    books = Books(standard_book())
    assert books.post(expense(status="SUBMITTED", approved_by=None, approved_at=None)) == ()
    assert books.last is not None
    assert books.last.outcome == Held("awaiting approval")
    assert books.feedback[-1].status is FeedbackStatus.HELD
    approved_at = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    cost, rebill = books.post(
        expense(
            version=2,
            amount=D("120.00"),
            markup_rate=D("0.1250"),
            approved_by="dana",
            approved_at=approved_at,
        )
    )
    assert rows(cost)[0] == ("5100", "DEBIT", D("120.00"), D("120.00"))
    assert rows(rebill)[1] == ("4100", "CREDIT", D("135.00"), D("135.00"))
    for command in (cost, rebill):
        assert (command.effective_date, command.period) == (ON, "2026-03")
        assert command.approval is not None
        assert (command.approval.approved_by, command.approval.approved_at) == (
            "dana",
            approved_at,
        )


def test_deleted_expense_reverses_cost_and_rebill_at_the_rate_it_was_posted() -> None:
    """Rule: deletion (a tombstone reverses everything the record posted)."""
    # posted: cost EUR 89.99 x 1.085 = 97.63915 -> USD 97.64;
    #   re-bill 89.99 x 1.15 = 103.4885 EUR x 1.085 = 112.2850225 -> USD 112.29
    # deleted: Cr 5100 / Dr 2100 89.99 / 97.64 and Cr 1150 / Dr 4100 112.29, same date and rate
    books = Books(standard_book(spot("EUR", "USD", "1.0850", ON)))
    cost, rebill = books.post(expense(amount=D("89.99"), currency="EUR", markup_rate=D("0.1500")))
    undo_cost, undo_rebill = books.delete("expense", "EX-1")
    assert (undo_cost.action, undo_cost.reverses) == (CommandAction.REVERSE, cost.command_id)
    assert undo_rebill.reverses == rebill.command_id
    assert rows(undo_cost) == [
        ("5100", "CREDIT", D("89.99"), D("97.64")),
        ("2100", "DEBIT", D("89.99"), D("97.64")),
    ]
    assert rows(undo_rebill) == [
        ("1150", "CREDIT", D("112.29"), D("112.29")),
        ("4100", "DEBIT", D("112.29"), D("112.29")),
    ]
    assert (undo_cost.effective_date, undo_cost.fx.rate) == (ON, D("1.0850"))
    assert books.net() == {}
    assert books.ledger.balance(wip_key("expense", "EX-1")) is None
    assert books.feedback[-1].status is FeedbackStatus.REVERSED


def test_shared_costs_pool_on_6100_and_split_by_hours_with_largest_remainder() -> None:
    """Rule: shared cost pool (6100), allocated by a driver with largest remainder."""
    # three shared expenses (no project): 333.33 + 250.00 + 416.68 = 1000.01 on 6100
    # split by hours 37.5 : 22.5 : 15 (sum 75) in cents: 100001 x 37.5/75 = 50000.5,
    # x 22.5/75 = 30000.3, x 15/75 = 20000.2; floors 50000 + 30000 + 20000 = 100000,
    # the one cent left goes to the largest remainder (.5): 500.01, 300.00, 200.00
    books = Books(standard_book())
    for n, amount in enumerate(("333.33", "250.00", "416.68")):
        (cost,) = books.post(
            expense(expense_id=f"EX-S{n}", project_id=None, billable=False, amount=D(amount))
        )
        assert rows(cost)[0] == ("6100", "DEBIT", D(amount), D(amount))
        assert cost.lines[0].dimensions.cost_class is CostClass.OPEX
    pool = books.balance("6100")
    assert pool == (D("1000.01"), D("1000.01"))
    shares = allocate(pool[0], [D("37.5"), D("22.5"), D("15")], "USD")
    assert shares == [D("500.01"), D("300.00"), D("200.00")]
    # JPY pool of 100,000 by headcount 3 : 3 : 1 (sum 7): quotas 42857.14, 42857.14,
    # 14285.71; floors 42857 + 42857 + 14285 = 99999; the yen left goes to .71 (third)
    assert allocate(D("100000"), [D(3), D(3), D(1)], "JPY") == [
        D("42857"),
        D("42857"),
        D("14286"),
    ]


def test_usd_expense_rebilled_on_a_bahrain_project_keeps_fils() -> None:
    """Rule: expense in a BHD entity (three decimals), re-billed in the billing currency."""
    # cost: USD 80.00 x 0.376 = 30.080 BHD; re-bill 80.00 x 1.125 = USD 90.00
    # x 0.376 = 33.840 BHD (billing currency BHD = base: identity)
    books = Books(
        book_of(
            entity(entity_id="BH", base_currency="BHD", timezone="Asia/Bahrain"),
            customer(customer_id="C-B", entity_id="BH", currency="BHD"),
            project(project_id="P-BH", entity_id="BH", customer_id="C-B", billing_currency="BHD"),
            employee(entity_id="BH"),
            spot("USD", "BHD", "0.376", ON),
        )
    )
    cost, rebill = books.post(
        expense(project_id="P-BH", amount=D("80.00"), markup_rate=D("0.1250"))
    )
    assert rows(cost) == [
        ("5100", "DEBIT", D("80.00"), D("30.080")),
        ("2100", "CREDIT", D("80.00"), D("30.080")),
    ]
    assert rows(rebill) == [
        ("1150", "DEBIT", D("33.840"), D("33.840")),
        ("4100", "CREDIT", D("33.840"), D("33.840")),
    ]
    assert [str(ln.amount) for ln in rebill.lines] == ["33.840", "33.840"]
    assert str(cost.lines[0].base_amount) == "30.080"


def test_jpy_expense_rebilled_on_a_jpy_project_in_a_usd_entity() -> None:
    """Rule: expense in JPY (no decimals), re-bill rounded to whole yen, then to base."""
    # cost: JPY 12,345 x 0.0067 = 82.7115 -> USD 82.71
    # re-bill: 12,345 x 1.05 = 12,962.25 -> JPY 12,962; x 0.0067 = 86.8454 -> USD 86.85
    books = Books(
        book_of(
            entity(),
            customer(customer_id="C-J", currency="JPY"),
            project(project_id="P-JY", customer_id="C-J", billing_currency="JPY"),
            employee(),
            spot("JPY", "USD", "0.0067", ON),
        )
    )
    cost, rebill = books.post(
        expense(project_id="P-JY", amount=D("12345"), currency="JPY", markup_rate=D("0.0500"))
    )
    assert rows(cost)[0] == ("5100", "DEBIT", D("12345"), D("82.71"))
    assert rows(rebill) == [
        ("1150", "DEBIT", D("12962"), D("86.85")),
        ("4100", "CREDIT", D("12962"), D("86.85")),
    ]
    assert str(rebill.lines[0].amount) == "12962"
