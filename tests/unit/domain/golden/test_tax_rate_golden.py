"""Golden worked examples: tax rates finer than 4 decimal places (``tax_rate_exact``).

New York City's combined sales tax is 8.875 % (0.08875): five decimal places. v1's
``tax_rate`` carries four, so the rate could not be expressed and rounding it to
8.88 % bills the wrong tax. From ``pm.invoices`` v2 the rate is ``tax_rate_exact``
(up to 8 places). Every amount is computed by hand.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from streams.domain.exceptions import InvalidEventError
from streams.domain.invoices import InvoiceLine
from tests.unit.domain.billing_builders import Books, invoice, line, rows
from tests.unit.domain.builders import standard_book

D = Decimal
NYC: dict[str, object] = {"tax_code": "US-NY-NYC", "tax_rate_exact": D("0.08875")}


def test_new_york_city_tax_at_8_875_percent_is_billed_exactly() -> None:
    """Rule: invoice tax at the line's exact rate (not 8.88 %)."""
    # Fees 1000.00 and 250.00 at 8.875 %, PER_INVOICE (the US entity's default):
    #   1250.00 x 0.08875 = 110.9375 -> 110.94 (at 8.88 %: 111.00, 0.06 too much);
    #   AR 1250.00 + 110.94 = 1360.94
    books = Books(standard_book())
    (command,) = books.post(
        invoice(
            lines=[
                line(1, kind="FIXED_FEE", amount=D("1000.00"), **NYC),
                line(2, kind="FIXED_FEE", amount=D("250.00"), **NYC),
            ]
        )
    )
    assert rows(command) == [
        ("1100", "DEBIT", D("1360.94"), D("1360.94")),
        ("4000", "CREDIT", D("1000.00"), D("1000.00")),
        ("4000", "CREDIT", D("250.00"), D("250.00")),
        ("2200", "CREDIT", D("110.94"), D("110.94")),
    ]


def test_the_rate_has_up_to_8_places_and_the_v1_field_only_4() -> None:
    exact = InvoiceLine.model_validate(
        {"line_no": 1, "kind": "FIXED_FEE", "amount": D("1"), "discount": D("0"), **NYC}
    )
    assert exact.rate == D("0.08875")
    finest = exact.model_copy(update={"tax_rate_exact": D("0.12345678")})
    assert finest.rate == D("0.12345678")
    with pytest.raises(ValueError, match="at most 8 decimal places"):
        InvoiceLine.model_validate(
            {
                "line_no": 1,
                "kind": "FIXED_FEE",
                "amount": D("1"),
                "discount": D("0"),
                "tax_code": "X",
                "tax_rate_exact": D("0.123456789"),
            }
        )
    with pytest.raises(ValueError, match="at most 4 decimal places"):
        InvoiceLine.model_validate(
            {
                "line_no": 1,
                "kind": "FIXED_FEE",
                "amount": D("1"),
                "discount": D("0"),
                "tax_code": "X",
                "tax_rate": D("0.08875"),
            }
        )


def test_a_v1_rate_alone_still_applies_and_both_rates_must_agree() -> None:
    # tax_rate 0.2000 alone (a v1 record, or a v2 producer whose rate fits 4 places): 20 %
    books = Books(standard_book())
    v1_rate = {"tax_code": "VAT", "tax_rate": D("0.2000")}
    (command,) = books.post(invoice(lines=[line(kind="FIXED_FEE", amount=D("10.00"), **v1_rate)]))
    assert rows(command)[-1] == ("2200", "CREDIT", D("2.00"), D("2.00"))
    both = {"tax_code": "US-NY-NYC", "tax_rate": D("0.0888"), "tax_rate_exact": D("0.08875")}
    with pytest.raises(InvalidEventError) as info:
        invoice(lines=[line(kind="FIXED_FEE", amount=D("10.00"), **both)])
    assert info.value.field == "lines.0.tax_rate"
    with pytest.raises(InvalidEventError) as info:
        invoice(lines=[line(kind="FIXED_FEE", amount=D("10.00"), tax_code="US-NY-NYC")])
    assert info.value.field == "lines.0.tax_rate_exact"
