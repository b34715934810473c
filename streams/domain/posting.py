"""Post any source event against the table of what was posted: corrections, replays, holds.

``post_event(ledger, event, book, ...) -> Step`` is the one entry point the agents
and the offline dry run use. It compares the event's version with what the
posted-records table holds for its source record:

- nothing posted, or a newer version: undo the earlier version's effects, run the
  event's rule against that state, and send a REVERSE of every earlier command
  (mirrored lines, ``reverses`` = its id) followed by the new POSTs;
- the same or an older version than the last posted (a replay, a late duplicate):
  post nothing, count it (``PostedLedger.skipped``);
- the posted version again under another ``rule_version`` (a replay after a mapping
  change): run the rule anew; if its commands post the same lines, skip as above,
  otherwise REVERSE the old commands and POST the new ones;
- a version the rule holds (awaiting approval): nothing changes; the last posted
  version, if any, stays until an approved one arrives.

``post_deletion`` reverses what a deleted record posted. Every step also says what
the project system should hear (``SyncFeedback``): posted, held, reversed, released.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeAlias

from streams.domain.commands import (
    CommandAction,
    PostingLine,
    PostLedgerEntry,
    Side,
    SourceRef,
    check_balanced,
    command_id,
)
from streams.domain.events import ExpenseRecorded, TimeEntryRecorded
from streams.domain.exceptions import AlreadyBilledError, RelocationBlockedError
from streams.domain.feedback import FeedbackStatus, SyncFeedback
from streams.domain.invoices import InvoiceIssued
from streams.domain.payments import PaymentReceived
from streams.domain.period_locks import NO_LOCKS, PeriodLocks
from streams.domain.posted import Delta, Effects, PostedLedger, PostedRecord, wip_key
from streams.domain.reference import ReferenceBook
from streams.domain.rules.booking import Booked
from streams.domain.rules.credit_memo import credited_key
from streams.domain.rules.expense import post_expense
from streams.domain.rules.invoice import post_invoice
from streams.domain.rules.outcome import Held, Posted, Skipped
from streams.domain.rules.payment import post_payment
from streams.domain.rules.time_entry import post_time_entry
from streams.domain.trusted import trusted

__all__ = [
    "EVENT_TOPICS",
    "SourceEvent",
    "Step",
    "StepOutcome",
    "identity",
    "post_deletion",
    "post_event",
    "post_relocation",
    "reverse_command",
]

SourceEvent: TypeAlias = TimeEntryRecorded | ExpenseRecorded | InvoiceIssued | PaymentReceived
StepOutcome: TypeAlias = Posted | Held | Skipped

#: Each project event topic (docs/design.md §2): its source type and its event model.
EVENT_TOPICS: Final[dict[str, tuple[str, type[SourceEvent]]]] = {
    "pm.time-entries": ("time_entry", TimeEntryRecorded),
    "pm.expenses": ("expense", ExpenseRecorded),
    "pm.invoices": ("invoice", InvoiceIssued),
    "pm.payments": ("payment", PaymentReceived),
}


@dataclass(frozen=True, slots=True)
class Step:
    """The table after one event, what the rule decided, and the feedback to send."""

    ledger: PostedLedger
    outcome: StepOutcome
    feedback: tuple[SyncFeedback, ...] = ()


def identity(event: SourceEvent) -> tuple[str, str, int]:
    """Return an event's source type, id and version (``("time_entry", "TE-1", 2)``)."""
    if isinstance(event, TimeEntryRecorded):
        return "time_entry", event.entry_id, event.version
    if isinstance(event, ExpenseRecorded):
        return "expense", event.expense_id, event.version
    if isinstance(event, InvoiceIssued):
        return "invoice", event.invoice_id, event.version
    return "payment", event.payment_id, event.version


