"""Reports from the books: trial balance, project profitability, AR aging and DSO.

Every figure is summed from ``books_lines`` (integers of 1/10,000, exact on SQLite
and PostgreSQL) and shown as ``Decimal`` at the currency's exponent. docs/books.md
states each report's definitions; the golden tests (``tests/unit/books``) hold
them to hand-computed values.

* **Trial balance** (entity, period): per account and transaction currency, debit,
  credit and net in the transaction and the base currency (the dry run's layout,
  ``streams.domain.trial_balance``).
* **Project profitability** (period): per entity and project (the lines'
  ``project_id`` dimension), in base currency: revenue (accounts 4xxx, credit minus
  debit), direct cost (5xxx and 6xxx, debit minus credit, of commands whose source is
  not an allocation), allocated cost (the same accounts, commands with
  ``source.type == "allocation"``), margin = revenue - direct - allocated, and margin
  as a percentage of revenue.
* **AR aging** (entity, as-of date): open receivables (account 1100) per customer in
  base currency, by days past due. Commands carry no due date: an invoice is due
  ``terms_days`` after the effective date of its receivable line (30 by default; no
  customer payment terms exist in the reference data). A credit names its invoice by
  the line's memo (payments) or its source id (a reversal); other credits (credit
  memos, on account) settle the customer's oldest open items first.
* **DSO**: receivables open at the as-of date / net credit sales (1100 lines of
  invoice commands, debit minus credit) of the ``dso_days`` days ending on it x
  ``dso_days``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, Literal

from sqlalchemy import Engine, func, select

from streams.books.tables import entries, from_e4, lines
from streams.domain.accounts import Account
from streams.domain.commands import Side
from streams.domain.money import exponent
from streams.domain.trial_balance import (
    BalanceRow,
    format_trial_balance,
    trial_balance_csv,
    trial_balance_json,
)

__all__ = [
    "AGING_BUCKETS",
    "AgingReport",
    "AgingRow",
    "ProjectRow",
    "ar_aging",
    "project_profitability",
    "render_aging",
    "render_profitability",
    "render_rows",
    "render_trial_balance",
    "trial_balance",
]

Format = Literal["table", "csv", "json"]
ALLOCATION_SOURCE: Final = "allocation"
INVOICE_SOURCE: Final = "invoice"
#: Aging buckets by days past due; ``current`` is not due yet.
AGING_BUCKETS: Final = ("current", "0-30", "31-60", "61-90", "90+")
_ZERO: Final = Decimal(0)


def _at(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_EVEN)


def trial_balance(engine: Engine, entity_id: str, period: str) -> list[BalanceRow]:
    """Sum the booked lines of an entity's period per account and transaction currency."""
    query = (
        select(
            lines.c.account,
            lines.c.currency,
            lines.c.base_currency,
            lines.c.side,
            func.sum(lines.c.amount_e4),
            func.sum(lines.c.base_amount_e4),
        )
        .where(lines.c.entity_id == entity_id, lines.c.period == period)
        .group_by(lines.c.account, lines.c.currency, lines.c.base_currency, lines.c.side)
    )
    sums: dict[tuple[str, str, str], list[Decimal]] = {}
    with engine.connect() as conn:
        for account, currency, base, side, amount, base_amount in conn.execute(query):
            row = sums.setdefault((account, currency, base), [_ZERO] * 4)
            at = 0 if side == Side.DEBIT.value else 1
            row[at] += from_e4(amount)
            row[2 + at] += from_e4(base_amount)
    return [BalanceRow(entity_id, *key, *row) for key, row in sorted(sums.items())]


def render_trial_balance(rows: list[BalanceRow], fmt: Format, *, title: str) -> str:
    """Render the trial balance as a table (with a base total per entity), CSV or JSON lines."""
    if fmt == "csv":
        return trial_balance_csv(rows)
    if fmt == "json":
        return trial_balance_json(rows)
    if not rows:
        return f"{title}\n(no booked lines)\n"
    return "\n".join(format_trial_balance(rows, title=title)) + "\n"


@dataclass(frozen=True, slots=True)
class ProjectRow:
    """One project's profitability in one entity's base currency."""

    entity_id: str
    project_id: str
    base_currency: str
    revenue: Decimal
    direct_cost: Decimal
    allocated_cost: Decimal

    @property
    def margin(self) -> Decimal:
        """Revenue less direct and allocated cost."""
        return self.revenue - self.direct_cost - self.allocated_cost

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin as a percentage of revenue, to 0.1 (None without revenue)."""
        if not self.revenue:
            return None
        return (self.margin * 100 / self.revenue).quantize(Decimal("0.1"), ROUND_HALF_EVEN)

    def record(self) -> dict[str, str]:
        """Return the row as strings, amounts at the currency's exponent."""
        ccy = self.base_currency
        pct = self.margin_percent
        return {
            "entity": self.entity_id,
            "project": self.project_id,
            "currency": ccy,
            "revenue": str(_at(self.revenue, ccy)),
            "direct_cost": str(_at(self.direct_cost, ccy)),
            "allocated_cost": str(_at(self.allocated_cost, ccy)),
            "margin": str(_at(self.margin, ccy)),
            "margin_percent": "-" if pct is None else str(pct),
        }


