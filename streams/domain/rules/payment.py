"""Payment rule (docs/design.md §4): cash in, receivables out, realised FX on the difference.

A payment is one command in journal ``CASH`` on ``received_on``, in its currency (the
invoices' currency), converted at the SPOT rate of the payment date:

- Dr 1000 Cash: the amount received, at today's rate;
- Cr 1100 per invoice allocated: the amount, at the receivable's carried base (a
  part pays its pro-rata share of the base; the last part clears what is left);
- Cr 2310 Customer credits: what an allocation pays above what is open on its
  invoice (an overpayment, or a payment after a credit memo), at the invoice's
  rate, as a credit memo's excess is; and whatever is not allocated, at today's
  rate (unapplied cash). The customer's credit is drawn later by an invoice's
  ``credit_applied``;
- 7900 FX gain/loss: realised difference between the payment-date and invoice rates.

A payment and a credit memo on the same invoice leave the same balances in either
order: each relieves what is open and puts the rest on 2310.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from streams.domain.accounts import Account
from streams.domain.commands import CommandDraft, Dimensions, Leg, Side, SourceRef, build_command
from streams.domain.exceptions import InvalidEventError, UnpostedSourceError
from streams.domain.fx import resolve_rate
from streams.domain.money import convert_amount, show_amount
from streams.domain.payments import PaymentReceived
from streams.domain.posted import Delta, Effects, PostedLedger, ar_key, credit_key, relieve
from streams.domain.reference import ReferenceBook
from streams.domain.rules.booking import Booked, fx_difference_leg

__all__ = ["JOURNAL", "post_payment"]

JOURNAL: Final = "CASH"


def post_payment(
    payment: PaymentReceived,
    book: ReferenceBook,
    ledger: PostedLedger,
    *,
    source: SourceRef,
    rule_version: str,
) -> Booked:
    """Receive cash: Dr 1000 / Cr 1100 per invoice (carried base) / Cr 2310 rest / 7900 FX.

    Args:
        payment: The payment version to post.
        book: Reference data: the entity and SPOT rates.
        ledger: What was posted: the invoices and their open receivables (this
            payment's earlier version already undone).
        source: Where the payment was read (its id and version name the command).
        rule_version: Version of this rule, part of the ``command_id``.

    Returns:
        One command; effects: receivables relieved, the customer's credit added.

    Raises:
        UnpostedSourceError: An allocated invoice has not been posted (park).
        InvalidEventError: An invoice of another entity, customer or currency.
        MissingFxRateError: No SPOT rate for the payment date.

    """
    entity = book.entity(payment.entity_id)
    currency, mode, base_ccy = payment.currency, entity.rounding_mode, entity.base_currency
    fx = resolve_rate(
        book, from_ccy=currency, to_ccy=base_ccy, on=payment.received_on, entity=entity
    )
    head = Dimensions(customer_id=payment.customer_id)
    legs = [Leg(Account.CASH, Side.DEBIT, payment.amount, head, payment.reference)]
    deltas: list[Delta] = []
    credits = credit_key(entity.entity_id, payment.customer_id, currency)
    for i, allocation in enumerate(payment.allocations):
        where = f"allocations.{i}.invoice_id"
        if not allocation.amount:
            continue
        invoice = ledger.invoices.get(allocation.invoice_id)
        if invoice is None:
            raise UnpostedSourceError("invoice", allocation.invoice_id, field=where)
        mine = (payment.entity_id, payment.customer_id, currency)
        theirs = (invoice.entity_id, invoice.customer_id, invoice.currency)
        if mine != theirs:
            raise InvalidEventError(
                f"{where}: payment is {'/'.join(mine)}, invoice {invoice.invoice_id} is "
                f"{'/'.join(theirs)}",
                field=where,
            )
        key = ar_key(allocation.invoice_id)
        receivable = ledger.balance(key)
        open_amount = max(receivable.amount, Decimal(0)) if receivable is not None else Decimal(0)
        paid = min(allocation.amount, open_amount)
        if paid and receivable is not None:
            base = relieve(receivable, paid, base_ccy, mode)
            legs.append(
                Leg(
                    Account.ACCOUNTS_RECEIVABLE,
                    Side.CREDIT,
                    paid,
                    head,
                    allocation.invoice_id,
                    base,
                )
            )
            deltas.append(Delta(key=key, currency=currency, amount=-paid, base=-base))
        excess = allocation.amount - paid
        if excess:
            # at the invoice's rate, as a credit memo books what exceeds the open amount
            base = convert_amount(excess, invoice.fx.rate, base_ccy, mode)
            memo = f"{allocation.invoice_id}: paid above the {open_amount} open"
            legs.append(Leg(Account.CUSTOMER_CREDITS, Side.CREDIT, excess, head, memo, base))
            deltas.append(Delta(key=credits, currency=currency, amount=excess, base=base))
    allocated = sum((a.amount for a in payment.allocations), Decimal(0))
    on_account = payment.amount - allocated
    if on_account:
        legs.append(Leg(Account.CUSTOMER_CREDITS, Side.CREDIT, on_account, head, "on account"))
        deltas.append(
            Delta(
                key=credits,
                currency=currency,
                amount=on_account,
                base=convert_amount(on_account, fx.rate, base_ccy, mode),
            )
        )
    fx_leg = fx_difference_leg(legs, fx, entity, head)
    if fx_leg is not None:
        legs.append(fx_leg)
    if not payment.amount:
        return Booked((), Effects())
    draft = CommandDraft(
        effect="payment",
        journal=JOURNAL,
        effective_date=payment.received_on,
        transaction_currency=currency,
        legs=tuple(legs),
        source=source,
        rule_version=rule_version,
        memo=f"Payment {payment.payment_id} {payment.customer_id} "
        f"{show_amount(payment.amount, currency)} {currency}",
    )
    return Booked((build_command(entity, draft, fx),), Effects(deltas=tuple(deltas)))
