"""Project events as the domain sees them, and their validation at the boundary.

A decoded Avro record (a plain dict) becomes an event model through ``parse_event``,
which turns a pydantic ``ValidationError`` into an ``InvalidEventError`` naming the
first offending field as a dotted path, so a dead letter says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from streams.domain.exceptions import InvalidEventError, UnknownCurrencyError
from streams.domain.fields import FractionValue, RateValue

__all__ = ["TimeEntryRecorded", "TimeEntryStatus", "parse_event"]

M = TypeVar("M", bound=BaseModel)


class TimeEntryStatus(StrEnum):
    """Where a time entry is in its approval workflow."""

    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"


class TimeEntryRecorded(BaseModel):
    """A version of a time entry was recorded in the project system (``pm.time-entries``).

    Edits and approvals are new versions of the same ``entry_id``. ``started_at`` is the
    UTC instant work started; the business date is that instant in the project
    entity's timezone. ``rate_override`` is in the project's billing currency.
    """

    model_config = ConfigDict(frozen=True)

    entry_id: str
    version: int = Field(ge=1)
    employee_id: str
    project_id: str
    task_id: str | None = None
    started_at: AwareDatetime
    duration_minutes: int = Field(ge=0)
    billable: bool
    billable_fraction: FractionValue | None = None
    rate_override: RateValue | None = None
    status: TimeEntryStatus
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None
    description: str = ""
    recorded_at: AwareDatetime


_MAX_INPUT_CHARS: Final = 80

_REASONS: Final[dict[str, str]] = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "missing": "is required",
    "timezone_aware": "must be a timezone-aware instant",
}


def _describe(error: Mapping[str, Any]) -> tuple[str | None, str]:
    """Return the dotted field path and a short reason for one pydantic error."""
    path = ".".join(str(part) for part in error["loc"]) or None
    template = _REASONS.get(error["type"])
    reason = template.format(**error.get("ctx", {})) if template else str(error["msg"])
    if error["type"] != "missing":
        shown = error.get("input")
        text = repr(shown) if isinstance(shown, str) else str(shown)
        if len(text) > _MAX_INPUT_CHARS:
            text = text[: _MAX_INPUT_CHARS - 3] + "..."
        reason = f"{reason} (got {text})"
    return path, reason


def parse_event(model: type[M], record: Mapping[str, Any]) -> M:
    """Validate a decoded record into a domain model, or reject it as a permanent error.

    Args:
        model: The pydantic model to build (an event or a reference record).
        record: The decoded Avro value, a plain dict.

    Returns:
        The validated, immutable model.

    Raises:
        UnknownCurrencyError: The first error is an unknown currency code.
        InvalidEventError: Any other violation; ``field`` is the dotted path of the
            first offending field, the message reads ``"<field>: <reason> (got <x>)"``.

    """
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        path, reason = _describe(first)
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        message = f"{path or model.__name__}: {reason}{more}"
        error_class = (
            UnknownCurrencyError if first["type"] == "unknown_currency" else InvalidEventError
        )
        raise error_class(message, field=path) from exc
