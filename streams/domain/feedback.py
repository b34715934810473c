"""Sync feedback to the project system (``pm.sync-feedback``): what became of a record.

A separate output from the posting commands: the project system learns that a time
entry, expense, invoice or payment version was posted (with the command ids), held
(and why), reversed (deleted or superseded), or released back to WIP by a credit
memo so it can be billed again.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["FeedbackStatus", "SyncFeedback"]


class FeedbackStatus(StrEnum):
    """What happened to a source record version."""

    POSTED = "POSTED"
    HELD = "HELD"
    REVERSED = "REVERSED"
    RELEASED = "RELEASED"
    BOOKED = "BOOKED"
    REJECTED = "REJECTED"


class SyncFeedback(BaseModel):
    """A source record version was posted, held, reversed or released for re-invoicing.

    ``BOOKED`` and ``REJECTED`` (schema v2) say what the accounting system did with
    the commands; ``late_for_period`` names the closed period a record dated in it
    was posted after (into the first open period).
    """

    model_config = ConfigDict(frozen=True)

    source_type: str
    source_id: str
    version: int = Field(ge=1)
    status: FeedbackStatus
    command_ids: tuple[str, ...] = ()
    reason: str = ""
    related_id: str | None = None
    event_time: AwareDatetime
    late_for_period: str | None = None
