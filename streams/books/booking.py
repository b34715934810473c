"""Book a batch of posting commands in one database transaction, and decide each answer.

The ledger semantics (docs/books.md), in the order they are checked:

1. **Idempotency.** The command id is the key. Booked before with the same body:
   ``EXISTS`` (nothing booked again); with another body:
   ``REJECTED_EXISTS_WITH_DIFFERENT_BODY``. The *body* is the command without its
   trace ids and without where it was read (``source.topic``, ``partition``,
   ``offset``): those say how it travelled, not what it books.
2. **Validity.** A command that does not balance in transaction or base currency
   (or has a negative amount, too many decimals, fewer than two lines):
   ``REJECTED`` ``UNBALANCED``; any other contract violation ``INVALID_COMMAND``.
3. **Chart.** Every line's account must be in ``books_accounts`` for the entity
   (or for every entity, ``*``): else ``UNKNOWN_ACCOUNT``.
4. **Period.** A period closed for the entity (``books_periods``): ``CLOSED_PERIOD``.
5. **Reversal.** A REVERSE must name a command booked in the same entity
   (``REVERSES_UNKNOWN``), not reversed already (``ALREADY_REVERSED``), with the
   same lines on the other side (``REVERSAL_MISMATCH``).

A rejected command books nothing and is not remembered as booked: sent again (after
the period is reopened, say) it is judged again. Every answer is written to the
outbox in the same transaction as the booking, so a crash after the commit loses no
answer (``streams.books.sink`` delivers the outbox).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from streams.books.exceptions import BooksDatabaseError, driver_reason
from streams.books.tables import ALL_ENTITIES, accounts, entries, lines, outbox, periods, to_e4
from streams.domain.acks import AckStatus, LedgerAck, RejectCode
from streams.domain.commands import CommandAction, PostLedgerEntry, Side
from streams.domain.events import parse_event
from streams.domain.exceptions import LedgerstreamError, UnbalancedCommandError

__all__ = ["Incoming", "body_hash", "book_batch"]

#: Fields of ``source`` that say where a command was read, not what it books.
_TRAVEL: Final = ("topic", "partition", "offset")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One command as read from ``acct.ledger-commands``: its position and decoded value."""

    partition: int
    offset: int
    record: Mapping[str, Any]


class _RejectedError(Exception):
    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _canonical(value: Any) -> Any:  # noqa: PLR0911 - one return per JSON kind
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum
        return value.value
    return value


