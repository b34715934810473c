"""Errors of the producer toolkit: a rejected event says which field and why."""

from __future__ import annotations

from typing import ClassVar

from streams.domain.exceptions import InvalidEventError

__all__ = ["EventRejectedError"]


class EventRejectedError(InvalidEventError):
    """An event does not satisfy its topic's current contract; nothing was sent.

    Attributes:
        topic: The logical topic the event was meant for.
        field: Dotted path of the offending field (``lines[0].amount``), if known.
        reason: What is wrong with it, without the field prefix.

    """

    code: ClassVar[str] = "EVENT_REJECTED"

    def __init__(self, topic: str, reason: str, *, field: str | None = None) -> None:
        """Build ``"<topic>: <field>: <reason>"``, the message every tool prints."""
        prefix = f"{field}: " if field else ""
        super().__init__(f"{topic}: {prefix}{reason}", field=field)
        self.topic = topic
        self.reason = reason
