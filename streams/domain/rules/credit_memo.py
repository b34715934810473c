"""Credit memo rule (docs/design.md §4): reverse chosen invoice lines, release their WIP.

A CREDIT_MEMO names its invoice and the lines it credits in full. It is one command in
journal ``INVOICE`` on the memo's ``issued_on`` at the *invoice's* rate, so that
revenue, discounts and the WIP relieved go back exactly (transaction and base):

- each credited line's legs, mirrored (Dr 1150 restores the WIP the line relieved,
  at its accrued base; Dr 4000/4100 revenue; Cr 4900 discount; Dr 2300 the deposit
  a retainer invoice's DEPOSIT line billed, taken off the deposits still held at
  their carried base, refused if they were drawn down already);
- Dr 2200 the credited lines' shares of the invoice's tax (``tax_by_line``: under
  PER_INVOICE the tax rounded once is split over the lines, so memos crediting
  every line give back exactly the tax charged);
- Cr 1100 up to what is still open on the invoice; any excess (the invoice was
  already paid) is a credit on account, Cr 2310 Customer credits, at the invoice's
  rate (as a payment's excess over what is open is: either order, same books).

The entries of the credited lines are released: billable again, and a ``RELEASED``
sync-feedback record tells the project system so.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Final

from streams.domain.accounts import Account
from streams.domain.commands import CommandDraft, Dimensions, Leg, Side, SourceRef, build_command
from streams.domain.exceptions import BalanceExceededError, InvalidEventError, UnpostedSourceError
from streams.domain.invoices import InvoiceIssued
from streams.domain.money import convert_amount, show_amount
from streams.domain.posted import (
    Balance,
    Bill,
    Delta,
    Effects,
    LinePosting,
    PostedLedger,
    ar_key,
    credit_key,
    deposit_key,
    deposit_tax_key,
    relieve,
)
from streams.domain.reference import LegalEntity, ReferenceBook
from streams.domain.rules.booking import Booked, fx_difference_leg, wip_pieces
from streams.domain.rules.tax import Taxable, tax_by_line

__all__ = ["JOURNAL", "credited_key", "post_credit_memo"]

JOURNAL: Final = "INVOICE"


def credited_key(invoice_id: str, line_no: int) -> str:
    """Name an invoice line in the table of credited lines: ``"INV-1#2"``."""
    return f"{invoice_id}#{line_no}"


def post_credit_memo(
    memo: InvoiceIssued,
    book: ReferenceBook,
    ledger: PostedLedger,
    *,
    source: SourceRef,
    rule_version: str,
) -> Booked:
    """Credit invoice lines: mirror their legs, Dr 2200 tax, Cr 1100 (excess Cr 2310).

    Args:
        memo: The credit memo version (``credited_invoice_id``, ``credited_line_nos``).
        book: Reference data (the entity).
        ledger: What was posted: the invoice as posted, its open receivable, and
            which lines are already credited (this memo's earlier version undone).
        source: Where the memo was read (its id and version name the command).
        rule_version: Version of this rule, part of the ``command_id``.

    Returns:
        One command; effects: WIP restored per entry, entries unbilled (released),
        receivable relieved, deposits returned, the excess credited on account, the lines
        marked credited.

    Raises:
        UnpostedSourceError: The invoice has not been posted (park).
        InvalidEventError: Another entity, customer or currency than the invoice's,
            or a line the invoice does not have.
        BalanceExceededError: A line is already credited by another memo, or a
            DEPOSIT line's deposits were drawn down already.

    """
    invoice_id = memo.credited_invoice_id or ""
    original = ledger.invoices.get(invoice_id)
    if original is None:
        raise UnpostedSourceError("invoice", invoice_id, field="credited_invoice_id")
    mine = (memo.entity_id, memo.customer_id, memo.currency)
    theirs = (original.entity_id, original.customer_id, original.currency)
    if mine != theirs:
        raise InvalidEventError(
            f"credited_invoice_id: memo is {'/'.join(mine)}, invoice {invoice_id} is "
            f"{'/'.join(theirs)}",
            field="credited_invoice_id",
        )
    entity = book.entity(original.entity_id)
    currency, mode, fx = original.currency, entity.rounding_mode, original.fx
    lines: list[LinePosting] = []
    for i, line_no in enumerate(memo.credited_line_nos):
        line = original.line(line_no)
        if line is None:
            raise InvalidEventError(
                f"credited_line_nos.{i}: invoice {invoice_id} has no line {line_no}",
                field=f"credited_line_nos.{i}",
            )
        holder = ledger.credited.get(credited_key(invoice_id, line_no))
        if holder is not None and holder != memo.invoice_id:
            raise BalanceExceededError(
                f"credited_line_nos.{i}: line {line_no} of {invoice_id} is already credited "
                f"by {holder}",
                field=f"credited_line_nos.{i}",
            )
        lines.append(line)
    head = Dimensions(project_id=memo.project_id, customer_id=memo.customer_id)
    deltas: list[Delta] = []
    deposits = deposit_key(entity.entity_id, memo.customer_id, currency)
    pieces: dict[int, tuple[Decimal, ...]] = {}
    legs = _mirrored(lines, ledger, entity, deposits, deltas, pieces=pieces)
    shares = tax_by_line(
        [Taxable(ln.line_no, ln.net, ln.tax_code, ln.tax_rate) for ln in original.lines],
        currency,
        mode,
        original.tax_rounding,
    )
    taxes = _taxes_credited(lines, shares)
    for code, tax in taxes.items():
        if tax:
            dims = head.model_copy(update={"tax_code": code})
            legs.append(Leg(Account.TAX_PAYABLE, Side.DEBIT, tax, dims, f"tax {code} credited"))
    total = sum((ln.net for ln in lines), Decimal(0)) + sum(taxes.values(), Decimal(0))
    receivable = ledger.balance(ar_key(invoice_id))
    open_amount = receivable.amount if receivable is not None else Decimal(0)
    credited = min(total, max(open_amount, Decimal(0)))
    if credited and receivable is not None:
        base = relieve(receivable, credited, entity.base_currency, mode)
        legs.append(Leg(Account.ACCOUNTS_RECEIVABLE, Side.CREDIT, credited, head, "credited", base))
        deltas.append(
            Delta(key=ar_key(invoice_id), currency=currency, amount=-credited, base=-base)
        )
    on_account = total - credited
    if on_account:
        legs.append(
            Leg(Account.CUSTOMER_CREDITS, Side.CREDIT, on_account, head, "credit on account")
        )
        deltas.append(
            Delta(
                key=credit_key(entity.entity_id, memo.customer_id, currency),
                currency=currency,
                amount=on_account,
                base=convert_amount(on_account, fx.rate, entity.base_currency, mode),
            )
        )
    fx_leg = fx_difference_leg(legs, fx, entity, head, pieces)
    if fx_leg is not None:
        legs.append(fx_leg)
    deltas += [release for line in lines for release in line.releases]
    deltas += _deposit_tax_returned(lines, shares, entity, memo, fx.rate)
    draft = CommandDraft(
        effect="credit-memo",
        journal=JOURNAL,
        effective_date=memo.issued_on,
        transaction_currency=currency,
        legs=tuple(legs),
        source=source,
        rule_version=rule_version,
        memo=f"CREDIT_MEMO {memo.invoice_id} on {invoice_id} lines "
        f"{','.join(str(n) for n in memo.credited_line_nos)} {show_amount(total, currency)} "
        f"{currency}",
    )
    effects = Effects(
        deltas=tuple(deltas),
        unbills=tuple(
            Bill(entry_key=key, invoice_id=invoice_id) for line in lines for key in line.entries
        ),
        credits=tuple(credited_key(invoice_id, line.line_no) for line in lines),
    )
    commands = (build_command(entity, draft, fx),) if legs else ()  # all zero: nothing to post
    return Booked(commands, effects)


def _taxes_credited(lines: list[LinePosting], shares: dict[int, Decimal]) -> dict[str, Decimal]:
    """Return the credited lines' shares of the invoice's tax, per tax code."""
    taxes: dict[str, Decimal] = {}
    for ln in lines:
        if ln.tax_code is not None and ln.line_no in shares:
            taxes[ln.tax_code] = taxes.get(ln.tax_code, Decimal(0)) + shares[ln.line_no]
    return taxes


def _deposit_tax_returned(
    lines: list[LinePosting],
    shares: dict[int, Decimal],
    entity: LegalEntity,
    memo: InvoiceIssued,
    rate: Decimal,
) -> list[Delta]:
    """Return the deltas taking the tax charged on credited deposits off what is held."""
    return [
        Delta(
            key=deposit_tax_key(entity.entity_id, memo.customer_id, memo.currency, ln.tax_code),
            currency=memo.currency,
            amount=-shares[ln.line_no],
            base=-convert_amount(
                shares[ln.line_no], rate, entity.base_currency, entity.rounding_mode
            ),
        )
        for ln in lines
        if ln.tax_code is not None and shares.get(ln.line_no) and _deposit(ln)
    ]


def _deposit(line: LinePosting) -> bool:
    """Tell whether a posted line billed a retainer deposit (Cr 2300)."""
    return any(
        leg.account == Account.CUSTOMER_DEPOSITS and leg.side is Side.CREDIT for leg in line.legs
    )


def _mirrored(
    lines: list[LinePosting],
    ledger: PostedLedger,
    entity: LegalEntity,
    key: str,
    deltas: list[Delta],
    *,
    pieces: dict[int, tuple[Decimal, ...]],
) -> list[Leg]:
    """Mirror the credited lines' legs; a deposit billed is taken off the deposits held.

    A retainer invoice's DEPOSIT line credited 2300 and added to the customer's
    deposits; crediting it takes that deposit back off them (Dr 2300 at their
    carried base, pro rata, so 7900 realises any difference from the invoice rate).
    ``pieces`` receives, per leg index, the WIP amounts a mirrored 1150 leg restores.

    Raises:
        BalanceExceededError: The deposits still held are less than the deposit the
            line billed (they were drawn down by an invoice: credit that first).

    """
    held = ledger.balance(key)
    legs: list[Leg] = []
    for i, line in enumerate(lines):
        where = f"credited_line_nos.{i}"
        for stored in line.legs:
            pieces[len(legs)] = wip_pieces(line, stored)
            leg = stored.mirrored().leg()
            deposit = stored.account == Account.CUSTOMER_DEPOSITS and stored.side is Side.CREDIT
            if deposit and leg.amount:
                if held is None or leg.amount > held.amount:
                    still = held.amount if held is not None else Decimal(0)
                    raise BalanceExceededError(
                        f"{where}: line {line.line_no} billed a deposit of {leg.amount}; "
                        f"only {still} is still held (drawn down already)",
                        field=where,
                    )
                base = relieve(held, leg.amount, entity.base_currency, entity.rounding_mode)
                held = Balance(
                    currency=held.currency, amount=held.amount - leg.amount, base=held.base - base
                )
                deltas.append(
                    Delta(key=key, currency=held.currency, amount=-leg.amount, base=-base)
                )
                leg = replace(leg, base_amount=base)
            legs.append(leg)
    return legs
