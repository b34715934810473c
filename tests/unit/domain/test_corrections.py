"""Worked examples for corrections, approvals and business dates; amounts computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from streams.domain.commands import CommandAction, CostClass
from streams.domain.feedback import FeedbackStatus
from streams.domain.posted import PostedLedger, wip_key
from streams.domain.rules import Held, Skipped
from tests.unit.domain.billing_builders import Books, expense, invoice, line, rows
from tests.unit.domain.builders import (
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


def test_time_entry_edited_after_posting_reverses_then_reposts() -> None:
    # v1 75 min: revenue 187.50, cost 100.00; v2 60 min: revenue 150.00, cost 80.00
    books = Books(standard_book())
    revenue_v1, cost_v1 = books.post(time_entry())
    rev_rev, rev_cost, revenue_v2, cost_v2 = books.post(time_entry(version=2, duration_minutes=60))
    assert (rev_rev.action, rev_rev.reverses) == (CommandAction.REVERSE, revenue_v1.command_id)
    assert rev_cost.reverses == cost_v1.command_id
    assert rows(rev_rev) == [
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "DEBIT", D("187.50"), D("187.50")),
    ]
    assert (rev_rev.effective_date, rev_rev.source.version) == (date(2026, 3, 31), 2)
    assert rows(revenue_v2)[0] == ("1150", "DEBIT", D("150.00"), D("150.00"))
    assert rows(cost_v2)[0] == ("5000", "DEBIT", D("80.00"), D("80.00"))
    assert books.balance("4000") == (D("-150.00"), D("-150.00"))
    wip = books.ledger.balance(wip_key("time_entry", "TE-1"))
    assert wip is not None
    assert wip.amount == D("150.00")


def test_identical_version_replayed_posts_nothing_and_is_counted() -> None:
    books = Books(standard_book())
    first = books.post(time_entry())
    assert books.post(time_entry()) == ()
    assert isinstance(books.last.outcome if books.last else None, Skipped)
    assert books.ledger.skipped == 1
    assert len(first) == 2


def test_older_version_after_a_newer_one_posts_nothing() -> None:
    books = Books(standard_book())
    books.post(time_entry(version=3, duration_minutes=60))
    assert books.post(time_entry(version=2)) == ()
    assert books.balance("4000") == (D("-150.00"), D("-150.00"))


def test_deletion_reverses_everything_and_a_second_deletion_is_skipped() -> None:
    books = Books(standard_book())
    books.post(time_entry())
    reversals = books.delete("time_entry", "TE-1")
    assert [c.action for c in reversals] == [CommandAction.REVERSE, CommandAction.REVERSE]
    assert books.net() == {}
    assert books.feedback[-1].status is FeedbackStatus.REVERSED
    assert books.ledger.balance(wip_key("time_entry", "TE-1")) is None
    assert books.delete("time_entry", "TE-1") == ()
    assert books.ledger.skipped == 1


def test_entry_approved_late_is_held_then_posts_in_the_period_worked() -> None:
    # worked 2026-03-31, approved 2026-05-03: effective 2026-03-31, period 2026-03
    books = Books(standard_book())
    assert books.post(time_entry(status="SUBMITTED", approved_by=None, approved_at=None)) == ()
    assert books.last is not None
    assert books.last.outcome == Held("awaiting approval")
    assert books.feedback[-1].status is FeedbackStatus.HELD
    late = datetime(2026, 5, 3, 10, 0, tzinfo=UTC)
    revenue, _ = books.post(time_entry(version=2, approved_by="carol", approved_at=late))
    assert (revenue.effective_date, revenue.period) == (date(2026, 3, 31), "2026-03")
    assert revenue.approval is not None
    assert (revenue.approval.approved_by, revenue.approval.approved_at) == ("carol", late)
    assert revenue.action is CommandAction.POST


def test_an_edit_awaiting_reapproval_keeps_the_approved_posting_until_approved() -> None:
    # v1 approved (187.50) stays while v2 is SUBMITTED; v3 approved (60 min) replaces it
    books = Books(standard_book())
    books.post(time_entry())
    assert books.post(time_entry(version=2, status="SUBMITTED", duration_minutes=30)) == ()
    assert books.balance("4000") == (D("-187.50"), D("-187.50"))
    books.post(time_entry(version=3, duration_minutes=60))
    assert books.balance("4000") == (D("-150.00"), D("-150.00"))
    assert books.balance("2150") == (D("-80.00"), D("-80.00"))


def test_entry_at_2330_local_on_the_last_day_of_the_month_stays_in_that_month() -> None:
    # 2026-03-31 23:30 New York (EDT, UTC-4) = 2026-04-01 03:30 UTC; 30 min x EUR 120 = 60.00
    # rate date 03-31: 60.00 x 1.08 = USD 64.80 (the 04-01 rate 1.20 is not used)
    books = Books(
        book_of(
            entity(),
            customer(),
            project(billing_currency="EUR", rate=D("120.0000")),
            employee(),
            spot("EUR", "USD", "1.08", date(2026, 3, 31)),
            spot("EUR", "USD", "1.20", date(2026, 4, 1)),
        )
    )
    started = datetime(2026, 4, 1, 3, 30, tzinfo=UTC)
    revenue, cost = books.post(time_entry(started_at=started, duration_minutes=30))
    assert (revenue.effective_date, revenue.period) == (date(2026, 3, 31), "2026-03")
    assert revenue.fx.rate_date == date(2026, 3, 31)
    assert rows(revenue)[0] == ("1150", "DEBIT", D("60.00"), D("64.80"))
    assert rows(cost)[0] == ("5000", "DEBIT", D("40.00"), D("40.00"))


def test_intercompany_week_books_both_sides_tagged_with_the_counterparty() -> None:
    # hans (DE, EUR 60/h) works 8 h a day Mon-Fri on US project P-100 (USD 150/h)
    # revenue 5 x 1200.00 = 6000.00 USD; IC cost 5 x 480.00 EUR = 2400.00 EUR
    # in US at 1.08: 5 x 518.40 = 2592.00 USD (Dr 5000 / Cr 2400); DE: Dr 1200 / Cr 2150 EUR
    books = Books(
        standard_book(
            entity(entity_id="DE", base_currency="EUR", timezone="Europe/Berlin"),
            employee(employee_id="hans", entity_id="DE", cost_currency="EUR", cost_rate=D("60")),
            spot("EUR", "USD", "1.08", date(2026, 3, 23)),
        )
    )
    monday = datetime(2026, 3, 23, 13, 0, tzinfo=UTC)
    for day in range(5):
        books.post(
            time_entry(
                entry_id=f"TE-H{day}",
                employee_id="hans",
                started_at=monday + timedelta(days=day),
                duration_minutes=480,
            )
        )
    assert books.balance("4000", "US") == (D("-6000.00"), D("-6000.00"))
    assert books.balance("5000", "US") == (D("2400.00"), D("2592.00"))
    assert books.balance("2400", "US") == (D("-2400.00"), D("-2592.00"))
    assert books.balance("1200", "DE") == (D("2400.00"), D("2400.00"))
    assert books.balance("2150", "DE") == (D("-2400.00"), D("-2400.00"))
    tags = {
        (c.entity_id, ln.dimensions.counterparty_entity_id)
        for c in books.commands
        for ln in c.lines
        if ln.account in {"2400", "1200"}
    }
    assert tags == {("US", "DE"), ("DE", "US")}


def test_capex_project_capitalises_time_and_expenses_and_bills_nothing() -> None:
    # 3 x 120 min x USD 80/h = 3 x 160.00 = 480.00; software 99.00 -> 1300 = 579.00
    books = Books(
        standard_book(project(project_id="P-CAP", kind="INTERNAL_CAPEX", customer_id=None))
    )
    for n in range(3):
        books.post(time_entry(entry_id=f"TE-C{n}", project_id="P-CAP", duration_minutes=120))
    books.post(expense(project_id="P-CAP", billable=False, amount=D("99.00"), category="SOFTWARE"))
    assert books.balance("1300") == (D("579.00"), D("579.00"))
    assert books.balance("4000") == (D("0"), D("0"))
    classes = {ln.dimensions.cost_class for c in books.commands for ln in c.lines}
    assert classes == {CostClass.CAPEX}


def test_reissued_invoice_reverses_the_first_version_and_relieves_the_same_wip() -> None:
    # v1 bills TE-1 at 200.00 (write-up 12.50); v2 at 190.00 (write-up 2.50); AR 190.00
    books = Books(standard_book())
    books.post(time_entry())
    books.post(invoice(lines=[line(amount=D("200.00"), time_entry_ids=["TE-1"])]))
    reverse, post = books.post(
        invoice(version=2, lines=[line(amount=D("190.00"), time_entry_ids=["TE-1"])])
    )
    assert reverse.action is CommandAction.REVERSE
    assert rows(post) == [
        ("1100", "DEBIT", D("190.00"), D("190.00")),
        ("1150", "CREDIT", D("187.50"), D("187.50")),
        ("4000", "CREDIT", D("2.50"), D("2.50")),
    ]
    assert books.balance("1100") == (D("190.00"), D("190.00"))
    assert books.balance("1150") == (D("0.00"), D("0.00"))


def test_posted_ledger_round_trips_through_json() -> None:
    books = Books(standard_book())
    books.post(time_entry())
    books.post(invoice(lines=[line(amount=D("200.00"), time_entry_ids=["TE-1"])]))
    text = books.ledger.model_dump_json()
    assert PostedLedger.model_validate_json(text) == books.ledger


def test_posted_feedback_names_the_commands_sent() -> None:
    books = Books(standard_book())
    commands = books.post(time_entry())
    (feedback,) = books.last.feedback if books.last else ()
    assert feedback.status is FeedbackStatus.POSTED
    assert feedback.command_ids == tuple(c.command_id for c in commands)


def _intercompany_books(*, us_approval: bool, de_approval: bool) -> Books:
    return Books(
        standard_book(
            entity(approval_required=us_approval),
            entity(
                entity_id="DE",
                base_currency="EUR",
                timezone="Europe/Berlin",
                approval_required=de_approval,
            ),
            employee(employee_id="hans", entity_id="DE", cost_currency="EUR", cost_rate=D("60")),
            spot("EUR", "USD", "1.08", date(2026, 3, 30)),
        )
    )


def test_intercompany_time_waits_for_the_approval_the_employees_entity_requires() -> None:
    # issue 16: only the project entity's policy was checked; DE requires approval, US not
    books = _intercompany_books(us_approval=False, de_approval=True)
    submitted = time_entry(
        employee_id="hans", status="SUBMITTED", approved_by=None, approved_at=None
    )
    assert books.post(submitted) == ()
    assert books.last is not None
    assert books.last.outcome == Held("awaiting approval (required by DE, the employee's entity)")
    assert books.feedback[-1].status is FeedbackStatus.HELD
    effects = [c.source.version for c in books.post(time_entry(employee_id="hans", version=2))]
    assert effects == [2, 2, 2]  # revenue, ic-cost, ic-recharge once approved
    # an entity that does not require approval on either side posts a submitted entry
    relaxed = _intercompany_books(us_approval=False, de_approval=False)
    assert len(relaxed.post(submitted)) == 3


def test_each_side_of_intercompany_time_is_dated_in_its_own_entity() -> None:
    # 2026-03-31 23:30 in New York is 2026-04-01 05:30 in Berlin: the US side (ic-cost)
    # posts in March, the German recharge in April, each in its own period
    books = _intercompany_books(us_approval=False, de_approval=False)
    late = datetime(2026, 4, 1, 3, 30, tzinfo=UTC)
    _revenue, ic_cost, recharge = books.post(
        time_entry(employee_id="hans", started_at=late, duration_minutes=60)
    )
    assert (ic_cost.entity_id, ic_cost.effective_date, ic_cost.period) == (
        "US",
        date(2026, 3, 31),
        "2026-03",
    )
    assert (recharge.entity_id, recharge.effective_date, recharge.period) == (
        "DE",
        date(2026, 4, 1),
        "2026-04",
    )
    assert recharge.memo.startswith("Time cost 2026-04-01 hans 1.00h")
    assert recharge.fx.rate_date == date(2026, 4, 1)
