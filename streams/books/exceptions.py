"""Errors of the books.

    LedgerstreamError (streams.domain.exceptions)
    └── BooksError                    BOOKS_ERROR: the books cannot go on (a defect or setup)
        └── BooksDatabaseError        BOOKS_DATABASE: the database refused or is unreachable

A refused *command* is no error: it is answered ``REJECTED`` on ``acct.ledger-acks``.
"""

from __future__ import annotations

from typing import ClassVar

from streams.domain.exceptions import LedgerstreamError

__all__ = ["BooksDatabaseError", "BooksError", "driver_reason"]


class BooksError(LedgerstreamError):
    """The books cannot go on: a setup problem (an unknown database URL) or a defect."""

    code: ClassVar[str] = "BOOKS_ERROR"


class BooksDatabaseError(BooksError):
    """The books' database refused a statement or cannot be reached (the driver's text kept)."""

    code: ClassVar[str] = "BOOKS_DATABASE"
    retryable: ClassVar[bool] = True


def driver_reason(exc: Exception) -> str:
    """Return the first line of what the database driver said (SQLAlchemy wraps it in ``orig``)."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
