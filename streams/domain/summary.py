"""Sync cadence SUMMARY: one command per project, currency and business day, not per record.

An entity synced ``REALTIME`` (the default) receives every record's commands as they
are posted. One synced ``SUMMARY`` receives, at its cadence (``HOURLY`` or ``DAILY``),
one summary command per **window**: the entity's business day (a tumbling window of
one day over ``effective_date``), the project, the transaction currency and the
rate, with the lines of its member commands netted per account and analysis
dimensions (project, customer, tax code, counterparty, cost class; the employee
and task fall away: that is the point of a summary). ``related_source_ids`` lists the
source records it stands for.

The per-record commands are still computed and kept (the posted-records table needs
them to reverse a correction); a window holds the **live** ones: a POST joins its
window, the REVERSE of a member leaves it (a correction's reversal cancels the
earlier version, its new POST joins). At each flush a changed window whose summary
was already sent is corrected the way everything here is corrected: REVERSE of the
summary sent, then POST of the new one (nothing, if the window is now empty).

Ids are deterministic: a summary's ``command_id`` hashes its window and the ids of
its member commands, so the same records give the same summary whatever the timing;
its reversal's id hashes the summary's id. Balance holds by construction: each
member balances in transaction and base currency, so their netted sum does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from streams.domain.commands import (
    LEDGERSTREAM_NAMESPACE,
    CommandAction,
    Dimensions,
    PostingLine,
    PostLedgerEntry,
    Side,
    SourceRef,
    check_balanced,
    period_of,
)
from streams.domain.money import MONEY_CONTEXT, exponent
from streams.domain.trusted import trusted

__all__ = [
    "SUMMARY_JOURNAL",
    "SUMMARY_SOURCE_TYPE",
    "Cadence",
    "SummaryBook",
    "SummaryRow",
    "Window",
    "revise",
    "summarised",
    "window_of",
]

SUMMARY_JOURNAL: Final = "SUMMARY"
SUMMARY_SOURCE_TYPE: Final = "summary"


class Cadence(StrEnum):
    """How an entity's commands reach the accounting sink."""

    REALTIME = "REALTIME"
    HOURLY = "HOURLY"
    DAILY = "DAILY"


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """One summary's key: entity, business day, project, currency pair and rate."""

    entity_id: str
    day: date
    project_id: str
    transaction_currency: str
    base_currency: str
    rate: Decimal
    rate_type: str

    def name(self) -> str:
        """Return the window as text (part of the summary's id and its ``source.id``)."""
        return (
            f"{self.entity_id}/{self.day.isoformat()}/{self.project_id or '-'}/"
            f"{self.transaction_currency}-{self.base_currency}@{self.rate.normalize()}"
            f"/{self.rate_type}"
        )


def window_of(command: PostLedgerEntry) -> Window:
    """Return the window a per-record command belongs to (a reversal: its original's)."""
    projects = (ln.dimensions.project_id for ln in command.lines if ln.dimensions.project_id)
    project = next(projects, "")
    return Window(
        command.entity_id,
        command.effective_date,
        project or "",
        command.transaction_currency,
        command.base_currency,
        command.fx.rate,
        str(command.fx.rate_type),
    )


@dataclass(frozen=True, slots=True)
class _Group:
    members: Mapping[str, PostLedgerEntry] = field(default_factory=dict)
    sent: PostLedgerEntry | None = None
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class SummaryBook:
    """The open windows of the SUMMARY entities: their live members and the summary sent."""

    groups: Mapping[Window, _Group] = field(default_factory=dict)

    def add(self, commands: Iterable[PostLedgerEntry]) -> SummaryBook:
        """Take per-record commands as posted (in order): POSTs join, REVERSEs cancel.

        A REVERSE whose original is not a member (posted before the entity was
        summarised) joins as a member itself, so the summary still nets it.
        """
        groups = dict(self.groups)
        for command in commands:
            key = window_of(command)
            group = groups.get(key, _Group())
            members = dict(group.members)
            original = command.reverses
            if command.action is CommandAction.REVERSE and original in members:
                del members[original]
            else:
                members[command.command_id] = command
            groups[key] = replace(group, members=members, dirty=True)
        return SummaryBook(groups)

    def flush(self, rule_version: str) -> tuple[SummaryBook, tuple[PostLedgerEntry, ...]]:
        """Summarise every changed window: REVERSE the summary sent, POST the new one.

        Windows are flushed in key order; a window whose new summary posts the same
        lines as the one sent sends nothing. An emptied window is forgotten once its
        summary is reversed.

        Returns:
            The book after the flush, and the commands to send.

        """
        groups = dict(self.groups)
        out: list[PostLedgerEntry] = []
        for key in sorted(k for k, g in groups.items() if g.dirty):
            group = groups[key]
            sent, commands = revise(key, group.members, group.sent, rule_version)
            out += commands
            if sent is None:
                del groups[key]
            else:
                groups[key] = _Group(group.members, sent, dirty=False)
        return SummaryBook(groups), tuple(out)