def project_profitability(engine: Engine, period: str) -> list[ProjectRow]:
    """Revenue, direct cost, allocated cost and margin per entity and project of a period."""
    query = (
        select(
            lines.c.entity_id,
            lines.c.project_id,
            lines.c.base_currency,
            lines.c.account,
            lines.c.source_type,
            lines.c.side,
            func.sum(lines.c.base_amount_e4),
        )
        .where(lines.c.period == period, lines.c.project_id.is_not(None))
        .group_by(
            lines.c.entity_id,
            lines.c.project_id,
            lines.c.base_currency,
            lines.c.account,
            lines.c.source_type,
            lines.c.side,
        )
    )
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [_ZERO] * 3)
    with engine.connect() as conn:
        for entity_id, project_id, base, account, source_type, side, amount in conn.execute(query):
            debit = from_e4(amount) if side == Side.DEBIT.value else -from_e4(amount)
            row = sums[(entity_id, project_id, base)]
            if account.startswith("4"):
                row[0] -= debit
            elif account.startswith(("5", "6")):
                row[2 if source_type == ALLOCATION_SOURCE else 1] += debit
    return [ProjectRow(*key, *row) for key, row in sorted(sums.items())]


def render_profitability(rows: list[ProjectRow], fmt: Format) -> str:
    """Project profitability as a table, CSV or JSON lines."""
    columns = (
        "entity",
        "project",
        "currency",
        "revenue",
        "direct_cost",
        "allocated_cost",
        "margin",
        "margin_percent",
    )
    return render_rows([r.record() for r in rows], columns, fmt)


@dataclass(slots=True)
class _Item:
    invoice_id: str
    customer_id: str
    booked_on: date
    open: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class AgingRow:
    """A customer's open receivables by days past due, in base currency."""

    customer_id: str
    buckets: tuple[Decimal, ...]
    unapplied: Decimal

    @property
    def total(self) -> Decimal:
        """Everything the customer owes, less credits not applied to an invoice."""
        return sum(self.buckets, _ZERO) - self.unapplied


@dataclass(frozen=True, slots=True)
class AgingReport:
    """AR aging of one entity at a date, and its DSO."""

    entity_id: str
    as_of: date
    base_currency: str
    terms_days: int
    rows: list[AgingRow]
    receivables: Decimal
    credit_sales: Decimal
    dso_days: int
    dso: Decimal | None = None
    notes: list[str] = field(default_factory=list)


def ar_aging(
    engine: Engine,
    entity_id: str,
    as_of: date,
    *,
    terms_days: int = 30,
    dso_days: int = 90,
    account: str = str(Account.ACCOUNTS_RECEIVABLE),
) -> AgingReport:
    """Age an entity's open receivables at ``as_of`` and compute its DSO.

    Args:
        engine: The books.
        entity_id: The entity.
        as_of: Lines dated after it are left out; days past due are counted to it.
        terms_days: Days from an invoice's receivable line to its due date.
        dso_days: The window of credit sales for DSO.
        account: The receivable account.

    """
    query = (
        select(
            lines.c.effective_date,
            lines.c.side,
            lines.c.base_amount_e4,
            lines.c.base_currency,
            lines.c.customer_id,
            lines.c.source_type,
            lines.c.source_id,
            lines.c.memo,
        )
        .join(entries, entries.c.command_id == lines.c.command_id)
        .where(
            lines.c.entity_id == entity_id,
            lines.c.account == account,
            lines.c.effective_date <= as_of,
        )
        .order_by(lines.c.effective_date, entries.c.booked_at, lines.c.command_id, lines.c.line_no)
    )
    with engine.connect() as conn:
        booked = conn.execute(query).all()
    base_currency = booked[0].base_currency if booked else ""
    items: dict[str, _Item] = {}
    loose: dict[str, Decimal] = defaultdict(lambda: _ZERO)  # credits naming no invoice
    window_start = as_of - timedelta(days=dso_days)
    credit_sales = _ZERO
    for ln in booked:
        amount = from_e4(ln.base_amount_e4)
        signed = amount if ln.side == Side.DEBIT.value else -amount
        customer = ln.customer_id or "(none)"
        if ln.source_type == INVOICE_SOURCE and ln.effective_date > window_start:
            credit_sales += signed
        key = ln.memo if ln.memo in items else ln.source_id if ln.source_id in items else None
        if key is None and signed > 0 and ln.source_type == INVOICE_SOURCE:
            key = ln.source_id
            items[key] = _Item(key, customer, ln.effective_date)
        if key is None:
            loose[customer] += signed
        else:
            items[key].open += signed
    by_customer: dict[str, list[Decimal]] = defaultdict(lambda: [_ZERO] * len(AGING_BUCKETS))
    unapplied: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for customer, credit in loose.items():
        # a credit naming no invoice settles the customer's oldest open items first
        remaining = -credit
        for item in sorted(
            (i for i in items.values() if i.customer_id == customer and i.open > 0),
            key=lambda i: (i.booked_on, i.invoice_id),
        ):
            if remaining <= 0:
                break
            used = min(item.open, remaining)
            item.open -= used
            remaining -= used
        if remaining:
            unapplied[customer] += remaining
        by_customer.setdefault(customer, [_ZERO] * len(AGING_BUCKETS))
    for item in items.values():
        if item.open:
            overdue = (as_of - (item.booked_on + timedelta(days=terms_days))).days
            by_customer[item.customer_id][_bucket(overdue)] += item.open
    rows = [
        AgingRow(customer, tuple(buckets), unapplied[customer])
        for customer, buckets in sorted(by_customer.items())
        if any(buckets) or unapplied[customer]
    ]
    receivables = sum((r.total for r in rows), _ZERO)
    dso = None
    if credit_sales > 0:
        dso = (receivables / credit_sales * dso_days).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
    return AgingReport(
        entity_id,
        as_of,
        base_currency,
        terms_days,
        rows,
        receivables,
        credit_sales,
        dso_days,
        dso,
    )


