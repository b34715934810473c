"""The error tree: stable codes, retryability, field paths, and pickling."""

from __future__ import annotations

import pickle
from datetime import date

import pytest
from streams.domain.exceptions import (
    InvalidEventError,
    LedgerstreamError,
    MissingFxRateError,
    MissingReferenceError,
    NoBillingRateError,
    PermanentError,
    TransientError,
    UnbalancedCommandError,
    UnknownCurrencyError,
)


@pytest.mark.parametrize(
    ("error", "code", "retryable", "parent"),
    [
        (LedgerstreamError("x"), "INTERNAL_ERROR", False, Exception),
        (InvalidEventError("x"), "INVALID_EVENT", False, PermanentError),
        (UnknownCurrencyError("x"), "UNKNOWN_CURRENCY", False, InvalidEventError),
        (NoBillingRateError("x"), "NO_BILLING_RATE", False, PermanentError),
        (UnbalancedCommandError("x"), "UNBALANCED_COMMAND", False, PermanentError),
        (MissingReferenceError("project", "P-1"), "MISSING_REFERENCE", True, TransientError),
        (
            MissingFxRateError("EUR", "USD", date(2026, 3, 31), 5),
            "MISSING_FX_RATE",
            True,
            TransientError,
        ),
    ],
)
def test_every_error_has_a_stable_code_and_retryability(
    error: LedgerstreamError, code: str, retryable: bool, parent: type[Exception]
) -> None:
    assert (error.code, error.retryable) == (code, retryable)
    assert isinstance(error, parent)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(copy), str(copy), copy.field) == (type(error), str(error), error.field)


def test_field_and_reference_details_are_kept() -> None:
    assert InvalidEventError("bad", field="lines.0.amount").field == "lines.0.amount"
    missing = MissingReferenceError("customer", "C-9")
    assert (missing.kind, missing.key) == ("customer", "C-9")
    assert str(missing) == "customer 'C-9' not found in reference data"
    fx = MissingFxRateError("EUR", "USD", date(2026, 3, 31), 5)
    assert str(fx) == "no SPOT EUR/USD rate dated between 2026-03-26 and 2026-03-31"
