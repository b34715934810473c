"""The mixed month's billing: a retainer, month-end invoices, a credit memo, payments.

- RET-M001 (1 Sep, GB10): the Thames retainer for the quarter, a DEPOSIT line with
  VAT; PAY-M001 pays it on the 4th.
- INV-M001 (30 Sep, US10, Prairie, fixed fee): a milestone with a discount, a fixed
  fee, and an expense re-billed at cost.
- INV-M002 (1 Oct, US10, Lakeshore): the architecture entries (5 % discount) and the
  other entries on two TIME lines taxed US-IL (rounded once per invoice), and the
  re-billed travel; paid in full by PAY-M002, then CM-M001 credits its second line:
  the entries go back to WIP, the credit stays on account.
- INV-M003 (1 Oct, GB10, Hansa, EUR at the contract rate): the entries and the
  re-billed hotel, reverse-charged at 0 %; paid in two parts (PAY-M004, PAY-M005) at
  the day's SPOT rates: realised FX.
- INV-M004 (1 Oct, GB10, Thames): the retainer project's entries with VAT (rounded
  per line), drawing a third of the retainer down.

TIME and EXPENSE lines bill exactly what the rules accrued (``Work.accrued``,
``Work.rebills``), so WIP is relieved without write-ups or write-downs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final

from streams.demo.month.organisation import ENTITIES, FIRST_DAY, LAST_DAY, PROJECTS
from streams.demo.month.work import EventLog, Work
from streams.demo.sample import Record
from streams.domain.money import MONEY_CONTEXT, RoundingMode, round_money

__all__ = ["bill"]

INVOICES: Final = "pm.invoices"
PAYMENTS: Final = "pm.payments"
_CENT: Final = Decimal("0.01")
_BILLING_DAY: Final = date(2026, 10, 1)
_US_TAX: Final = ("US-IL", "0.0625")
_UK_VAT: Final = ("GB-STD", "0.20")
_REVERSE_CHARGE: Final = ("GB-RC", "0")


@dataclass(frozen=True, slots=True)
class _Invoice:
    value: Record
    total: Decimal  # lines net of discount, plus tax (before any retainer applied)


def bill(work: Work, log: EventLog) -> None:
    """Log the month's invoices, credit memo and payments for the work done."""
    _Biller(work, log).run()


