"""Period locks: a record dated in a closed period posts into the first open one, flagged.

Worked example (amounts by hand): time entry TE-1, 75 minutes on 2026-03-31 at a
150/h bill rate and an 80/h cost rate (``standard_book``): revenue 187.50 (Dr 1150 /
Cr 4000), cost 100.00 (Dr 5000). Entity US closes 2026-03.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from streams.domain.commands import CommandAction, PostLedgerEntry
from streams.domain.feedback import FeedbackStatus
from streams.domain.period_locks import (
    NO_LOCKS,
    PeriodLocks,
    is_period,
    next_period,
    period_lock_name,
    period_lock_of,
)
from streams.domain.posting import post_deletion, post_event
from streams.domain.rules import Posted
from streams.domain.toggles import Toggle, Toggles
from tests.unit.domain.billing_builders import Books, rows, source_of
from tests.unit.domain.builders import RULE_VERSION, standard_book, time_entry

D = Decimal
MARCH_CLOSED = PeriodLocks(frozenset({("US", "2026-03")}))


def test_periods_follow_each_other_across_the_year_end() -> None:
    assert next_period("2026-03") == "2026-04"
    assert next_period("2026-12") == "2027-01"
    assert (is_period("2026-13"), is_period("2026-3"), is_period("2026-09")) == (
        False,
        False,
        True,
    )
    with pytest.raises(ValueError, match="YYYY-MM"):
        next_period("March")


def test_lock_names_round_trip_and_other_names_are_not_locks() -> None:
    assert period_lock_name("US", "2026-03") == "period_lock/US/2026-03"
    assert period_lock_of("period_lock/US/2026-03") == ("US", "2026-03")
    assert period_lock_of("period_lock/US/2026-3") is None
    assert period_lock_of("period_lock//2026-03") is None
    assert period_lock_of("kill_switch/US") is None


def test_the_first_open_period_skips_every_closed_one_of_that_entity_only() -> None:
    locks = PeriodLocks(frozenset({("US", "2026-03"), ("US", "2026-04"), ("UK", "2026-05")}))
    assert locks.open_period("US", "2026-03") == "2026-05"
    assert locks.open_period("US", "2026-05") == "2026-05"
    assert locks.open_period("UK", "2026-03") == "2026-03"


def _post(locks: PeriodLocks, **entry: object) -> tuple[Books, tuple[PostLedgerEntry, ...]]:
    books = Books(standard_book())
    event = time_entry(**entry)
    step = post_event(
        books.ledger,
        event,
        books.book,
        source=source_of(event),
        rule_version=RULE_VERSION,
        locks=locks,
    )
    return books, books._keep(step)


def test_golden_a_late_record_after_a_lock_posts_into_april_with_its_own_date() -> None:
    _, open_commands = _post(NO_LOCKS)
    books, late_commands = _post(MARCH_CLOSED)

    revenue, cost = late_commands
    assert rows(revenue) == [
        ("1150", "DEBIT", D("187.50"), D("187.50")),
        ("4000", "CREDIT", D("187.50"), D("187.50")),
    ]
    assert rows(cost)[0] == ("5000", "DEBIT", D("100.00"), D("100.00"))
    for command, unlocked in zip(late_commands, open_commands, strict=True):
        assert command.effective_date == date(2026, 3, 31)
        assert command.period == "2026-04"
        assert command.late_for_period == "2026-03"
        assert unlocked.period == "2026-03"
        assert unlocked.late_for_period is None
        # same command id: the period is not part of it
        assert command.command_id == unlocked.command_id
    (feedback,) = books.feedback
    assert feedback.status is FeedbackStatus.POSTED
    assert feedback.late_for_period == "2026-03"
    assert feedback.reason == "period 2026-03 is closed: posted into 2026-04"


def test_a_correction_after_the_close_reverses_into_the_open_period_too() -> None:
    books = Books(standard_book())
    books.post(time_entry())  # posted in March, before the close
    v2 = time_entry(version=2, duration_minutes=60)
    step = post_event(
        books.ledger,
        v2,
        books.book,
        source=source_of(v2),
        rule_version=RULE_VERSION,
        locks=MARCH_CLOSED,
    )
    assert isinstance(step.outcome, Posted)
    commands = step.outcome.commands
    assert [c.action for c in commands] == [CommandAction.REVERSE] * 2 + [CommandAction.POST] * 2
    assert {(c.period, c.late_for_period) for c in commands} == {("2026-04", "2026-03")}
    assert rows(commands[2])[0] == ("1150", "DEBIT", D("150.00"), D("150.00"))
    # what the table keeps is what was sent: a later reversal mirrors the April entry
    stored = step.ledger.live("time_entry", "TE-1")
    assert stored is not None
    assert {c.period for c in stored.commands} == {"2026-04"}
    deleted = post_deletion(
        step.ledger, source=source_of(v2), rule_version=RULE_VERSION, locks=MARCH_CLOSED
    )
    assert isinstance(deleted.outcome, Posted)
    assert {c.period for c in deleted.outcome.commands} == {"2026-04"}
    assert deleted.feedback[0].status is FeedbackStatus.REVERSED
    assert deleted.feedback[0].late_for_period == "2026-03"


def test_a_reopened_period_receives_its_records_again() -> None:
    at = datetime(2026, 4, 2, tzinfo=UTC)

    def lock(enabled: bool) -> Toggle:
        return Toggle(
            name="period_lock/US/2026-03",
            enabled=enabled,
            reason="month end",
            changed_by="ops",
            changed_at=at,
        )

    closed = Toggles().applied("period_lock/US/2026-03", lock(True))
    assert closed.closed_periods == {("US", "2026-03")}
    assert closed.reopened_periods == frozenset()
    reopened = closed.applied("period_lock/US/2026-03", lock(False))
    assert (reopened.closed_periods, reopened.reopened_periods) == (
        frozenset(),
        {("US", "2026-03")},
    )
    assert reopened.applied("period_lock/US/2026-03", None).reopened_periods == frozenset()
    _, commands = _post(reopened.period_locks())
    assert {c.period for c in commands} == {"2026-03"}
    _, commands = _post(closed.period_locks())
    assert {c.period for c in commands} == {"2026-04"}
