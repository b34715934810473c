"""An accounting period's bounds, and the pieces every period-close command shares."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Final

from streams.domain.commands import FxProvenance, RateType, SourceRef
from streams.domain.exceptions import InvalidEventError

__all__ = [
    "CLOSE_SYSTEM",
    "CLOSE_TOPIC",
    "close_source",
    "identity_fx",
    "last_day",
    "parse_period",
]

#: ``SourceRef.system`` of every command the period close makes.
CLOSE_SYSTEM: Final = "ledgerstream-close"
#: ``SourceRef.topic`` of period-close commands: they come from an operator run, not a record.
CLOSE_TOPIC: Final = "ledgerstream.period-close"
_PERIOD: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(period: str) -> tuple[int, int]:
    """Return ``(year, month)`` of a ``YYYY-MM`` period.

    Raises:
        InvalidEventError: The text is not a ``YYYY-MM`` period.

    """
    match = _PERIOD.match(period)
    if match is None:
        raise InvalidEventError(f"period: expected YYYY-MM, got {period!r}", field="period")
    return int(match.group(1)), int(match.group(2))


def last_day(period: str) -> date:
    """Return the last calendar day of a ``YYYY-MM`` period (the close's effective date)."""
    year, month = parse_period(period)
    return date(year, month, calendar.monthrange(year, month)[1])


def close_source(kind: str, source_id: str, version: int, period: str) -> SourceRef:
    """Name a period-close command's source: its kind, a stable id and the rule data's version.

    ``event_time`` is the end of the period's last day (UTC), never the clock, so the
    same inputs make the same command.
    """
    return SourceRef(
        system=CLOSE_SYSTEM,
        type=kind,
        id=source_id,
        version=version,
        topic=CLOSE_TOPIC,
        partition=0,
        offset=0,
        event_time=datetime.combine(last_day(period), time(23, 59, 59), tzinfo=UTC),
    )


def identity_fx(on: date) -> FxProvenance:
    """Return the rate of a command already in its entity's base currency: 1, IDENTITY."""
    return FxProvenance(
        rate=Decimal(1), rate_type=RateType.IDENTITY, rate_date=on, source="identity"
    )