def reverse_command(
    command: PostLedgerEntry, source: SourceRef, rule_version: str
) -> PostLedgerEntry:
    """Reverse a posted command: the same lines and amounts with the sides swapped.

    The reversal keeps the original's entity, date, period, rate and approval; its
    ``source`` is the record that caused it (a new version, a deletion) and its id
    is ``command_id(type, id, version, rule_version, "reverse:<original id>")``.
    """
    lines = tuple(
        trusted(PostingLine, {**line.__dict__, "side": _OTHER_SIDE[line.side]})
        for line in command.lines
    )
    reversal = command_id(
        source.type, source.id, source.version, rule_version, f"reverse:{command.command_id}"
    )
    # Mirrored lines of a balanced command balance; checked all the same, cheaply.
    check_balanced(reversal, lines, command.transaction_currency, command.base_currency)
    return trusted(
        PostLedgerEntry,
        {
            **command.__dict__,
            "command_id": reversal,
            "action": CommandAction.REVERSE,
            "reverses": command.command_id,
            "lines": lines,
            "source": source,
            "rule_version": rule_version,
            "memo": f"Reversal: {command.memo}",
        },
    )


_OTHER_SIDE: Final = {Side.DEBIT: Side.CREDIT, Side.CREDIT: Side.DEBIT}


def post_event(
    ledger: PostedLedger,
    event: SourceEvent,
    book: ReferenceBook,
    *,
    source: SourceRef,
    rule_version: str,
    locks: PeriodLocks = NO_LOCKS,
) -> Step:
    """Post a source event version: reverse what its earlier version posted, post the new.

    Args:
        ledger: The posted-records table before the event.
        event: A time entry, expense, invoice (or credit memo) or payment version.
        book: Reference data.
        source: Where the event was read; type, id and version must be the event's.
        rule_version: Version of the rules, part of every ``command_id``.
        locks: The closed periods: a command dated in one posts into the first open
            period after it, with ``late_for_period`` (``streams.domain.period_locks``).

    Returns:
        The new table, the outcome (REVERSE then POST commands, Held or Skipped)
        and the sync feedback (POSTED, HELD, and RELEASED for a credit memo's entries).

    Raises:
        ValueError: ``source`` does not name this event and version.
        LedgerstreamError: Whatever the event's rule raises (the table is unchanged).

    """
    kind, source_id, version = identity(event)
    if (source.type, source.id, source.version) != (kind, source_id, version):
        raise ValueError(
            f"source {source.type} {source.id} v{source.version} "
            f"is not {kind} {source_id} v{version}"
        )
    last = ledger.record(kind, source_id)
    live = None if last is None or last.deleted else last
    # The posted version again, posted under other rules: a replay applying a new mapping.
    remap = (
        live is not None
        and version == live.version
        and live.rule_version not in (None, rule_version)
    )
    if last is not None and version <= last.version and not remap:
        state = "deleted" if last.deleted else "posted"
        reason = f"{kind} {source_id} v{version}: v{last.version} already {state}"
        return _skip(ledger, reason)
    # A new version of an invoice replaces the one its credit memos credited: undo them too.
    memos = _memos_on(ledger, live) if live is not None and not remap else ()
    base = ledger
    for memo in memos:
        base = base.with_effects(memo.effects, by=memo.source_id, sign=-1)
    base = base if live is None else base.with_effects(live.effects, by=source_id, sign=-1)
    result = _rule(event, book, base, source, rule_version)
    if remap and (
        isinstance(result, Held) or _same(live.commands if live else (), result.commands)
    ):
        reason = f"{kind} {source_id} v{version}: unchanged under rules {rule_version}"
        return _skip(ledger, reason)
    if isinstance(result, Held):
        return Step(ledger, result, (_feedback(source, FeedbackStatus.HELD, reason=result.reason),))
    posts = locks.placed_all(result.commands)
    reversals = locks.placed_all(
        reverse_command(c, source, rule_version)
        for record in (*memos, *((live,) if live else ()))
        for c in record.commands
    )
    # trusted: validating it again would re-check every command it holds (measured).
    record = trusted(
        PostedRecord,
        {
            "source_type": kind,
            "source_id": source_id,
            "version": version,
            "commands": posts,
            "effects": result.effects,
            "deleted": False,
            "rule_version": rule_version,
        },
    )
    after = base.with_effects(result.effects, by=source_id).with_record(record)
    commands = reversals + posts
    feedback = [
        _feedback(source, FeedbackStatus.POSTED, commands=commands, late=_late(posts, reversals))
    ]
    for memo in memos:
        after = after.with_record(memo.model_copy(update={"commands": (), "effects": Effects()}))
        memo_source = source.model_copy(update={"id": memo.source_id, "version": memo.version})
        feedback.append(
            _feedback(
                memo_source,
                FeedbackStatus.REVERSED,
                commands=tuple(r for r in reversals if r.reverses in _ids(memo)),
                reason=f"invoice {source_id} v{version} replaces the version this memo "
                "credited: credit the new version's lines again",
                related_id=source_id,
            )
        )
    for bill in result.effects.unbills:
        _, entry_type, entry_id = bill.entry_key.split("/", 2)
        entry = after.record(entry_type, entry_id)
        released = source.model_copy(
            update={"type": entry_type, "id": entry_id, "version": entry.version if entry else 1}
        )
        feedback.append(
            _feedback(
                released,
                FeedbackStatus.RELEASED,
                reason=f"credited by {source_id} on invoice {bill.invoice_id}",
                related_id=source_id,
            )
        )
    return Step(after, Posted(commands), tuple(feedback))