def body_hash(record: Mapping[str, Any]) -> tuple[str, str]:
    """Return the canonical body of a decoded command and its SHA-256 (the sameness test).

    Trace ids and the Kafka position of the source are left out; decimals are
    normalised (``1.5000`` and ``1.5`` are the same amount).
    """
    body = {k: v for k, v in record.items() if k not in ("trace_id", "span_id")}
    source = body.get("source")
    if isinstance(source, Mapping):
        body["source"] = {k: v for k, v in source.items() if k not in _TRAVEL}
    text = json.dumps(_canonical(body), sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def book_batch(engine: Engine, batch: Sequence[Incoming], *, now: datetime) -> list[LedgerAck]:
    """Book a batch of commands in one transaction; return (and queue in the outbox) each answer.

    Args:
        engine: The books (``open_books``).
        batch: Commands in the order read (a later one sees what an earlier booked).
        now: When the books decide (``decided_at``, ``booked_at``).

    Returns:
        One ack per command, in order; the same acks are in ``books_outbox``.

    Raises:
        BooksDatabaseError: The transaction failed; nothing of the batch is booked.

    """
    try:
        with engine.begin() as conn:
            acks = [_book_one(conn, item, now) for item in batch]
            if acks:
                conn.execute(
                    insert(outbox),
                    [{"command_id": a.command_id, "payload": a.model_dump_json()} for a in acks],
                )
    except SQLAlchemyError as exc:
        raise BooksDatabaseError(f"booking a batch of {len(batch)}: {driver_reason(exc)}") from exc
    return acks


def _book_one(conn: Connection, item: Incoming, now: datetime) -> LedgerAck:
    raw = item.record
    text, digest = body_hash(raw)
    command_id = str(raw.get("command_id", ""))
    found = conn.execute(
        select(entries.c.body_hash).where(entries.c.command_id == command_id)
    ).first()
    if found is not None:
        if found.body_hash == digest:
            return _ack(item, AckStatus.EXISTS, now)
        return _ack(
            item,
            AckStatus.REJECTED_EXISTS_WITH_DIFFERENT_BODY,
            now,
            RejectCode.DIFFERENT_BODY,
            f"command {command_id} was booked before with another body",
        )
    try:
        command = _validated(raw)
        _check_accounts(conn, command)
        _check_period(conn, command)
        if command.action is CommandAction.REVERSE:
            _check_reversal(conn, command)
    except _RejectedError as rejected:
        return _ack(item, AckStatus.REJECTED, now, rejected.code, rejected.reason)
    _insert(conn, command, item, text=text, digest=digest, now=now)
    return _ack(item, AckStatus.BOOKED, now)


def _validated(raw: Mapping[str, Any]) -> PostLedgerEntry:
    try:
        command = parse_event(PostLedgerEntry, raw)
    except UnbalancedCommandError as exc:
        raise _RejectedError(RejectCode.UNBALANCED, str(exc)) from exc
    except LedgerstreamError as exc:
        raise _RejectedError(RejectCode.INVALID_COMMAND, str(exc)) from exc
    if command.action is CommandAction.REVERSE and not command.reverses:
        raise _RejectedError(RejectCode.INVALID_COMMAND, "reverses: a REVERSE names no command")
    if command.action is CommandAction.POST and command.reverses:
        raise _RejectedError(RejectCode.INVALID_COMMAND, "reverses: a POST reverses nothing")
    return command


def _check_accounts(conn: Connection, command: PostLedgerEntry) -> None:
    chart = set(
        conn.execute(
            select(accounts.c.code).where(
                or_(accounts.c.entity_id == ALL_ENTITIES, accounts.c.entity_id == command.entity_id)
            )
        ).scalars()
    )
    for line in command.lines:
        if line.account not in chart:
            raise _RejectedError(
                RejectCode.UNKNOWN_ACCOUNT,
                f"lines.{line.line_no - 1}.account: {line.account} is not in the chart of "
                f"accounts of {command.entity_id}",
            )


def _check_period(conn: Connection, command: PostLedgerEntry) -> None:
    closed = conn.execute(
        select(periods.c.closed_by).where(
            periods.c.entity_id == command.entity_id, periods.c.period == command.period
        )
    ).first()
    if closed is not None:
        raise _RejectedError(
            RejectCode.CLOSED_PERIOD,
            f"period {command.period} of {command.entity_id} is closed (by {closed.closed_by})",
        )


def _check_reversal(conn: Connection, command: PostLedgerEntry) -> None:
    target = conn.execute(
        select(entries.c.entity_id, entries.c.reversed_by).where(
            entries.c.command_id == command.reverses
        )
    ).first()
    if target is None or target.entity_id != command.entity_id:
        raise _RejectedError(
            RejectCode.REVERSES_UNKNOWN,
            f"reverses: {command.reverses} was never booked in {command.entity_id}",
        )
    if target.reversed_by is not None:
        raise _RejectedError(
            RejectCode.ALREADY_REVERSED,
            f"reverses: {command.reverses} was reversed already by {target.reversed_by}",
        )
    booked = conn.execute(
        select(lines.c.account, lines.c.side, lines.c.amount_e4, lines.c.base_amount_e4).where(
            lines.c.command_id == command.reverses
        )
    ).all()
    other = {Side.DEBIT.value: Side.CREDIT.value, Side.CREDIT.value: Side.DEBIT.value}
    expected = sorted((r.account, other[r.side], r.amount_e4, r.base_amount_e4) for r in booked)
    given = sorted(
        (ln.account, ln.side.value, to_e4(ln.amount), to_e4(ln.base_amount)) for ln in command.lines
    )
    if expected != given:
        raise _RejectedError(
            RejectCode.REVERSAL_MISMATCH,
            f"lines: not the lines of {command.reverses} on the other side",
        )


def _insert(
    conn: Connection,
    command: PostLedgerEntry,
    item: Incoming,
    *,
    text: str,
    digest: str,
    now: datetime,
) -> None:
    source = command.source
    conn.execute(
        insert(entries).values(
            command_id=command.command_id,
            action=command.action.value,
            reverses=command.reverses,
            reversed_by=None,
            entity_id=command.entity_id,
            journal=command.journal,
            effective_date=command.effective_date,
            period=command.period,
            transaction_currency=command.transaction_currency,
            base_currency=command.base_currency,
            fx_rate=str(command.fx.rate),
            source_type=source.type,
            source_id=source.id,
            source_version=source.version,
            rule_version=command.rule_version,
            memo=command.memo,
            body_hash=digest,
            body=text,
            booked_at=now.astimezone(UTC).isoformat(),
            command_partition=item.partition,
            command_offset=item.offset,
        )
    )
    conn.execute(
        insert(lines),
        [
            {
                "command_id": command.command_id,
                "line_no": ln.line_no,
                "entity_id": command.entity_id,
                "period": command.period,
                "effective_date": command.effective_date,
                "account": ln.account,
                "side": ln.side.value,
                "amount_e4": to_e4(ln.amount),
                "base_amount_e4": to_e4(ln.base_amount),
                "currency": command.transaction_currency,
                "base_currency": command.base_currency,
                "project_id": ln.dimensions.project_id,
                "customer_id": ln.dimensions.customer_id,
                "source_type": source.type,
                "source_id": source.id,
                "memo": ln.memo,
            }
            for ln in command.lines
        ],
    )
    if command.action is CommandAction.REVERSE:
        conn.execute(
            update(entries)
            .where(entries.c.command_id == command.reverses)
            .values(reversed_by=command.command_id)
        )


def _ack(
    item: Incoming,
    status: AckStatus,
    now: datetime,
    code: RejectCode | None = None,
    reason: str = "",
) -> LedgerAck:
    raw = item.record
    source = raw.get("source") if isinstance(raw.get("source"), Mapping) else {}
    assert isinstance(source, Mapping)  # noqa: S101 - narrowed above, for mypy
    action = raw.get("action", "")
    event_time = source.get("event_time")
    return LedgerAck(
        command_id=str(raw.get("command_id", "")),
        status=status,
        reason_code="" if code is None else code.value,
        reason=reason,
        action=str(getattr(action, "value", action)),
        reverses=raw.get("reverses"),
        entity_id=str(raw.get("entity_id", "")),
        period=str(raw.get("period", "")),
        source_type=str(source.get("type", "")),
        source_id=str(source.get("id", "")),
        source_version=int(source.get("version", 0)),
        source_event_time=event_time if isinstance(event_time, datetime) else _EPOCH,
        command_partition=item.partition,
        command_offset=item.offset,
        decided_at=now,
    )
