"""The domain's error tree: every error says whether retrying can help.

Each class has a stable ``code`` (metrics label, DLQ ``error_code`` and header) and a
``retryable`` flag chosen where the error is raised. ``field`` is the dotted path of
the offending input field when one is known (DLQ ``field``)::

    Exception
     +-- LedgerstreamError              INTERNAL_ERROR      (bug: not retryable)
          +-- PermanentError                                -> dead letter
          |    +-- InvalidEventError    INVALID_EVENT
          |    |    +-- UnknownCurrencyError  UNKNOWN_CURRENCY
          |    +-- NoBillingRateError   NO_BILLING_RATE
          |    +-- UnbalancedCommandError  UNBALANCED_COMMAND
          |    +-- AlreadyBilledError   ALREADY_BILLED     (an entry on two live invoices)
          |    +-- BalanceExceededError BALANCE_EXCEEDED   (pays/credits/draws more than open)
          +-- TransientError                                -> park / retry, then DLQ
               +-- MissingReferenceError  MISSING_REFERENCE (kind, key)
               +-- MissingFxRateError     MISSING_FX_RATE   (kind "fx_rate", key "FROM/TO")
               +-- UnpostedSourceError    UNPOSTED_SOURCE   (kind, key: not posted yet)
               +-- RelocationBlockedError RELOCATION_BLOCKED (moved, but billed here)

Adapters translate foreign errors (Avro, Kafka) into their own subclasses of
``PermanentError`` / ``TransientError`` at their boundary.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

__all__ = [
    "AlreadyBilledError",
    "BalanceExceededError",
    "InvalidEventError",
    "LedgerstreamError",
    "MissingFxRateError",
    "MissingReferenceError",
    "NoBillingRateError",
    "PermanentError",
    "RelocationBlockedError",
    "TransientError",
    "UnbalancedCommandError",
    "UnknownCurrencyError",
    "UnpostedSourceError",
]


class LedgerstreamError(Exception):
    """Base of every ledgerstream error; on its own it means a bug (INTERNAL_ERROR)."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    retryable: ClassVar[bool] = False
    #: Writer schema id of the record that failed, when it was decoded (DLQ ``schema_id``).
    schema_id: int | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        """Carry a message and, when known, the dotted path of the offending field."""
        super().__init__(message)
        self.message = message
        self.field = field


class PermanentError(LedgerstreamError):
    """Retrying the same record cannot help: the record goes to the dead letter topic."""

    retryable: ClassVar[bool] = False


class TransientError(LedgerstreamError):
    """Retrying later may help (data still on its way): park or retry, then dead-letter."""

    retryable: ClassVar[bool] = True


class InvalidEventError(PermanentError):
    """A record does not satisfy the data contract (type, range or required field)."""

    code: ClassVar[str] = "INVALID_EVENT"


class UnknownCurrencyError(InvalidEventError):
    """A currency code is not in the ISO 4217 minor-unit table."""

    code: ClassVar[str] = "UNKNOWN_CURRENCY"


class NoBillingRateError(PermanentError):
    """A billable time entry has no rate at any level of the precedence chain."""

    code: ClassVar[str] = "NO_BILLING_RATE"


class UnbalancedCommandError(PermanentError):
    """A posting command does not balance, or has a malformed line: never sent."""

    code: ClassVar[str] = "UNBALANCED_COMMAND"


class AlreadyBilledError(PermanentError):
    """An invoice bills a time entry or expense that a live invoice already billed."""

    code: ClassVar[str] = "ALREADY_BILLED"


class BalanceExceededError(PermanentError):
    """A payment, credit memo or retainer drawdown exceeds what is open to relieve."""

    code: ClassVar[str] = "BALANCE_EXCEEDED"


class MissingReferenceError(TransientError):
    """A reference record (entity, customer, project, employee) has not arrived yet.

    Attributes:
        kind: The reference kind, e.g. ``"project"``.
        key: The missing record's key, e.g. ``"P-100"``.

    """

    code: ClassVar[str] = "MISSING_REFERENCE"

    def __init__(self, kind: str, key: str, *, field: str | None = None) -> None:
        """Name the missing record by kind and key."""
        super().__init__(f"{kind} {key!r} not found in reference data", field=field)
        self.kind = kind
        self.key = key

    def __reduce__(self) -> tuple[type[MissingReferenceError], tuple[str, str], dict[str, object]]:
        """Pickle with the constructor's arguments (the default would pass the message)."""
        return (type(self), (self.kind, self.key), self.__dict__)


class MissingFxRateError(TransientError):
    """No SPOT rate for a currency pair within the allowed staleness window.

    Attributes:
        kind: Always ``"fx_rate"`` (for parking alongside missing references).
        key: The pair, ``"FROM/TO"``; any rate for it dated in the window unblocks.
        from_currency: Currency converted from.
        to_currency: Currency converted to.
        on: The business date a rate was needed for.
        earliest: The oldest rate date that would have been accepted.
        max_staleness_days: How many days older than ``on`` a rate could be.

    """

    code: ClassVar[str] = "MISSING_FX_RATE"

    def __init__(
        self,
        from_currency: str,
        to_currency: str,
        on: date,
        max_staleness_days: int,
        *,
        field: str | None = None,
    ) -> None:
        """Name the pair, the business date and the staleness window searched."""
        earliest = on - timedelta(days=max_staleness_days)
        super().__init__(
            f"no SPOT {from_currency}/{to_currency} rate dated between "
            f"{earliest.isoformat()} and {on.isoformat()}",
            field=field,
        )
        self.kind = "fx_rate"
        self.key = f"{from_currency}/{to_currency}"
        self.from_currency = from_currency
        self.to_currency = to_currency
        self.on = on
        self.earliest = earliest
        self.max_staleness_days = max_staleness_days

    def __reduce__(
        self,
    ) -> tuple[type[MissingFxRateError], tuple[str, str, date, int], dict[str, object]]:
        """Pickle with the constructor's arguments (the default would pass the message)."""
        return (
            type(self),
            (self.from_currency, self.to_currency, self.on, self.max_staleness_days),
            self.__dict__,
        )


class UnpostedSourceError(TransientError):
    """A source record an event relies on has not been posted yet (park until it is).

    Attributes:
        kind: The source type, e.g. ``"time_entry"`` or ``"invoice"``.
        key: The source id, e.g. ``"TE-1"``.

    """

    code: ClassVar[str] = "UNPOSTED_SOURCE"

    def __init__(self, kind: str, key: str, *, field: str | None = None) -> None:
        """Name the unposted source by type and id."""
        super().__init__(f"{kind} {key!r} has not been posted", field=field)
        self.kind = kind
        self.key = key

    def __reduce__(self) -> tuple[type[UnpostedSourceError], tuple[str, str], dict[str, object]]:
        """Pickle with the constructor's arguments (the default would pass the message)."""
        return (type(self), (self.kind, self.key), self.__dict__)


class RelocationBlockedError(TransientError):
    """A record now posts in another ledger, but its version here cannot be reversed yet.

    It is billed on a live invoice here, or its receivable or deposit is relieved:
    the reversal waits (parked) until that is credited or reversed, and is
    dead-lettered with this reason past the parking deadline.
    """

    code: ClassVar[str] = "RELOCATION_BLOCKED"