def post_deletion(
    ledger: PostedLedger,
    *,
    source: SourceRef,
    rule_version: str,
    locks: PeriodLocks = NO_LOCKS,
) -> Step:
    """Reverse everything a deleted source record posted (a tombstone on its topic).

    Args:
        ledger: The posted-records table.
        source: The tombstone's provenance: ``type`` and ``id`` name the record; its
            ``version`` is replaced by the last version posted.
        rule_version: Version of the rules, part of every ``command_id``.
        locks: The closed periods (a reversal never posts into one).

    Returns:
        REVERSE commands and a REVERSED feedback; Skipped (counted) when nothing
        of the record is posted; Held, with a HELD feedback saying why, when
        reversing it would leave a receivable or a deposit negative (an invoice
        with payments or credit memos, a retainer already applied): those are
        reversed first. A later, higher version posts afresh. The reversals carry
        the deleted version's event time (a tombstone has none of its own).

    Raises:
        AlreadyBilledError: The record is billed on a live invoice (credit it first).

    """
    last = ledger.record(source.type, source.id)
    if last is None or last.deleted:
        return _skip(ledger, f"{source.type} {source.id}: nothing posted to delete")
    holder = ledger.billed.get(wip_key(source.type, source.id))
    if holder is not None:
        raise AlreadyBilledError(
            f"{source.type} {source.id} is billed on invoice {holder}: credit that line first",
            field="key",
        )
    source = source.model_copy(update={"version": last.version, **_provenance(last)})
    overdrawn = _overdrawn(ledger, last)
    if overdrawn:
        reason = (
            f"{source.type} {source.id} v{last.version} not deleted: "
            f"{'; '.join(overdrawn)}; reverse those first (the record stays posted)"
        )
        return Step(ledger, Held(reason), (_feedback(source, FeedbackStatus.HELD, reason=reason),))
    reversals = locks.placed_all(reverse_command(c, source, rule_version) for c in last.commands)
    after = ledger.with_effects(last.effects, by=source.id, sign=-1).with_record(
        last.model_copy(update={"deleted": True, "commands": (), "effects": Effects()})
    )
    feedback = _feedback(
        source,
        FeedbackStatus.REVERSED,
        commands=reversals,
        reason="deleted",
        late=_late(reversals),
    )
    return Step(after, Posted(reversals), (feedback,))