def _bucket(days_past_due: int) -> int:
    if days_past_due < 0:
        return 0
    if days_past_due <= 30:
        return 1
    if days_past_due <= 60:
        return 2
    if days_past_due <= 90:
        return 3
    return 4


def render_aging(report: AgingReport, fmt: Format) -> str:
    """AR aging rows (and a total row with DSO) as a table, CSV or JSON lines."""
    ccy = report.base_currency or "USD"
    columns = ("customer", "currency", *AGING_BUCKETS, "unapplied", "total")
    records = []
    for row in report.rows:
        record = {"customer": row.customer_id, "currency": ccy}
        record |= {
            name: str(_at(v, ccy)) for name, v in zip(AGING_BUCKETS, row.buckets, strict=True)
        }
        record |= {"unapplied": str(_at(row.unapplied, ccy)), "total": str(_at(row.total, ccy))}
        records.append(record)
    totals = {"customer": "total", "currency": ccy}
    for i, name in enumerate(AGING_BUCKETS):
        totals[name] = str(_at(sum((r.buckets[i] for r in report.rows), _ZERO), ccy))
    totals["unapplied"] = str(_at(sum((r.unapplied for r in report.rows), _ZERO), ccy))
    totals["total"] = str(_at(report.receivables, ccy))
    dso = "-" if report.dso is None else str(report.dso)
    summary = {
        "entity": report.entity_id,
        "as_of": report.as_of.isoformat(),
        "terms_days": str(report.terms_days),
        "receivables": str(_at(report.receivables, ccy)),
        "credit_sales": str(_at(report.credit_sales, ccy)),
        "dso_window_days": str(report.dso_days),
        "dso_days": dso,
    }
    if fmt == "json":
        body = render_rows([*records, totals], columns, fmt)
        return body + json.dumps({"summary": summary}) + "\n"
    text = render_rows([*records, totals], columns, fmt)
    if fmt == "csv":
        return text
    return (
        f"AR aging of {report.entity_id} at {report.as_of} (due {report.terms_days} days after "
        f"the receivable; days past due)\n{text}"
        f"DSO {dso} days = receivables {summary['receivables']} / credit sales "
        f"{summary['credit_sales']} of the last {report.dso_days} days x {report.dso_days}\n"
    )


def render_rows(records: Sequence[dict[str, str]], columns: Sequence[str], fmt: Format) -> str:
    """Render rows of strings as an aligned table, CSV with a header, or JSON lines."""
    if fmt == "json":
        return "".join(json.dumps({c: r.get(c, "") for c in columns}) + "\n" for r in records)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: r.get(c, "") for c in columns} for r in records)
        return buffer.getvalue()
    widths = {c: max([len(c), *(len(r.get(c, "")) for r in records)]) for c in columns}
    text_columns = {"entity", "project", "customer", "currency"}

    def line(values: dict[str, str]) -> str:
        cells = (
            values.get(c, "").ljust(widths[c])
            if c in text_columns
            else values.get(c, "").rjust(widths[c])
            for c in columns
        )
        return "  ".join(cells).rstrip()

    header = line({c: c for c in columns})
    return "\n".join([header, *(line(r) for r in records)]) + "\n"
