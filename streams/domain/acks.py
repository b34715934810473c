"""The books' answer to a posting command (``acct.ledger-acks``), and what it tells the PM system.

The books (``ledgerstream books``, ``streams/books/``) answer every command once its
booking transaction committed: ``BOOKED``; ``EXISTS`` when the command id (the
idempotency key) was booked before with the same body; ``REJECTED`` with a stable
``reason_code`` and a reason; ``REJECTED_EXISTS_WITH_DIFFERENT_BODY`` when the id was
booked before with another body. The worker turns each answer into sync feedback.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from streams.domain.feedback import FeedbackStatus, SyncFeedback

__all__ = ["AckStatus", "LedgerAck", "RejectCode", "feedback_of"]


class AckStatus(StrEnum):
    """The books' answer to one command."""

    BOOKED = "BOOKED"
    EXISTS = "EXISTS"
    REJECTED = "REJECTED"
    REJECTED_EXISTS_WITH_DIFFERENT_BODY = "REJECTED_EXISTS_WITH_DIFFERENT_BODY"


class RejectCode(StrEnum):
    """Why the books refused a command (stable: used in acks, metrics and docs/books.md)."""

    UNBALANCED = "UNBALANCED"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    CLOSED_PERIOD = "CLOSED_PERIOD"
    REVERSES_UNKNOWN = "REVERSES_UNKNOWN"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    REVERSAL_MISMATCH = "REVERSAL_MISMATCH"
    INVALID_COMMAND = "INVALID_COMMAND"
    DIFFERENT_BODY = "DIFFERENT_BODY"


class LedgerAck(BaseModel):
    """What the books did with one command; mirrors ``schemas/acct.ledger-acks`` v1."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    status: AckStatus
    reason_code: str = ""
    reason: str = ""
    action: str
    reverses: str | None = None
    entity_id: str
    period: str
    source_type: str
    source_id: str
    source_version: int
    source_event_time: AwareDatetime
    command_partition: int
    command_offset: int
    decided_at: AwareDatetime


def feedback_of(ack: LedgerAck) -> SyncFeedback | None:
    """Tell the project system what the books did with one of a record's commands.

    ``BOOKED`` becomes ``BOOKED`` feedback for the command's source record version;
    either rejection becomes ``REJECTED`` with the books' code and reason. ``EXISTS``
    says nothing new (the command was booked, and answered, before): None.
    """
    if ack.status is AckStatus.EXISTS:
        return None
    if ack.status is AckStatus.BOOKED:
        status = FeedbackStatus.BOOKED
        reason = f"reversal of {ack.reverses} booked" if ack.reverses else ""
    else:
        status = FeedbackStatus.REJECTED
        reason = f"{ack.status.value} {ack.reason_code}: {ack.reason}".strip()
    return SyncFeedback(
        source_type=ack.source_type,
        source_id=ack.source_id,
        version=max(ack.source_version, 1),
        status=status,
        command_ids=(ack.command_id,),
        reason=reason,
        related_id=ack.reverses,
        event_time=ack.source_event_time,
    )
