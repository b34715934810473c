"""Payments as the domain sees them (``pm.payments``): cash received against invoices.

A payment may be partial and may settle several invoices; what is not allocated to
an invoice is held on account (customer deposits). The payment is in the invoices'
currency; its base value at the payment date's rate is what realises FX.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from streams.domain.exceptions import InvalidEventError
from streams.domain.fields import CurrencyCode, MoneyValue
from streams.domain.invoices import check_minor_units

__all__ = ["PaymentAllocation", "PaymentReceived"]


class PaymentAllocation(BaseModel):
    """The part of a payment that settles one invoice, in the payment's currency."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    amount: MoneyValue


class PaymentReceived(BaseModel):
    """A version of a customer payment was recorded (``pm.payments``).

    ``received_on`` is the business date (entity-local) and the FX rate date.
    """

    model_config = ConfigDict(frozen=True)

    payment_id: str
    version: int = Field(ge=1)
    entity_id: str
    customer_id: str
    currency: CurrencyCode
    amount: MoneyValue
    received_on: date
    allocations: tuple[PaymentAllocation, ...] = ()
    reference: str = ""
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> PaymentReceived:
        check_minor_units(self.amount, self.currency, "amount")
        ids = [a.invoice_id for a in self.allocations]
        if len(set(ids)) != len(ids):
            raise InvalidEventError(
                "allocations: an invoice appears once per payment", field="allocations"
            )
        for i, allocation in enumerate(self.allocations):
            check_minor_units(allocation.amount, self.currency, f"allocations.{i}.amount")
        allocated = sum((a.amount for a in self.allocations), start=self.amount * 0)
        if allocated > self.amount:
            raise InvalidEventError(
                f"allocations: {allocated} allocated exceeds the payment {self.amount}",
                field="allocations",
            )
        return self