def revise(
    window: Window,
    members: Mapping[str, PostLedgerEntry],
    sent: PostLedgerEntry | None,
    rule_version: str,
) -> tuple[PostLedgerEntry | None, tuple[PostLedgerEntry, ...]]:
    """Summarise one window anew against the summary sent: what to send, and what is sent after.

    Returns:
        The window's summary from now on (None: empty, forget it) and the commands
        to send: nothing if it posts the same lines as ``sent``, else the REVERSE of
        ``sent`` (if any) and the new summary (if any).

    """
    summary = _summary(window, members, rule_version)
    if summary is not None and sent is not None and _same(summary, sent):
        return sent, ()
    out: list[PostLedgerEntry] = []
    if sent is not None:
        out.append(_reversal(sent, rule_version))
    if summary is not None:
        out.append(summary)
    return summary, tuple(out)


class SummaryRow(BaseModel):
    """A window as stage 2's table keeps it: its key, the summary sent, and if it changed."""

    model_config = ConfigDict(frozen=True)

    entity_id: str
    day: date
    project_id: str
    transaction_currency: str
    base_currency: str
    rate: Decimal
    rate_type: str
    sent: PostLedgerEntry | None = None
    dirty: bool = False

    @classmethod
    def of(cls, window: Window) -> SummaryRow:
        """Return a new, unsent row of a window."""
        return cls(
            entity_id=window.entity_id,
            day=window.day,
            project_id=window.project_id,
            transaction_currency=window.transaction_currency,
            base_currency=window.base_currency,
            rate=window.rate,
            rate_type=window.rate_type,
        )

    def window(self) -> Window:
        """Return the row's window."""
        return Window(
            self.entity_id,
            self.day,
            self.project_id,
            self.transaction_currency,
            self.base_currency,
            self.rate,
            self.rate_type,
        )


def _same(a: PostLedgerEntry, b: PostLedgerEntry) -> bool:
    return a.lines == b.lines


_LineKey = tuple[str, str | None, str | None, str | None, str | None, str | None]


