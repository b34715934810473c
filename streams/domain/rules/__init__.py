"""Posting rules: pure functions from an event and reference data to an outcome."""

from streams.domain.rules.booking import Booked
from streams.domain.rules.credit_memo import post_credit_memo
from streams.domain.rules.expense import ExpenseOutcome, post_expense
from streams.domain.rules.invoice import post_invoice
from streams.domain.rules.outcome import Held, Posted, Skipped
from streams.domain.rules.payment import post_payment
from streams.domain.rules.time_entry import TimeEntryOutcome, post_time_entry

__all__ = [
    "Booked",
    "ExpenseOutcome",
    "Held",
    "Posted",
    "Skipped",
    "TimeEntryOutcome",
    "post_credit_memo",
    "post_expense",
    "post_invoice",
    "post_payment",
    "post_time_entry",
]