class _Biller:
    def __init__(self, work: Work, log: EventLog) -> None:
        self._work = work
        self._log = log

    def run(self) -> None:
        deposit = self._retainer()
        milestone = "Milestone 1 of 3: discovery and design"
        prairie = self._invoice(
            "INV-M001", "P-1020", LAST_DAY, 21,
            [
                _line(1, "MILESTONE", milestone, "12000.00", "600.00"),  # early-signing discount
                _line(2, "FIXED_FEE", "Project management, September", "1500.00"),
                self._expenses(3, "Workshop lunch, at cost", ["EX-M005"]),
            ],
        )  # fmt: skip
        lines = [
            self._time(1, "Architecture, September", "P-1010", _US_TAX, arch=True),
            self._time(2, "Development and testing, September", "P-1010", _US_TAX, arch=False),
            self._expenses(3, "Travel and lodging, re-billed", ["EX-M001", "EX-M008"]),
        ]
        lines[0]["discount"] = (lines[0]["amount"] * Decimal("0.05")).quantize(_CENT)
        lakeshore = self._invoice("INV-M002", "P-1010", _BILLING_DAY, 20, lines)
        hansa = self._invoice(
            "INV-M003", "P-2020", _BILLING_DAY, 16,
            [
                self._time(1, "Route optimisation, September", "P-2020", _REVERSE_CHARGE),
                self._expenses(2, "Travel, re-billed", ["EX-M003"], _REVERSE_CHARGE),
            ],
        )  # fmt: skip
        self._invoice(
            "INV-M004", "P-2010", _BILLING_DAY, 17,
            [self._time(1, "Support, September", "P-2010", _UK_VAT)],
            retainer=deposit / 3,
        )  # fmt: skip
        first = (hansa.total * Decimal("0.6")).quantize(_CENT)
        self._payment("PAY-M002", lakeshore, lakeshore.total, date(2026, 10, 6))
        self._credit_memo("CM-M001", lakeshore, [2], date(2026, 10, 8))
        self._payment("PAY-M003", prairie, prairie.total, date(2026, 10, 9))
        self._payment("PAY-M004", hansa, first, date(2026, 10, 12))
        self._payment("PAY-M005", hansa, hansa.total - first, date(2026, 10, 16))

    def _retainer(self) -> Decimal:
        """Bill the Thames retainer for the quarter (paid on the 4th); return the deposit."""
        text = "Support retainer, September to November"
        deposit = _line(1, "DEPOSIT", text, "6000.00", tax=_UK_VAT)
        invoice = self._invoice("RET-M001", "P-2010", FIRST_DAY, 9, [deposit], kind="RETAINER")
        self._payment("PAY-M001", invoice, invoice.total, date(2026, 9, 4))
        return Decimal(deposit["amount"])

    def _time(
        self, no: int, text: str, project: str, tax: tuple[str, str], arch: bool | None = None
    ) -> Record:
        """Return a TIME line billing a project's accrued entries (only or all but ARCH ones)."""
        accrued = [(e, self._work.accrued(e)) for e in self._work.entries if e.project == project]
        billed = [(e, a) for e, a in accrued if a and (arch is None or (e.task == "ARCH") == arch)]
        amount = sum((a for _, a in billed), Decimal(0))
        ids = [e.entry_id for e, _ in billed]
        return _line(no, "TIME", text, f"{amount}", tax=tax, time_entry_ids=ids)

    def _expenses(
        self, no: int, text: str, ids: list[str], tax: tuple[str, str] | None = None
    ) -> Record:
        """Return an EXPENSE line billing re-billable expenses at what they accrued."""
        amount = sum((self._work.rebills[i] for i in ids), Decimal(0))
        return _line(no, "EXPENSE", text, f"{amount}", tax=tax, expense_ids=ids)

    def _invoice(
        self,
        invoice_id: str,
        project_id: str,
        on: date,
        hour: int,
        lines: list[Record],
        *,
        kind: str = "INVOICE",
        retainer: Decimal = Decimal(0),
    ) -> _Invoice:
        project = PROJECTS[project_id]
        entity = ENTITIES[project["entity_id"]]
        currency = project["billing_currency"]
        gross = sum((ln["amount"] - ln["discount"] for ln in lines), Decimal(0))
        gross += _tax(lines, currency, entity)
        recorded = _at(on, hour)
        value: Record = {
            "invoice_id": invoice_id,
            "version": 1,
            "kind": kind,
            "entity_id": entity["entity_id"],
            "customer_id": project["customer_id"],
            "project_id": project_id,
            "currency": currency,
            "issued_on": on,
            "lines": lines,
            "retainer_applied": min(retainer, gross),
            "credited_invoice_id": None,
            "credited_line_nos": [],
            "description": f"{project['name']}: {kind.lower()}",
            "recorded_at": recorded,
        }
        self._log.add(recorded, INVOICES, invoice_id, value)
        return _Invoice(value, gross)

    def _credit_memo(self, memo_id: str, invoice: _Invoice, line_nos: list[int], on: date) -> None:
        """Credit lines of an invoice in full (already paid: the credit stays on account)."""
        recorded = _at(on, 15)
        value = invoice.value | {
            "invoice_id": memo_id,
            "kind": "CREDIT_MEMO",
            "issued_on": on,
            "lines": [],
            "retainer_applied": Decimal(0),
            "credited_invoice_id": invoice.value["invoice_id"],
            "credited_line_nos": line_nos,
            "description": "Testing hours disputed: credited on account, to be billed again",
            "recorded_at": recorded,
        }
        self._log.add(recorded, INVOICES, memo_id, value)

    def _payment(self, payment_id: str, invoice: _Invoice, amount: Decimal, on: date) -> None:
        billed, recorded = invoice.value, _at(on, 11)
        value: Record = {
            "payment_id": payment_id,
            "version": 1,
            "entity_id": billed["entity_id"],
            "customer_id": billed["customer_id"],
            "currency": billed["currency"],
            "amount": amount,
            "received_on": on,
            "allocations": [{"invoice_id": billed["invoice_id"], "amount": amount}],
            "reference": f"remittance {billed['invoice_id']}",
            "recorded_at": recorded,
        }
        self._log.add(recorded, PAYMENTS, payment_id, value)


def _at(on: date, hour: int) -> datetime:
    return datetime(on.year, on.month, on.day, hour, tzinfo=UTC)


def _line(
    no: int,
    kind: str,
    text: str,
    amount: str,
    discount: str = "0",
    *,
    tax: tuple[str, str] | None = None,
    time_entry_ids: Iterable[str] = (),
    expense_ids: Iterable[str] = (),
) -> Record:
    return {
        "line_no": no,
        "kind": kind,
        "project_id": None,
        "description": text,
        "amount": Decimal(amount),
        "discount": Decimal(discount),
        "tax_code": tax[0] if tax else None,
        "tax_rate": None,
        "tax_rate_exact": Decimal(tax[1]) if tax else None,
        "time_entry_ids": list(time_entry_ids),
        "expense_ids": list(expense_ids),
    }


def _tax(lines: list[Record], currency: str, entity: Record) -> Decimal:
    """Return an invoice's tax: rounded per line, or once per tax code, by the entity's policy."""
    mode = RoundingMode(entity["rounding_mode"])
    per_code: dict[tuple[str, Decimal], Decimal] = {}
    total = Decimal(0)
    for ln in lines:
        if ln["tax_code"] is None:
            continue
        net = ln["amount"] - ln["discount"]
        if entity["tax_rounding"] == "PER_LINE":
            total += round_money(MONEY_CONTEXT.multiply(net, ln["tax_rate_exact"]), currency, mode)
        else:
            code = (ln["tax_code"], ln["tax_rate_exact"])
            per_code[code] = per_code.get(code, Decimal(0)) + net
    for (_, rate), net in per_code.items():
        total += round_money(MONEY_CONTEXT.multiply(net, rate), currency, mode)
    return total
