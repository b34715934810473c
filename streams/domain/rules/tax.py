"""Invoice tax: per tax code, rounded per line or once per invoice by entity policy.

The tax engine upstream chooses each line's code and rate; ledgerstream applies the
entity's rounding policy (``LegalEntity.tax_rounding``): PER_LINE rounds each line's
tax and adds them up per code, PER_INVOICE adds the taxable nets per code and rounds
once. Either way every code's tax is a whole number of minor units. ``tax_by_line``
splits it back over the lines (what a credit memo gives back per credited line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from streams.domain.exceptions import InvalidEventError
from streams.domain.money import MONEY_CONTEXT, RoundingMode, allocate, round_money
from streams.domain.reference import TaxRounding

__all__ = ["Taxable", "tax_by_code", "tax_by_line"]


@dataclass(frozen=True, slots=True)
class Taxable:
    """One line's taxable net, with its tax code and rate (no code: untaxed)."""

    line_no: int
    net: Decimal
    tax_code: str | None
    tax_rate: Decimal | None


def tax_by_code(
    lines: Sequence[Taxable], currency: str, mode: RoundingMode, policy: TaxRounding
) -> dict[str, Decimal]:
    """Compute the tax payable per tax code on a set of invoice lines.

    Args:
        lines: The taxable lines; lines without a code carry no tax.
        currency: The invoice currency (its exponent sets the minor unit).
        mode: The entity's rounding mode.
        policy: PER_LINE or PER_INVOICE rounding.

    Returns:
        Tax per code, codes in order of first appearance; zero taxes are kept.

    Raises:
        InvalidEventError: One code has two different rates on the same invoice.

    """
    rates: dict[str, Decimal] = {}
    totals: dict[str, Decimal] = {}
    for line in lines:
        if line.tax_code is None or line.tax_rate is None:
            continue
        code, rate = line.tax_code, line.tax_rate
        if rates.setdefault(code, rate) != rate:
            raise InvalidEventError(
                f"lines: tax code {code} has rates {rates[code]} and {rate} on one invoice",
                field="lines",
            )
        if policy is TaxRounding.PER_LINE:
            amount = round_money(MONEY_CONTEXT.multiply(line.net, rate), currency, mode)
        else:
            amount = line.net
        totals[code] = MONEY_CONTEXT.add(totals.get(code, Decimal(0)), amount)
    if policy is TaxRounding.PER_INVOICE:
        totals = {
            code: round_money(MONEY_CONTEXT.multiply(net, rates[code]), currency, mode)
            for code, net in totals.items()
        }
    return totals


def tax_by_line(
    lines: Sequence[Taxable], currency: str, mode: RoundingMode, policy: TaxRounding
) -> dict[int, Decimal]:
    """Split each tax code's invoice tax over its lines, so that the shares add up exactly.

    PER_LINE: a line's share is its own rounded tax. PER_INVOICE: the code's tax,
    rounded once, is split over the code's lines by their nets with largest
    remainder (``allocate``). Either way the shares of a code's lines sum to its
    ``tax_by_code`` amount, so credit memos that credit every line of an invoice,
    in any grouping and order, give back exactly the tax it charged.

    Args:
        lines: All lines of the invoice; lines without a code carry no tax.
        currency: The invoice currency.
        mode: The entity's rounding mode.
        policy: PER_LINE or PER_INVOICE rounding.

    Returns:
        Tax share per line number; lines without a tax code are left out.

    Raises:
        InvalidEventError: One code has two different rates on the same invoice.

    """
    shares: dict[int, Decimal] = {}
    for code, total in tax_by_code(lines, currency, mode, policy).items():
        mine = [ln for ln in lines if ln.tax_code == code and ln.tax_rate is not None]
        if policy is TaxRounding.PER_LINE or total.is_zero():
            for ln in mine:
                tax = MONEY_CONTEXT.multiply(ln.net, ln.tax_rate or Decimal(0))
                shares[ln.line_no] = round_money(tax, currency, mode)
        else:
            split = allocate(total, [ln.net for ln in mine], currency)
            shares.update(zip((ln.line_no for ln in mine), split, strict=True))
    return shares