def _summary(
    key: Window, members: Mapping[str, PostLedgerEntry], rule_version: str
) -> PostLedgerEntry | None:
    """Net the members' lines per account and kept dimensions into one balanced command."""
    if not members:
        return None
    txn: dict[_LineKey, Decimal] = {}
    base: dict[_LineKey, Decimal] = {}
    add = MONEY_CONTEXT.add
    for command in members.values():
        for ln in command.lines:
            d = ln.dimensions
            k: _LineKey = (
                ln.account,
                d.project_id,
                d.customer_id,
                d.tax_code,
                d.counterparty_entity_id,
                None if d.cost_class is None else str(d.cost_class),
            )
            sign = 1 if ln.side is Side.DEBIT else -1
            txn[k] = add(txn.get(k, Decimal(0)), sign * ln.amount)
            base[k] = add(base.get(k, Decimal(0)), sign * ln.base_amount)
    zero_txn = Decimal(0).scaleb(-exponent(key.transaction_currency))
    zero_base = Decimal(0).scaleb(-exponent(key.base_currency))
    lines: list[PostingLine] = []
    for k in sorted(txn, key=lambda x: tuple(v or "" for v in x)):
        t, b = txn[k], base[k]
        if not t and not b:
            continue
        dims = Dimensions.model_validate(
            {
                "project_id": k[1],
                "customer_id": k[2],
                "tax_code": k[3],
                "counterparty_entity_id": k[4],
                "cost_class": k[5],
            }
        )
        opposite = bool(t and b and (t > 0) != (b > 0))  # opposite signs: one line each
        parts = [(t, zero_base), (zero_txn, b)] if opposite else [(t, b)]
        for amount, base_amount in parts:
            side = Side.DEBIT if (amount or base_amount) > 0 else Side.CREDIT
            lines.append(
                trusted(
                    PostingLine,
                    {
                        "line_no": len(lines) + 1,
                        "account": k[0],
                        "side": side,
                        "amount": abs(amount),
                        "base_amount": abs(base_amount),
                        "memo": f"summary {key.day.isoformat()}",
                        "dimensions": dims,
                    },
                )
            )
    if not lines:
        return None
    ids = sorted(members)
    summary_id = str(uuid.uuid5(LEDGERSTREAM_NAMESPACE, f"summary:{key.name()}:{','.join(ids)}"))
    check_balanced(summary_id, lines, key.transaction_currency, key.base_currency)
    first = members[ids[0]]
    sources = sorted({m.source.id for m in members.values()} | _related(members.values()))
    return trusted(
        PostLedgerEntry,
        {
            "command_id": summary_id,
            "action": CommandAction.POST,
            "reverses": None,
            "entity_id": key.entity_id,
            "journal": SUMMARY_JOURNAL,
            "effective_date": key.day,
            "period": period_of(key.day),
            "transaction_currency": key.transaction_currency,
            "base_currency": key.base_currency,
            "fx": first.fx,
            "lines": tuple(lines),
            "source": trusted(
                SourceRef,
                {
                    "system": "ledgerstream",
                    "type": SUMMARY_SOURCE_TYPE,
                    "id": key.name(),
                    "version": 1,
                    "topic": first.source.topic,
                    "partition": first.source.partition,
                    "offset": max(m.source.offset for m in members.values()),
                    "event_time": max(m.source.event_time for m in members.values()),
                },
            ),
            "approval": None,
            "rule_version": rule_version,
            "memo": f"Summary of {len(members)} command(s), {key.name()}",
            "trace_id": None,
            "span_id": None,
            "late_for_period": None,
            "related_source_ids": tuple(sources),
        },
    )


def _related(members: Iterable[PostLedgerEntry]) -> set[str]:
    return {s for m in members for s in m.related_source_ids}


_OTHER: Final = {Side.DEBIT: Side.CREDIT, Side.CREDIT: Side.DEBIT}


def _reversal(summary: PostLedgerEntry, rule_version: str) -> PostLedgerEntry:
    lines = tuple(
        trusted(PostingLine, {**ln.__dict__, "side": _OTHER[ln.side]}) for ln in summary.lines
    )
    name = f"summary:reverse:{summary.command_id}"
    return trusted(
        PostLedgerEntry,
        {
            **summary.__dict__,
            "command_id": str(uuid.uuid5(LEDGERSTREAM_NAMESPACE, name)),
            "action": CommandAction.REVERSE,
            "reverses": summary.command_id,
            "lines": lines,
            "rule_version": rule_version,
            "memo": f"Reversal: {summary.memo}",
        },
    )


def summarised(
    commands: Iterable[PostLedgerEntry], entities: Iterable[str], rule_version: str
) -> list[PostLedgerEntry]:
    """Replace the commands of SUMMARY entities by their summaries (one flush at the end).

    The offline view of the cadence (``ledgerstream dry-run --summary-entity E``):
    other entities' commands keep their order; the summaries follow them. The trial
    balance is the same either way (a summary nets its members).
    """
    summary_entities = frozenset(entities)
    kept: list[PostLedgerEntry] = []
    book = SummaryBook()
    for command in commands:
        if command.entity_id in summary_entities:
            book = book.add((command,))
        else:
            kept.append(command)
    _, sent = book.flush(rule_version)
    return kept + list(sent)
