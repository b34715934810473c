"""Operator-command errors, in the domain's terms (stable ``code``, ``field``).

::

    LedgerstreamError                          (streams.domain.exceptions)
     +-- PermanentError
          +-- InvalidArgumentError          INVALID_ARGUMENT  (field: the option)
          +-- GroupActiveError              GROUP_ACTIVE      (a worker still consumes)
          +-- OffsetResetError              OFFSET_RESET_REFUSED

Kafka failures stay :class:`~streams.adapters.exceptions.KafkaAdminError` with the
broker's error code.
"""

from __future__ import annotations

from typing import ClassVar

from streams.domain.exceptions import PermanentError

__all__ = ["GroupActiveError", "InvalidArgumentError", "OffsetResetError"]


class InvalidArgumentError(PermanentError):
    """An operator argument cannot be used (``field`` names the option): nothing was done."""

    code: ClassVar[str] = "INVALID_ARGUMENT"


class GroupActiveError(PermanentError):
    """The consumer group still has a running member: offsets are not touched."""

    code: ClassVar[str] = "GROUP_ACTIVE"


class OffsetResetError(PermanentError):
    """A planned offset reset is unsafe as asked (e.g. it would skip unread records)."""

    code: ClassVar[str] = "OFFSET_RESET_REFUSED"
