"""Subject policies: each subject's compatibility mode, read from ``schemas/subjects.yaml``.

The modes are the Confluent Schema Registry's. :func:`pairs` turns a mode into the
(reader version, writer version) pairs that must be compatible, which is what both
the gate checks and the registry enforces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.adapters.contracts.exceptions import ContractFileError

__all__ = ["Compatibility", "SubjectPolicy", "load_policies", "pairs"]


class Compatibility(StrEnum):
    """A subject's compatibility mode (the registry's names)."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def backward(self) -> bool:
        """True if a new version must read what earlier versions wrote."""
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """True if earlier versions must read what the new version writes."""
        return self.value.startswith(("FORWARD", "FULL"))

    @property
    def transitive(self) -> bool:
        """True if every earlier version counts, not only the previous one."""
        return self.value.endswith("_TRANSITIVE")


@dataclass(frozen=True, slots=True)
class SubjectPolicy:
    """The declared compatibility of one subject, and why it differs from the default."""

    subject: str
    compatibility: Compatibility
    why: str = ""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    compatibility: Compatibility
    why: str = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    default: Compatibility
    subjects: dict[str, _Entry] = Field(default_factory=dict)


def load_policies(path: Path, subjects: Iterable[str]) -> dict[str, SubjectPolicy]:
    """Read every subject's compatibility mode (the file's default for unlisted ones).

    Args:
        path: ``schemas/subjects.yaml``.
        subjects: The subjects that have schemas (from the catalog).

    Returns:
        One policy per subject of ``subjects``.

    Raises:
        ContractFileError: The file is unreadable or malformed, or names a subject
            that has no schema (a typo would silently apply the default).

    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _File.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ContractFileError(f"cannot read: {exc}", path=path) from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ContractFileError(str(first["msg"]), path=path, field=where) from exc
    known = set(subjects)
    unknown = sorted(set(parsed.subjects) - known)
    if unknown:
        raise ContractFileError(
            f"names subject {unknown[0]!r}, which has no schema (subjects: {sorted(known)})",
            path=path,
            field=f"subjects.{unknown[0]}",
        )
    policies = {}
    for subject in sorted(known):
        entry = parsed.subjects.get(subject)
        policies[subject] = (
            SubjectPolicy(subject, entry.compatibility, entry.why)
            if entry is not None
            else SubjectPolicy(subject, parsed.default)
        )
    return policies


def pairs(mode: Compatibility, versions: int) -> list[tuple[int, int]]:
    """Return the (reader, writer) version pairs that ``mode`` requires to be compatible.

    Args:
        mode: The subject's compatibility mode.
        versions: How many versions the subject has (1..versions).

    Returns:
        Pairs in a stable order: for each new version, the backward pairs (new
        reader, old writer) then the forward ones (old reader, new writer).

    """
    result: list[tuple[int, int]] = []
    for new in range(2, versions + 1):
        olds = range(1, new) if mode.transitive else range(new - 1, new)
        if mode.backward:
            result += [(new, old) for old in olds]
        if mode.forward:
            result += [(old, new) for old in olds]
    return result
