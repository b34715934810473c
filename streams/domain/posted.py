"""The table of what was posted: per source record, its last version, commands and effects.

``PostedLedger`` is an immutable, JSON-serialisable value (it can live in a Faust
table later). It remembers, per source ``type:id``, the last version posted with the
commands it produced and the ``Effects`` those commands had on the balances the
rules read: WIP accrued per time entry or expense, open receivable per invoice,
customer deposits and customer credits per entity/customer/currency, which entries a live invoice
billed, what each invoice posted per line, which lines a credit memo credited.
A correction unapplies the earlier version's effects and applies the new ones, so
the balances always equal the net of the commands sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from streams.domain.commands import Dimensions, FxProvenance, Leg, PostLedgerEntry, Side
from streams.domain.money import MONEY_CONTEXT, RoundingMode, round_money
from streams.domain.overlay import Overlay, copy_mapping
from streams.domain.reference import TaxRounding

__all__ = [
    "STORED_FIELDS",
    "Balance",
    "Bill",
    "Delta",
    "Effects",
    "InvoicePosting",
    "LinePosting",
    "PostedLedger",
    "PostedRecord",
    "StoredLeg",
    "ar_key",
    "credit_key",
    "deposit_key",
    "deposit_tax_key",
    "record_key",
    "relieve",
    "wip_key",
]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


def record_key(source_type: str, source_id: str) -> str:
    """Name a source record in the table: ``"time_entry:TE-1"``."""
    return f"{source_type}:{source_id}"


def wip_key(source_type: str, source_id: str) -> str:
    """Name the WIP balance of a time entry or expense: ``"wip/time_entry/TE-1"``."""
    return f"wip/{source_type}/{source_id}"


def ar_key(invoice_id: str) -> str:
    """Name the open receivable of an invoice: ``"ar/INV-1"``."""
    return f"ar/{invoice_id}"


def deposit_key(entity_id: str, customer_id: str, currency: str) -> str:
    """Name a customer's deposits held by an entity in a currency."""
    return f"deposit/{entity_id}/{customer_id}/{currency}"


def deposit_tax_key(entity_id: str, customer_id: str, currency: str, tax_code: str) -> str:
    """Name the tax charged on a customer's deposits still held, per tax code."""
    return f"deposit-tax/{entity_id}/{customer_id}/{currency}/{tax_code}"


def credit_key(entity_id: str, customer_id: str, currency: str) -> str:
    """Name a customer's credit with an entity in a currency (unapplied cash, 2310)."""
    return f"credit/{entity_id}/{customer_id}/{currency}"


class Balance(_Value):
    """An open balance in its transaction currency and in the entity's base currency."""

    currency: str
    amount: Decimal
    base: Decimal


class Delta(_Value):
    """A change to one balance (positive adds, negative relieves)."""

    key: str
    currency: str
    amount: Decimal
    base: Decimal


class Bill(_Value):
    """An entry (``wip_key``) billed by an invoice."""

    entry_key: str
    invoice_id: str


class StoredLeg(_Value):
    """A posted leg kept so that a credit memo can mirror it exactly."""

    account: str
    side: Side
    amount: Decimal
    base_amount: Decimal | None = None
    dimensions: Dimensions = Dimensions()
    memo: str = ""

    def leg(self) -> Leg:
        """Return the leg to post again."""
        return Leg(
            self.account, self.side, self.amount, self.dimensions, self.memo, self.base_amount
        )

    def mirrored(self) -> StoredLeg:
        """Return the same leg on the other side."""
        side = Side.CREDIT if self.side is Side.DEBIT else Side.DEBIT
        return self.model_copy(update={"side": side})


class LinePosting(_Value):
    """What one invoice line posted: legs, taxable net, tax, entries billed, WIP relieved."""

    line_no: int
    net: Decimal
    tax_code: str | None = None
    tax_rate: Decimal | None = None
    legs: tuple[StoredLeg, ...] = ()
    entries: tuple[str, ...] = ()
    releases: tuple[Delta, ...] = ()


class InvoicePosting(_Value):
    """An invoice as posted: its entity, customer, currency, rate, tax policy and lines."""

    invoice_id: str
    entity_id: str
    customer_id: str
    currency: str
    fx: FxProvenance
    tax_rounding: TaxRounding
    lines: tuple[LinePosting, ...]

    def line(self, line_no: int) -> LinePosting | None:
        """Return the posted line numbered ``line_no``, if there is one."""
        return next((line for line in self.lines if line.line_no == line_no), None)


class Effects(_Value):
    """What posting a source version did to the balances the rules read."""

    deltas: tuple[Delta, ...] = ()
    bills: tuple[Bill, ...] = ()
    unbills: tuple[Bill, ...] = ()
    invoice: InvoicePosting | None = None
    credits: tuple[str, ...] = ()


