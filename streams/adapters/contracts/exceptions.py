"""Errors of the schema-contract tooling: its own files are unreadable or malformed.

A schema that breaks a rule is not an exception here: the gate reports it as a
:class:`~streams.adapters.contracts.gate.Problem` so every problem is listed at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from streams.domain.exceptions import PermanentError

__all__ = ["ContractFileError"]


class ContractFileError(PermanentError):
    """``subjects.yaml``, ``published.lock`` or the changelog is unreadable or malformed.

    Attributes:
        path: The offending file.

    """

    code: ClassVar[str] = "INVALID_CONTRACT_FILE"

    def __init__(self, message: str, *, path: Path, field: str | None = None) -> None:
        """Prefix the message with the file (and the entry, when known)."""
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + message, field=field)
        self.path = path
