"""Close and reopen an entity's accounting period in the books.

A closed period books nothing more: a command dated in it is answered
``REJECTED`` ``CLOSED_PERIOD`` (``streams.books.booking``). Reopening lets the
same command, sent again, book.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from streams.books.exceptions import BooksDatabaseError, BooksError, driver_reason
from streams.books.tables import periods

__all__ = ["check_period", "close_period", "closed_periods", "reopen_period"]

_PERIOD: Final = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def check_period(period: str) -> str:
    """Return ``period`` if it reads ``YYYY-MM``; else raise ``BooksError``."""
    if not _PERIOD.fullmatch(period):
        raise BooksError(f"period: expected YYYY-MM, got {period!r}", field="period")
    return period


def close_period(engine: Engine, entity_id: str, period: str, *, operator: str) -> bool:
    """Close ``period`` for ``entity_id``; return False if it was closed already."""
    check_period(period)
    try:
        with engine.begin() as conn:
            if conn.execute(
                select(periods.c.period).where(
                    periods.c.entity_id == entity_id, periods.c.period == period
                )
            ).first():
                return False
            conn.execute(
                insert(periods).values(
                    entity_id=entity_id,
                    period=period,
                    closed_at=datetime.now(UTC).isoformat(),
                    closed_by=operator,
                )
            )
    except SQLAlchemyError as exc:
        raise BooksDatabaseError(f"closing {entity_id} {period}: {driver_reason(exc)}") from exc
    return True


def reopen_period(engine: Engine, entity_id: str, period: str) -> bool:
    """Reopen ``period`` for ``entity_id``; return False if it was not closed."""
    check_period(period)
    try:
        with engine.begin() as conn:
            done = conn.execute(
                delete(periods).where(periods.c.entity_id == entity_id, periods.c.period == period)
            )
    except SQLAlchemyError as exc:
        raise BooksDatabaseError(f"reopening {entity_id} {period}: {driver_reason(exc)}") from exc
    return bool(done.rowcount)


def closed_periods(engine: Engine) -> list[tuple[str, str, str, str]]:
    """Every closed period: (entity, period, closed at, closed by), sorted."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(periods.c.entity_id, periods.c.period, periods.c.closed_at, periods.c.closed_by)
        ).all()
    return sorted((r.entity_id, r.period, r.closed_at, r.closed_by) for r in rows)
