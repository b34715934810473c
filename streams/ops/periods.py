"""``period close|reopen|list``: lock an entity's accounting period, audited.

A lock is a control record on the compacted ``ledgerstream.control`` topic, next to
the toggles, keyed ``period_lock/<entity>/<YYYY-MM>`` (schema
``schemas/ledgerstream.control``: ``enabled`` on = closed, off = reopened, with who,
when and why). Every worker follows it within a second: a record dated in a closed
period then posts into the first open period after it, with ``late_for_period``
(``streams.domain.period_locks``). Each close or reopen leaves one audit record
(``period.close``, ``period.reopen``) on ``ledgerstream.audit``; a reopened period is
counted by the workers' ``ledgerstream_reopened_periods`` gauge, which the
``LedgerstreamPeriodReopened`` alert watches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from streams.adapters.audit import AUDIT_TOPIC, AuditLog
from streams.adapters.avro import AvroCodec
from streams.adapters.kafka_io import RecordProducer
from streams.domain.period_locks import is_period, period_lock_name, period_lock_of
from streams.domain.toggles import CONTROL_TOPIC, Toggle
from streams.ops.action import Operator, audited
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.render import instant
from streams.ops.toggles import read_toggles
from streams.settings import Settings

__all__ = ["lock_record", "run_list", "run_lock"]


def lock_record(
    entity: str, period: str, *, closed: bool, reason: str, operator: str, at: datetime
) -> Toggle:
    """Build the control record of a close (``closed``) or a reopen.

    Raises:
        InvalidArgumentError: No entity, a period that is not ``YYYY-MM``, or no reason.

    """
    if not entity.strip() or "/" in entity:
        raise InvalidArgumentError(f"--entity: not an entity id: {entity!r}", field="--entity")
    if not is_period(period):
        raise InvalidArgumentError(
            f"--period: expected YYYY-MM (e.g. 2026-09), got {period!r}", field="--period"
        )
    if not reason.strip():
        raise InvalidArgumentError("--reason must say why", field="--reason")
    return Toggle(
        name=period_lock_name(entity, period),
        enabled=closed,
        reason=reason,
        changed_by=operator,
        changed_at=at,
    )


def run_lock(
    settings: Settings,
    codec: AvroCodec,
    *,
    entity: str,
    period: str,
    closed: bool,
    reason: str,
    operator: Operator,
    out: TextIO,
) -> int:
    """Close (or reopen) one entity's period on the control topic, audited.

    Raises:
        InvalidArgumentError: See :func:`lock_record`.
        KafkaAdminError: The audit topic is missing (nothing is written).
        ProduceError: The control record was not delivered (audited as failed).

    """
    record = lock_record(
        entity, period, closed=closed, reason=reason, operator=operator.name, at=datetime.now(UTC)
    )
    client = settings.kafka_client_config()
    log = AuditLog(client, settings.topic(AUDIT_TOPIC))
    arguments = {"entity": entity, "period": period, "reason": reason}
    with audited(log, operator, "period.close" if closed else "period.reopen", arguments) as act:
        producer = RecordProducer(client, linger_ms=0)
        value = codec.encode(CONTROL_TOPIC, record.model_dump())
        producer.send(settings.topic(CONTROL_TOPIC), record.name.encode(), value)
        producer.flush()
        act.counts["written"] = 1
    out.write(f"{_line(entity, period, record)}\n")
    return 0


def run_list(settings: Settings, codec: AvroCodec, out: TextIO, *, entity: str | None) -> int:
    """Print every period lock (closed or reopened), newest period first per entity."""
    locks = []
    for name, toggle in read_toggles(settings, codec).items():
        lock = period_lock_of(name)
        if lock is not None and toggle is not None and entity in (None, lock[0]):
            locks.append((lock[0], lock[1], toggle))
    for ent, period, toggle in sorted(locks, key=lambda x: (x[0], x[1]), reverse=True):
        out.write(f"{_line(ent, period, toggle)}\n")
    if not locks:
        out.write("no period lock\n")
    return 0


def _line(entity: str, period: str, toggle: Toggle) -> str:
    state = "closed" if toggle.enabled else "reopened"
    return (
        f"{entity:<10} {period} {state:<8} "
        f"({instant(toggle.changed_at)} by {toggle.changed_by}: {toggle.reason})"
    )
