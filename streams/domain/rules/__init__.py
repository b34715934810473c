"""Posting rules: pure functions from an event and reference data to an outcome."""

from streams.domain.rules.outcome import Held, Posted
from streams.domain.rules.time_entry import TimeEntryOutcome, post_time_entry

__all__ = ["Held", "Posted", "TimeEntryOutcome", "post_time_entry"]