def _memos_on(ledger: PostedLedger, live: PostedRecord) -> tuple[PostedRecord, ...]:
    """Return the credit memos that credited lines of an invoice's posted version.

    Found by key (``credited`` per invoice line), so it works on a store that
    cannot list its keys; each memo once, in the order of the lines it credited.
    """
    invoice = live.effects.invoice
    if live.source_type != "invoice" or invoice is None:
        return ()
    found: dict[str, PostedRecord] = {}
    for line in invoice.lines:
        memo_id = ledger.credited.get(credited_key(invoice.invoice_id, line.line_no))
        if memo_id is None or memo_id in found:
            continue
        memo = ledger.live("invoice", memo_id)
        if memo is not None:
            found[memo_id] = memo
    return tuple(found.values())


def _ids(record: PostedRecord) -> set[str]:
    return {c.command_id for c in record.commands}


def post_relocation(
    ledger: PostedLedger,
    event: SourceEvent,
    *,
    source: SourceRef,
    rule_version: str,
    moved_to: str,
    locks: PeriodLocks = NO_LOCKS,
) -> Step:
    """Reverse what this ledger posted of a record whose newer version posts elsewhere.

    The ledger now keyed ``moved_to`` posted ``event`` without knowing its earlier
    version (its project moved to another entity or customer, or an edit put it on
    another project) and told every other ledger (``streams.domain.routing``). The
    one that holds an older version live reverses it here, with the same command
    ids a REVERSE by ``event`` in one ledger would have, and forgets it.

    Args:
        ledger: This ledger's posted-records table.
        event: The version posted under ``moved_to``.
        source: Where the event was read (its id and version name the reversals).
        rule_version: Version of the rules, part of every ``command_id``.
        moved_to: The ledger key the record now posts under.
        locks: The closed periods (a reversal never posts into one).

    Returns:
        REVERSE commands and a REVERSED feedback (version: the one reversed);
        Skipped (not counted: the notice reaches every ledger) when nothing older
        is live here.

    Raises:
        RelocationBlockedError: The version here is billed on a live invoice, or
            its receivable or deposit is relieved: wait (park) until it is credited.

    """
    kind, source_id, version = identity(event)
    live = ledger.live(kind, source_id)
    if live is None or live.version >= version:
        return Step(ledger, Skipped(f"{kind} {source_id} v{version}: nothing older here"))
    moved = f"{kind} {source_id} v{version} now posts in ledger {moved_to}"
    holder = ledger.billed.get(wip_key(kind, source_id))
    blocked = [f"v{live.version} here is billed on invoice {holder}"] if holder else []
    blocked += _overdrawn(ledger, live)
    here = source.model_copy(update={"version": live.version})
    if blocked:
        raise RelocationBlockedError(
            f"{moved}, but {'; '.join(blocked)}: it is reversed here once that is credited",
            field="key",
        )
    reversals = locks.placed_all(reverse_command(c, source, rule_version) for c in live.commands)
    after = ledger.with_effects(live.effects, by=source_id, sign=-1).with_record(
        live.model_copy(update={"deleted": True, "commands": (), "effects": Effects()})
    )
    reason = f"{moved}: v{live.version} reversed here"
    feedback = _feedback(
        here, FeedbackStatus.REVERSED, commands=reversals, reason=reason, late=_late(reversals)
    )
    return Step(after, Posted(reversals), (feedback,))


