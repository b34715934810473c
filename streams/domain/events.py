"""Project events as the domain sees them, and their validation at the boundary.

These are the *canonical* models: the shape of each topic's newest schema version.
Records written with an older version are translated into this shape before they
get here (``streams.adapters.avro.translate``), so rules see one model per event.
A decoded record (a plain dict) becomes an event model through ``parse_event``,
which turns a pydantic ``ValidationError`` into an ``InvalidEventError`` naming the
first offending field as a dotted path, so a dead letter says what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from streams.domain.exceptions import InvalidEventError, UnknownCurrencyError
from streams.domain.fields import CurrencyCode, FractionValue, MoneyValue, RateValue

__all__ = [
    "ExpenseCategory",
    "ExpenseRecorded",
    "ExpenseStatus",
    "TimeEntryRecorded",
    "TimeEntryStatus",
    "parse_event",
]

M = TypeVar("M", bound=BaseModel)


class TimeEntryStatus(StrEnum):
    """Where a time entry is in its approval workflow."""

    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"


_MINUTE_MS: Final = 60_000


class TimeEntryRecorded(BaseModel):
    """A version of a time entry was recorded in the project system (``pm.time-entries``).

    Edits and approvals are new versions of the same ``entry_id``. The work is the
    interval ``started_at`` .. ``ended_at`` (UTC instants); the business date is
    ``started_at`` in the project entity's timezone. ``rate_override`` is in the
    project's billing currency. Canonical shape: ``pm.time-entries`` v2.
    """

    model_config = ConfigDict(frozen=True)

    entry_id: str
    version: int = Field(ge=1)
    employee_id: str
    project_id: str
    task_id: str | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime
    billable: bool
    billable_fraction: FractionValue | None = None
    rate_override: RateValue | None = None
    status: TimeEntryStatus
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None
    description: str = ""
    recorded_at: AwareDatetime
    external_id: str | None = None

    @field_validator("ended_at")
    @classmethod
    def _not_before_start(cls, ended_at: Any, info: ValidationInfo) -> Any:
        started_at = info.data.get("started_at")
        if started_at is not None and ended_at < started_at:
            raise PydanticCustomError(
                "ends_before_start",
                "must not be before started_at ({started_at})",
                {"started_at": started_at.isoformat()},
            )
        return ended_at

    @property
    def duration_minutes(self) -> int:
        """Whole minutes worked: a part minute of 30 s or more counts as a minute."""
        millis = (self.ended_at - self.started_at) // timedelta(milliseconds=1)
        return (millis + _MINUTE_MS // 2) // _MINUTE_MS


class ExpenseCategory(StrEnum):
    """Kind of expense (``OTHER`` stands in for symbols added by newer producers)."""

    TRAVEL = "TRAVEL"
    LODGING = "LODGING"
    MEALS = "MEALS"
    MILEAGE = "MILEAGE"
    SUPPLIES = "SUPPLIES"
    SOFTWARE = "SOFTWARE"
    TRAINING = "TRAINING"
    OTHER = "OTHER"


class ExpenseStatus(StrEnum):
    """Where an expense is in its approval workflow."""

    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"


class ExpenseRecorded(BaseModel):
    """A version of an expense was recorded in the project system (``pm.expenses``).

    Versioned like time entries. ``project_id`` is None for a shared cost.
    ``markup_rate`` is required here (0 = no markup) though the schema keeps it
    nullable: v1 records, where null meant no markup, are translated to 0.
    Canonical shape: ``pm.expenses`` v2.
    """

    model_config = ConfigDict(frozen=True)

    expense_id: str
    version: int = Field(ge=1)
    employee_id: str
    project_id: str | None = None
    incurred_on: date
    amount: MoneyValue
    currency: CurrencyCode
    category: ExpenseCategory
    billable: bool
    markup_rate: RateValue
    receipt_ref: str | None = None
    status: ExpenseStatus
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None
    business_purpose: str = ""
    merchant: str = ""
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
    if error.get("input", "") is None and str(error["type"]).endswith("_type"):
        reason = "is required (null is not allowed)"
    elif error["type"] != "missing":
        shown = error.get("input")
        # as the input was written: JSON (`"x"`, `true`, `null`), not Python (`'x'`, `None`)
        plain = shown is None or isinstance(shown, str | bool | int | float)
        text = json.dumps(shown, ensure_ascii=False) if plain else str(shown)
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
