"""Invoices as the domain sees them (``pm.invoices``): issued invoice, credit memo, retainer.

One topic carries the three documents a services business bills with, told apart by
``kind``. Lines reference the time entries and expenses they bill, so the invoice
relieves exactly the WIP accrued for them. Invariants the rules rely on are checked
here, at the boundary: a violation is an ``InvalidEventError`` naming the field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from streams.domain.exceptions import InvalidEventError
from streams.domain.fields import CurrencyCode, MoneyValue, RateValue, TaxRateValue
from streams.domain.money import exponent

__all__ = [
    "InvoiceIssued",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceLineKind",
    "check_minor_units",
]


class InvoiceKind(StrEnum):
    """Which document: a sales invoice, a credit memo against one, or a retainer invoice."""

    INVOICE = "INVOICE"
    CREDIT_MEMO = "CREDIT_MEMO"
    RETAINER = "RETAINER"


class InvoiceLineKind(StrEnum):
    """What a line bills: accrued time or expenses, a fixed fee, a milestone, a deposit."""

    TIME = "TIME"
    EXPENSE = "EXPENSE"
    FIXED_FEE = "FIXED_FEE"
    MILESTONE = "MILESTONE"
    DEPOSIT = "DEPOSIT"


def check_minor_units(amount: Decimal, currency: str, field: str) -> None:
    """Refuse an amount finer than its currency's minor unit (JPY 0, BHD 3 places).

    Raises:
        InvalidEventError: ``amount`` has more decimals than ``currency`` allows.

    """
    quantum = Decimal(1).scaleb(-exponent(currency))
    if amount != amount.quantize(quantum):
        raise InvalidEventError(
            f"{field}: must be in whole minor units of {currency} (got {amount})", field=field
        )


class InvoiceLine(BaseModel):
    """One line of an invoice: net amount, discount, tax code and what it bills.

    The line's tax rate is ``tax_rate_exact`` (up to 8 decimal places, schema v2),
    else ``tax_rate`` (4 places, as v1 carried it): see ``rate``.
    """

    model_config = ConfigDict(frozen=True)

    line_no: int = Field(ge=1)
    kind: InvoiceLineKind
    project_id: str | None = None
    description: str = ""
    amount: MoneyValue
    discount: MoneyValue
    tax_code: str | None = None
    tax_rate: RateValue | None = None
    tax_rate_exact: TaxRateValue | None = None
    time_entry_ids: tuple[str, ...] = ()
    expense_ids: tuple[str, ...] = ()

    @property
    def net(self) -> Decimal:
        """The taxable amount: ``amount - discount``."""
        return self.amount - self.discount

    @property
    def rate(self) -> Decimal | None:
        """The tax rate of the line's code: ``tax_rate_exact``, else ``tax_rate``."""
        return self.tax_rate_exact if self.tax_rate_exact is not None else self.tax_rate


class InvoiceIssued(BaseModel):
    """A version of an invoice, credit memo or retainer invoice was issued (``pm.invoices``).

    ``issued_on`` is the business date (entity-local). A CREDIT_MEMO has no lines
    of its own: it credits ``credited_line_nos`` of ``credited_invoice_id`` in full.
    ``retainer_applied`` draws the customer's deposits down (INVOICE only);
    ``credit_applied`` draws the customer's credit (unapplied cash, credits on
    account) down (INVOICE only; null means none).
    """

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    version: int = Field(ge=1)
    kind: InvoiceKind
    entity_id: str
    customer_id: str
    project_id: str | None = None
    currency: CurrencyCode
    issued_on: date
    lines: tuple[InvoiceLine, ...] = ()
    retainer_applied: MoneyValue
    credit_applied: MoneyValue | None = None
    credited_invoice_id: str | None = None
    credited_line_nos: tuple[int, ...] = ()
    description: str = ""
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIssued:
        memo = self.kind is InvoiceKind.CREDIT_MEMO
        if memo and (self.credited_invoice_id is None or not self.credited_line_nos):
            raise InvalidEventError(
                "credited_invoice_id: a credit memo names its invoice and the lines it credits",
                field="credited_invoice_id",
            )
        if memo and self.lines:
            raise InvalidEventError(
                "lines: a credit memo credits lines of its invoice; it has none of its own",
                field="lines",
            )
        if not memo and (self.credited_invoice_id is not None or self.credited_line_nos):
            raise InvalidEventError(
                f"credited_invoice_id: only a credit memo credits an invoice (kind {self.kind})",
                field="credited_invoice_id",
            )
        if not memo and not self.lines:
            raise InvalidEventError("lines: an invoice needs at least one line", field="lines")
        if len(set(self.credited_line_nos)) != len(self.credited_line_nos):
            raise InvalidEventError(
                "credited_line_nos: a line is credited once", field="credited_line_nos"
            )
        if self.retainer_applied and self.kind is not InvoiceKind.INVOICE:
            raise InvalidEventError(
                f"retainer_applied: only an INVOICE draws deposits down (kind {self.kind})",
                field="retainer_applied",
            )
        check_minor_units(self.retainer_applied, self.currency, "retainer_applied")
        if self.credit_applied and self.kind is not InvoiceKind.INVOICE:
            raise InvalidEventError(
                f"credit_applied: only an INVOICE draws customer credit down (kind {self.kind})",
                field="credit_applied",
            )
        if self.credit_applied is not None:
            check_minor_units(self.credit_applied, self.currency, "credit_applied")
        seen: set[int] = set()
        for i, line in enumerate(self.lines):
            self._check_line(i, line, seen)
        return self

    def _check_line(self, i: int, line: InvoiceLine, seen: set[int]) -> None:
        where = f"lines.{i}"
        if line.line_no in seen:
            raise InvalidEventError(f"{where}.line_no: duplicate {line.line_no}", field=where)
        seen.add(line.line_no)
        check_minor_units(line.amount, self.currency, f"{where}.amount")
        check_minor_units(line.discount, self.currency, f"{where}.discount")
        if line.discount > line.amount:
            raise InvalidEventError(
                f"{where}.discount: must not exceed the amount {line.amount}",
                field=f"{where}.discount",
            )
        if (line.tax_code is None) != (line.rate is None):
            field = "tax_rate_exact" if line.tax_code is not None else "tax_code"
            raise InvalidEventError(
                f"{where}.{field}: a tax code and its rate (tax_rate_exact, or a v1 "
                "tax_rate) come together",
                field=f"{where}.{field}",
            )
        exact, short = line.tax_rate_exact, line.tax_rate
        if exact is not None and short is not None and exact != short:
            raise InvalidEventError(
                f"{where}.tax_rate: {short} differs from tax_rate_exact {exact}; leave it "
                "null when the rate has more than 4 decimal places",
                field=f"{where}.tax_rate",
            )
        deposit = line.kind is InvoiceLineKind.DEPOSIT
        if deposit != (self.kind is InvoiceKind.RETAINER):
            raise InvalidEventError(
                f"{where}.kind: DEPOSIT lines belong on RETAINER invoices, and only they",
                field=f"{where}.kind",
            )
        if line.time_entry_ids and line.kind is not InvoiceLineKind.TIME:
            raise InvalidEventError(
                f"{where}.time_entry_ids: only TIME lines bill time entries",
                field=f"{where}.time_entry_ids",
            )
        if line.expense_ids and line.kind is not InvoiceLineKind.EXPENSE:
            raise InvalidEventError(
                f"{where}.expense_ids: only EXPENSE lines bill expenses",
                field=f"{where}.expense_ids",
            )