def _overdrawn(ledger: PostedLedger, record: PostedRecord) -> list[str]:
    """Say which receivables or deposits undoing ``record`` would leave negative, and why.

    An invoice that payments or credit memos relieved, or a retainer whose deposit
    an invoice applied: reversing it alone would leave the receivable (or the
    deposit) below zero, with nothing in the books to say why.
    """
    found = []
    for delta in record.effects.deltas:
        if delta.amount <= 0 or not delta.key.startswith(("ar/", "deposit/")):
            continue
        balance = ledger.balance(delta.key)
        left = balance.amount if balance is not None else Decimal(0)
        if left < delta.amount:
            what = "receivable" if delta.key.startswith("ar/") else "deposit"
            found.append(
                f"{delta.amount - left} {delta.currency} of its {what} ({delta.key}) is already "
                f"relieved (by payments, credit memos or an applied retainer), so reversing it "
                f"would leave {left - delta.amount} {delta.currency}"
            )
    return found


def _provenance(record: PostedRecord) -> dict[str, Any]:
    """Return the event time a deletion's reversals carry: that of the version they reverse.

    A tombstone has no event time of its own (only the broker's timestamp, which
    the offline dry run does not have): the same deletion must give the same
    commands on every path.
    """
    if not record.commands:
        return {}
    return {"event_time": record.commands[0].source.event_time}


def _skip(ledger: PostedLedger, reason: str) -> Step:
    return Step(ledger.model_copy(update={"skipped": ledger.skipped + 1}), Skipped(reason))


#: What identifies or traces a command rather than saying what it posts (the period it
#: lands in depends on the locks of the moment, not on the rules).
_IDENTITY = {
    "command_id",
    "rule_version",
    "source",
    "reverses",
    "trace_id",
    "span_id",
    "period",
    "late_for_period",
}


def _same(old: tuple[PostLedgerEntry, ...], new: tuple[PostLedgerEntry, ...]) -> bool:
    """Say whether two command lists post the same (ids, rule version, provenance aside)."""
    return [c.model_dump(exclude=_IDENTITY) for c in old] == [
        c.model_dump(exclude=_IDENTITY) for c in new
    ]


def _rule(
    event: SourceEvent,
    book: ReferenceBook,
    ledger: PostedLedger,
    source: SourceRef,
    rule_version: str,
) -> Booked | Held:
    if isinstance(event, InvoiceIssued):
        return post_invoice(event, book, ledger, source=source, rule_version=rule_version)
    if isinstance(event, PaymentReceived):
        return post_payment(event, book, ledger, source=source, rule_version=rule_version)
    if isinstance(event, TimeEntryRecorded):
        outcome = post_time_entry(event, book, source=source, rule_version=rule_version)
        effect = "revenue"
    else:
        outcome = post_expense(event, book, source=source, rule_version=rule_version)
        effect = "rebill"
    if isinstance(outcome, Held):
        return outcome
    accrual = command_id(source.type, source.id, source.version, rule_version, effect)
    deltas = tuple(
        Delta(
            key=wip_key(source.type, source.id),
            currency=c.transaction_currency,
            amount=c.lines[0].amount,
            base=c.lines[0].base_amount,
        )
        for c in outcome.commands
        if c.command_id == accrual
    )
    return Booked(outcome.commands, Effects(deltas=deltas))


def _feedback(
    source: SourceRef,
    status: FeedbackStatus,
    *,
    commands: tuple[PostLedgerEntry, ...] = (),
    reason: str = "",
    related_id: str | None = None,
    late: PostLedgerEntry | None = None,
) -> SyncFeedback:
    if late is not None:
        note = f"period {late.late_for_period} is closed: posted into {late.period}"
        reason = f"{reason}; {note}" if reason else note
    return SyncFeedback(
        source_type=source.type,
        source_id=source.id,
        version=source.version,
        status=status,
        command_ids=tuple(c.command_id for c in commands),
        reason=reason,
        related_id=related_id,
        event_time=source.event_time,
        late_for_period=None if late is None else late.late_for_period,
    )


def _late(*groups: tuple[PostLedgerEntry, ...]) -> PostLedgerEntry | None:
    """Return the first command moved out of a closed period (the record's POSTs first)."""
    return next((c for g in groups for c in g if c.late_for_period), None)
