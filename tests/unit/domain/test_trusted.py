"""Values built without re-validation equal the validated ones; the balance is still checked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from streams.domain.commands import (
    Dimensions,
    PostingLine,
    Side,
    check_balanced,
)
from streams.domain.exceptions import UnbalancedCommandError
from streams.domain.trusted import trusted

D = Decimal


def _line(line_no: int, side: Side, amount: str, base: str) -> PostingLine:
    return PostingLine(
        line_no=line_no, account="1150", side=side, amount=D(amount), base_amount=D(base)
    )


def test_trusted_equals_validated() -> None:
    values = {
        "line_no": 1,
        "account": "1150",
        "side": Side.DEBIT,
        "amount": D("10.00"),
        "base_amount": D("9.10"),
        "memo": "m",
        "dimensions": Dimensions(project_id="P-1"),
    }
    built = trusted(PostingLine, dict(values))
    validated = PostingLine.model_validate(values)
    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json() == validated.model_dump_json()


def test_trusted_refuses_missing_fields() -> None:
    with pytest.raises(TypeError, match="missing"):
        trusted(PostingLine, {"line_no": 1})


def test_check_balanced_accepts_balanced_lines() -> None:
    lines = [_line(1, Side.DEBIT, "10.00", "9.10"), _line(2, Side.CREDIT, "10.00", "9.10")]
    check_balanced("c", lines, "EUR", "USD")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("DEBIT", "10.00", "9.10")], "needs 2"),
        ([("DEBIT", "10.00", "9.10"), ("CREDIT", "10.01", "9.10")], "debits"),
        ([("DEBIT", "10.00", "9.10"), ("CREDIT", "10.00", "9.11")], "base debits"),
        ([("DEBIT", "10.001", "9.10"), ("CREDIT", "10.001", "9.10")], "more than 2 decimals"),
        ([("DEBIT", "10.00", "9.10"), ("CREDIT", "10.00", "-9.10")], "negative"),
    ],
)
def test_check_balanced_refuses(lines: list[tuple[str, str, str]], message: str) -> None:
    built = [
        trusted(
            PostingLine,
            {
                "line_no": i + 1,
                "account": "1150",
                "side": Side(side),
                "amount": D(amount),
                "base_amount": D(base),
                "memo": "",
                "dimensions": Dimensions(),
            },
        )
        for i, (side, amount, base) in enumerate(lines)
    ]
    with pytest.raises(UnbalancedCommandError, match=message):
        check_balanced("c", built, "EUR", "USD")


def test_trailing_zeros_within_the_currency_are_accepted() -> None:
    lines = [_line(1, Side.DEBIT, "10.0000", "9.10"), _line(2, Side.CREDIT, "10", "9.1")]
    check_balanced("c", lines, "EUR", "USD")
