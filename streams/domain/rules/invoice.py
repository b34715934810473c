"""Invoice rule (docs/design.md §4): bill the customer, relieve WIP, book tax and deposits.

An INVOICE is one command in journal ``INVOICE`` on ``issued_on``, in its currency,
converted at the rate of the issue date (the project's contract rate if the invoice
names a project that has one, else SPOT):

- Dr 1100 Accounts receivable: lines net of discount + tax - retainer applied;
- Dr 2300 Customer deposits: retainer applied, at the deposits' carried base;
- Dr 4900 Discounts: each line's discount;
- Cr 1150 Unbilled: exactly the WIP accrued for the time entries / expenses the
  line references, at its accrued base; the line amount minus that WIP is a
  write-up (Cr) or write-down (Dr) on 4000 (TIME) or 4100 (EXPENSE);
- Cr 4000: FIXED_FEE and MILESTONE lines (and TIME lines that reference nothing);
- Cr 2200 Tax payable: per tax code, rounded per line or per invoice (entity policy);
- 7900 FX gain/loss: accrued base of the WIP / deposits relieved vs today's rate.

A RETAINER invoice bills deposits: Dr 1100 / Cr 2300 (net) / Cr 2200 (tax, VAT
regimes only: a sales-tax regime ``*-SALES`` refuses a taxed deposit). An invoice
that applies deposits (``retainer_applied``) also takes the tax charged on them off
(Dr 2200, pro rata per code), so the customer pays the tax once; one that applies
customer credit (``credit_applied``) draws Dr 2310 at its carried base.
A CREDIT_MEMO is handled by ``streams.domain.rules.credit_memo``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from streams.domain.accounts import Account
from streams.domain.commands import (
    CommandDraft,
    Dimensions,
    FxProvenance,
    Leg,
    Side,
    SourceRef,
    build_command,
)
from streams.domain.exceptions import (
    AlreadyBilledError,
    BalanceExceededError,
    InvalidEventError,
    UnpostedSourceError,
)
from streams.domain.fx import resolve_rate
from streams.domain.invoices import InvoiceIssued, InvoiceKind, InvoiceLine, InvoiceLineKind
from streams.domain.money import MONEY_CONTEXT, convert_amount, round_money, show_amount
from streams.domain.posted import (
    Bill,
    Delta,
    Effects,
    InvoicePosting,
    LinePosting,
    PostedLedger,
    ar_key,
    credit_key,
    deposit_key,
    deposit_tax_key,
    relieve,
    wip_key,
)
from streams.domain.reference import LegalEntity, ReferenceBook
from streams.domain.rules.booking import Booked, fx_difference_leg, stored, wip_pieces
from streams.domain.rules.credit_memo import post_credit_memo
from streams.domain.rules.tax import Taxable, tax_by_code

__all__ = ["JOURNAL", "post_invoice"]

JOURNAL: Final = "INVOICE"


def post_invoice(
    invoice: InvoiceIssued,
    book: ReferenceBook,
    ledger: PostedLedger,
    *,
    source: SourceRef,
    rule_version: str,
) -> Booked:
    """Bill a customer: Dr 1100 / Cr 1150 + 4000 write-up/down + 2200 tax (or Cr 2300).

    Args:
        invoice: The invoice, retainer invoice or credit memo version to post.
        book: Reference data: entity, customer, project, FX rates.
        ledger: What was posted so far (WIP per entry, deposits, invoices), with any
            earlier version of this invoice already undone.
        source: Where the invoice was read (its id and version name the command).
        rule_version: Version of this rule, part of the ``command_id``.

    Returns:
        One command and its effects: WIP relieved per entry, entries billed, the
        open receivable, deposits added or drawn, and the invoice as posted.

    Raises:
        UnpostedSourceError: A referenced entry/expense, or the deposits drawn, are
            not posted yet (park until they are).
        AlreadyBilledError: A referenced entry is billed on another live invoice.
        BalanceExceededError: The retainer applied exceeds the deposits or the total.
        InvalidEventError: WIP in another currency, an entry on two lines, or a tax
            code with two rates.
        MissingReferenceError, MissingFxRateError: Reference data not there yet.

    """
    if invoice.kind is InvoiceKind.CREDIT_MEMO:
        return post_credit_memo(invoice, book, ledger, source=source, rule_version=rule_version)
    entity = book.entity(invoice.entity_id)
    book.customer(invoice.customer_id)
    project = book.project(invoice.project_id) if invoice.project_id is not None else None
    currency, mode = invoice.currency, entity.rounding_mode
    fx = resolve_rate(
        book,
        from_ccy=currency,
        to_ccy=entity.base_currency,
        on=invoice.issued_on,
        entity=entity,
        project=project,
    )
    _no_entry_twice(invoice)
    _no_sales_tax_on_deposits(invoice, entity)
    postings = tuple(_line(ledger, invoice, i, line) for i, line in enumerate(invoice.lines))
    taxes = tax_by_code(
        [Taxable(ln.line_no, ln.net, ln.tax_code, ln.rate) for ln in invoice.lines],
        currency,
        mode,
        entity.tax_rounding,
    )
    head = Dimensions(project_id=invoice.project_id, customer_id=invoice.customer_id)
    gross = sum((ln.net for ln in invoice.lines), Decimal(0)) + sum(taxes.values(), Decimal(0))
    legs: list[Leg] = []
    deltas: list[Delta] = []
    credit_applied = invoice.credit_applied or Decimal(0)
    deposit_tax = (
        _deposit_tax_applied(ledger, invoice, entity, taxes, dims=head, deltas=deltas)
        if invoice.retainer_applied
        else []
    )
    receivable = (
        gross
        - invoice.retainer_applied
        - credit_applied
        - sum((leg.amount for leg in deposit_tax), Decimal(0))
    )
    if receivable < 0:
        raise BalanceExceededError(
            f"retainer_applied: {invoice.retainer_applied} (with its tax) and credit_applied "
            f"{credit_applied} exceed the invoice total {gross}",
            field="retainer_applied",
        )
    if receivable:
        legs.append(Leg(Account.ACCOUNTS_RECEIVABLE, Side.DEBIT, receivable, head, "receivable"))
        base = convert_amount(receivable, fx.rate, entity.base_currency, mode)
        deltas.append(
            Delta(key=ar_key(invoice.invoice_id), currency=currency, amount=receivable, base=base)
        )
    if invoice.retainer_applied:
        legs.append(_draw_deposit(ledger, invoice, entity, head, deltas))
    if credit_applied:
        legs.append(_draw_credit(ledger, invoice, entity, head, deltas))
    pieces: dict[int, tuple[Decimal, ...]] = {}
    for posting in postings:
        for stored_leg in posting.legs:
            pieces[len(legs)] = wip_pieces(posting, stored_leg)
            legs.append(stored_leg.leg())
    for code, tax in taxes.items():
        if tax:
            dims = head.model_copy(update={"tax_code": code})
            legs.append(Leg(Account.TAX_PAYABLE, Side.CREDIT, tax, dims, f"tax {code}"))
    legs += deposit_tax
    fx_leg = fx_difference_leg(legs, fx, entity, head, pieces)
    if fx_leg is not None:
        legs.append(fx_leg)
    deltas += _deposits_billed(invoice, entity, fx)
    deltas += _deposit_tax_billed(invoice, entity, fx, taxes)
    deltas += [
        d.model_copy(update={"amount": -d.amount, "base": -d.base})
        for p in postings
        for d in p.releases
    ]
    effect = "retainer-invoice" if invoice.kind is InvoiceKind.RETAINER else "invoice"
    draft = CommandDraft(
        effect=effect,
        journal=JOURNAL,
        effective_date=invoice.issued_on,
        transaction_currency=currency,
        legs=tuple(legs),
        source=source,
        rule_version=rule_version,
        memo=f"{invoice.kind} {invoice.invoice_id} {invoice.customer_id} "
        f"{show_amount(gross, currency)} {currency}",
    )
    effects = Effects(
        deltas=tuple(deltas),
        bills=tuple(
            Bill(entry_key=k, invoice_id=invoice.invoice_id) for p in postings for k in p.entries
        ),
        invoice=InvoicePosting(
            invoice_id=invoice.invoice_id,
            entity_id=entity.entity_id,
            customer_id=invoice.customer_id,
            currency=currency,
            fx=fx,
            tax_rounding=entity.tax_rounding,
            lines=postings,
        ),
    )
    commands = (build_command(entity, draft, fx),) if legs else ()  # all zero: nothing to post
    return Booked(commands, effects)


def _no_sales_tax_on_deposits(invoice: InvoiceIssued, entity: LegalEntity) -> None:
    """Refuse a taxed deposit where a sales tax applies (``tax_regime`` ``*-SALES``).

    A sales tax is due on the sale; a deposit is not one, so the retainer invoice
    carries no tax and the invoice that applies the deposit charges all of it.
    (Under VAT the deposit is taxed and the invoice applying it deducts that tax.)
    """
    if not entity.tax_regime.upper().endswith("-SALES"):
        return
    for i, line in enumerate(invoice.lines):
        if line.kind is InvoiceLineKind.DEPOSIT and line.tax_code is not None:
            raise InvalidEventError(
                f"lines.{i}.tax_code: a deposit carries no tax under {entity.tax_regime} "
                "(a deposit is not a sale: the invoice that applies it charges the tax)",
                field=f"lines.{i}.tax_code",
            )


def _no_entry_twice(invoice: InvoiceIssued) -> None:
    seen: set[str] = set()
    for i, line in enumerate(invoice.lines):
        for entry in (*line.time_entry_ids, *line.expense_ids):
            if entry in seen:
                raise InvalidEventError(
                    f"lines.{i}: {entry} is billed twice on this invoice", field=f"lines.{i}"
                )
            seen.add(entry)


def _draw_deposit(
    ledger: PostedLedger,
    invoice: InvoiceIssued,
    entity: LegalEntity,
    dims: Dimensions,
    deltas: list[Delta],
) -> Leg:
    key = deposit_key(entity.entity_id, invoice.customer_id, invoice.currency)
    held = ledger.balance(key)
    if held is None:
        raise UnpostedSourceError("deposit", key, field="retainer_applied")
    applied = invoice.retainer_applied
    if applied > held.amount:
        raise BalanceExceededError(
            f"retainer_applied: {applied} exceeds the deposits held {held.amount} {held.currency}",
            field="retainer_applied",
        )
    base = relieve(held, applied, entity.base_currency, entity.rounding_mode)
    deltas.append(Delta(key=key, currency=invoice.currency, amount=-applied, base=-base))
    return Leg(Account.CUSTOMER_DEPOSITS, Side.DEBIT, applied, dims, "retainer applied", base)


def _draw_credit(
    ledger: PostedLedger,
    invoice: InvoiceIssued,
    entity: LegalEntity,
    dims: Dimensions,
    deltas: list[Delta],
) -> Leg:
    """Dr 2310 the customer credit applied, at its carried base (pro rata)."""
    key = credit_key(entity.entity_id, invoice.customer_id, invoice.currency)
    held = ledger.balance(key)
    if held is None:
        raise UnpostedSourceError("customer credit", key, field="credit_applied")
    applied = invoice.credit_applied or Decimal(0)
    if applied > held.amount:
        raise BalanceExceededError(
            f"credit_applied: {applied} exceeds the customer credit {held.amount} {held.currency}",
            field="credit_applied",
        )
    base = relieve(held, applied, entity.base_currency, entity.rounding_mode)
    deltas.append(Delta(key=key, currency=invoice.currency, amount=-applied, base=-base))
    return Leg(Account.CUSTOMER_CREDITS, Side.DEBIT, applied, dims, "customer credit applied", base)


def _deposit_tax_applied(
    ledger: PostedLedger,
    invoice: InvoiceIssued,
    entity: LegalEntity,
    taxes: dict[str, Decimal],
    *,
    dims: Dimensions,
    deltas: list[Delta],
) -> list[Leg]:
    """Dr 2200 the tax already charged on the deposits applied, per tax code.

    Under a VAT regime the retainer invoice charged tax on the deposit; the invoice
    that applies it taxes its full lines, so the tax charged on the part applied
    (pro rata of the deposits held) is taken off again: the customer pays the tax
    once. Looked up per tax code the invoice bills (the same supply).
    """
    held = ledger.balance(deposit_key(entity.entity_id, invoice.customer_id, invoice.currency))
    if held is None or not held.amount:
        return []
    whole = invoice.retainer_applied >= held.amount
    legs = []
    for code in taxes:
        key = deposit_tax_key(entity.entity_id, invoice.customer_id, invoice.currency, code)
        charged = ledger.balance(key)
        if charged is None or not charged.amount:
            continue
        if whole:
            amount, base = charged.amount, charged.base
        else:
            share = MONEY_CONTEXT.divide(invoice.retainer_applied, held.amount)
            amount = round_money(
                MONEY_CONTEXT.multiply(charged.amount, share),
                invoice.currency,
                entity.rounding_mode,
            )
            base = round_money(
                MONEY_CONTEXT.multiply(charged.base, share),
                entity.base_currency,
                entity.rounding_mode,
            )
        deltas.append(Delta(key=key, currency=invoice.currency, amount=-amount, base=-base))
        dims_code = dims.model_copy(update={"tax_code": code})
        memo = f"tax {code} charged on the deposit applied"
        legs.append(Leg(Account.TAX_PAYABLE, Side.DEBIT, amount, dims_code, memo, base))
    return legs


def _deposit_tax_billed(
    invoice: InvoiceIssued, entity: LegalEntity, fx: FxProvenance, taxes: dict[str, Decimal]
) -> list[Delta]:
    """Return the tax a retainer invoice charges on its deposits, held per code until applied."""
    if invoice.kind is not InvoiceKind.RETAINER:
        return []
    return [
        Delta(
            key=deposit_tax_key(entity.entity_id, invoice.customer_id, invoice.currency, code),
            currency=invoice.currency,
            amount=tax,
            base=convert_amount(tax, fx.rate, entity.base_currency, entity.rounding_mode),
        )
        for code, tax in taxes.items()
        if tax
    ]


def _deposits_billed(invoice: InvoiceIssued, entity: LegalEntity, fx: FxProvenance) -> list[Delta]:
    """Deposits a retainer invoice adds, at the base its 2300 lines are booked at."""
    key = deposit_key(entity.entity_id, invoice.customer_id, invoice.currency)
    return [
        Delta(
            key=key,
            currency=invoice.currency,
            amount=line.net,
            base=convert_amount(line.net, fx.rate, entity.base_currency, entity.rounding_mode),
        )
        for line in invoice.lines
        if line.kind is InvoiceLineKind.DEPOSIT and line.net
    ]


def _line(
    ledger: PostedLedger, invoice: InvoiceIssued, index: int, line: InvoiceLine
) -> LinePosting:
    dims = Dimensions(
        project_id=line.project_id or invoice.project_id,
        customer_id=invoice.customer_id,
        tax_code=line.tax_code,
    )
    memo = line.description
    legs: list[Leg] = []
    if line.kind is InvoiceLineKind.DEPOSIT:
        if line.net:
            legs.append(Leg(Account.CUSTOMER_DEPOSITS, Side.CREDIT, line.net, dims, memo))
        return LinePosting(
            line_no=line.line_no,
            net=line.net,
            tax_code=line.tax_code,
            tax_rate=line.rate,
            legs=tuple(stored(leg) for leg in legs),
        )
    refs = [("time_entry", x, "time_entry_ids") for x in line.time_entry_ids]
    refs += [("expense", x, "expense_ids") for x in line.expense_ids]
    releases: list[Delta] = []
    for kind, source_id, field_name in refs:
        where = f"lines.{index}.{field_name}"
        if ledger.live(kind, source_id) is None:
            raise UnpostedSourceError(kind, source_id, field=where)
        key = wip_key(kind, source_id)
        holder = ledger.billed.get(key)
        if holder is not None and holder != invoice.invoice_id:
            raise AlreadyBilledError(
                f"{where}: {kind} {source_id} is already billed on invoice {holder}", field=where
            )
        accrued = ledger.balance(key)
        if accrued is None:
            continue
        if accrued.currency != invoice.currency:
            raise InvalidEventError(
                f"{where}: {kind} {source_id} accrued WIP in {accrued.currency}, "
                f"the invoice bills in {invoice.currency}",
                field=where,
            )
        releases.append(
            Delta(key=key, currency=accrued.currency, amount=accrued.amount, base=accrued.base)
        )
    wip = sum((d.amount for d in releases), Decimal(0))
    wip_base = sum((d.base for d in releases), Decimal(0))
    if wip or wip_base:
        legs.append(
            Leg(Account.UNBILLED_RECEIVABLES, Side.CREDIT, wip, dims, "WIP relieved", wip_base)
        )
    revenue = (
        Account.REIMBURSABLE_EXPENSE_REVENUE
        if line.kind is InvoiceLineKind.EXPENSE
        else Account.SERVICE_REVENUE
    )
    difference = line.amount - wip
    if difference:
        label = memo if not refs else ("write-up" if difference > 0 else "write-down")
        legs.append(Leg(revenue, Side.CREDIT, difference, dims, label))
    if line.discount:
        legs.append(Leg(Account.DISCOUNTS, Side.DEBIT, line.discount, dims, "discount"))
    return LinePosting(
        line_no=line.line_no,
        net=line.net,
        tax_code=line.tax_code,
        tax_rate=line.rate,
        legs=tuple(stored(leg) for leg in legs),
        entries=tuple(wip_key(kind, source_id) for kind, source_id, _ in refs),
        releases=tuple(releases),
    )
