"""The books' chart of accounts: the default chart for every entity, and an entity's own codes.

A command posting to an account the chart does not hold for its entity is answered
``REJECTED`` ``UNKNOWN_ACCOUNT`` (``streams.books.booking``). An entity whose
``ref.entities`` account overrides (or ``LEDGERSTREAM_ACCOUNT_MAP``) post to codes
of its own opens them here first.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from streams.books.exceptions import BooksDatabaseError, driver_reason
from streams.books.tables import ALL_ENTITIES, accounts

__all__ = ["open_account"]


def open_account(engine: Engine, code: str, name: str, *, entity_id: str = ALL_ENTITIES) -> bool:
    """Add ``code`` to the chart of ``entity_id`` (``*``: every entity); False if it was there."""
    try:
        with engine.begin() as conn:
            if conn.execute(
                select(accounts.c.code).where(
                    accounts.c.entity_id == entity_id, accounts.c.code == code
                )
            ).first():
                return False
            conn.execute(insert(accounts).values(entity_id=entity_id, code=code, name=name))
    except SQLAlchemyError as exc:
        raise BooksDatabaseError(f"opening account {code}: {driver_reason(exc)}") from exc
    return True
