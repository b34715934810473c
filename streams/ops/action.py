"""One operator action, timed and audited: the record is written however the action ends.

``audited`` wraps an action: the body fills in counts (and the outcome, for a
dry run); a refusal (:class:`GroupActiveError`, :class:`OffsetResetError`) is
recorded as ``refused``, any other error as ``failed``, and re-raised. The audit
topic is checked before the action starts, so nothing is done unaudited.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.adapters.audit import AuditEvent, AuditLog
from streams.ops.exceptions import GroupActiveError, OffsetResetError

__all__ = ["ActionRecord", "Operator", "audited"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Operator:
    """Who runs an action, and from which host."""

    name: str
    host: str = field(default_factory=socket.gethostname)


@dataclass(slots=True)
class ActionRecord:
    """What the body of an audited action reports: its counts, outcome and details."""

    action_id: str
    counts: dict[str, int] = field(default_factory=dict)
    outcome: str = "applied"
    details: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def audited(
    log: AuditLog,
    operator: Operator,
    action: str,
    arguments: Mapping[str, Any],
    *,
    clock: Callable[[], datetime] = _now,
) -> Iterator[ActionRecord]:
    """Run an action's body and write its one audit record, whatever the outcome.

    Raises:
        KafkaAdminError: The audit topic is missing (checked before the body runs).
        ProduceError: The audit record of a completed action was not delivered.

    """
    log.check()
    record = ActionRecord(action_id=str(uuid.uuid4()))
    started = clock()
    error: str | None = None
    try:
        yield record
    except (GroupActiveError, OffsetResetError) as exc:
        record.outcome, error = "refused", str(exc)
        _write(log, operator, action, arguments, record, started, clock(), error, failing=True)
        raise
    except Exception as exc:
        record.outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        _write(log, operator, action, arguments, record, started, clock(), error, failing=True)
        raise
    _write(log, operator, action, arguments, record, started, clock(), None, failing=False)


def _write(  # noqa: PLR0917 - one call site, in order of the record's fields
    log: AuditLog,
    operator: Operator,
    action: str,
    arguments: Mapping[str, Any],
    record: ActionRecord,
    started: datetime,
    finished: datetime,
    error: str | None,
    *,
    failing: bool,
) -> None:
    event = AuditEvent(
        action_id=record.action_id,
        action=action,
        operator=operator.name,
        host=operator.host,
        arguments=arguments,
        counts=record.counts,
        outcome=record.outcome,
        started_at=started,
        finished_at=finished,
        error=error,
        details=record.details,
    )
    try:
        log.write(event)
    except Exception:
        if not failing:
            raise
        # the action's own error is what the operator must see; keep this one in the log
        _log.exception("could not write the audit record of a failed %s", action)