class PostedRecord(_Value):
    """The last version of a source record that was posted (or deleted), and what it did."""

    source_type: str
    source_id: str
    version: int
    commands: tuple[PostLedgerEntry, ...] = ()
    effects: Effects = Effects()
    deleted: bool = False
    #: The rule version that produced ``commands`` (a replay under another compares them).
    rule_version: str | None = None


def relieve(balance: Balance, amount: Decimal, base_currency: str, mode: RoundingMode) -> Decimal:
    """Return the base amount that relieving ``amount`` of an open balance takes off it.

    The whole balance takes its whole base (nothing is left behind by rounding); a
    part takes its pro-rata share of the base, rounded once.
    """
    if amount == balance.amount or balance.amount.is_zero():
        return balance.base
    share = MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(balance.base, amount), balance.amount)
    return round_money(share, base_currency, mode)


#: The mappings of ``PostedLedger`` a worker keeps in its store, one key space each.
STORED_FIELDS = ("records", "balances", "billed", "invoices", "credited")


class PostedLedger(_Value):
    """Everything posted so far, per source record, and the balances it left open."""

    records: Mapping[str, PostedRecord] = {}
    balances: Mapping[str, Balance] = {}
    billed: Mapping[str, str] = {}
    invoices: Mapping[str, InvoicePosting] = {}
    credited: Mapping[str, str] = {}
    skipped: int = 0

    @classmethod
    def over(cls, lookup: Callable[[str, str], object | None]) -> PostedLedger:
        """Return a ledger that reads a key-value store through overlays (see ``changes``).

        Args:
            lookup: ``lookup(field, key)`` returns the stored value of one of the
                ledger's mappings (``records``, ``balances``, ``billed``,
                ``invoices``, ``credited``), already as its model, or None.

        """

        def reader(name: str) -> Overlay[object]:
            return Overlay(lambda key: lookup(name, key))

        fields: dict[str, Any] = {name: reader(name) for name in STORED_FIELDS}
        return cls.model_construct(**fields)

    def changes(self) -> dict[str, dict[str, object | None]]:
        """Return, per stored mapping, the keys written (value) or deleted (None) since ``over``."""
        found: dict[str, dict[str, object | None]] = {}
        for name in STORED_FIELDS:
            mapping = getattr(self, name)
            if isinstance(mapping, Overlay):
                found[name] = mapping.changes()
        return found

    def record(self, source_type: str, source_id: str) -> PostedRecord | None:
        """Return what was last posted for a source record, if anything."""
        return self.records.get(record_key(source_type, source_id))

    def live(self, source_type: str, source_id: str) -> PostedRecord | None:
        """Return the posted record unless it was never posted or was deleted."""
        record = self.record(source_type, source_id)
        return None if record is None or record.deleted else record

    def balance(self, key: str) -> Balance | None:
        """Return an open balance by key (``wip_key``, ``ar_key``, ``deposit_key``, ...)."""
        return self.balances.get(key)

    def with_effects(self, effects: Effects, *, by: str, sign: int = 1) -> PostedLedger:
        """Return the ledger with ``effects`` applied (``sign=1``) or undone (``sign=-1``).

        Args:
            effects: The effects of one source version.
            by: The source id that had them (a credit memo's id for its credits).
            sign: 1 applies, -1 undoes.

        """
        balances = copy_mapping(self.balances)
        for delta in effects.deltas:
            old = balances.get(delta.key, Balance(currency=delta.currency, amount=0, base=0))
            new = Balance(
                currency=delta.currency,
                amount=old.amount + sign * delta.amount,
                base=old.base + sign * delta.base,
            )
            if new.amount.is_zero() and new.base.is_zero():
                balances.pop(delta.key, None)
            else:
                balances[delta.key] = new
        billed = copy_mapping(self.billed)
        _toggle(billed, effects.bills if sign > 0 else effects.unbills, add=True)
        _toggle(billed, effects.unbills if sign > 0 else effects.bills, add=False)
        invoices = copy_mapping(self.invoices)
        credited = copy_mapping(self.credited)
        if effects.invoice is not None:
            if sign > 0:
                invoices[effects.invoice.invoice_id] = effects.invoice
            else:
                invoices.pop(effects.invoice.invoice_id, None)
        for key in effects.credits:
            if sign > 0:
                credited[key] = by
            else:
                credited.pop(key, None)
        return self.model_copy(
            update={
                "balances": balances,
                "billed": billed,
                "invoices": invoices,
                "credited": credited,
            }
        )

    def with_record(self, record: PostedRecord) -> PostedLedger:
        """Return the ledger remembering ``record`` as its source's last version."""
        records = copy_mapping(self.records)
        records[record_key(record.source_type, record.source_id)] = record
        return self.model_copy(update={"records": records})


def _toggle(billed: MutableMapping[str, str], bills: Iterable[Bill], *, add: bool) -> None:
    for bill in bills:
        if add:
            billed[bill.entry_key] = bill.invoice_id
        else:
            billed.pop(bill.entry_key, None)
