"""``toggle set`` and ``toggle list``: the kill switch, pilot and dry-run, audited.

``set`` writes one record keyed by the toggle's name to the compacted
``ledgerstream.control`` topic (Avro, ``schemas/ledgerstream.control``); every
worker follows it within a fraction of a second. ``list`` reads the topic to
its end and shows each toggle's latest setting. Each ``set`` leaves one audit
record (``toggle.set``) on ``ledgerstream.audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from streams.adapters.audit import AUDIT_TOPIC, AuditLog
from streams.adapters.avro import AvroCodec
from streams.adapters.kafka_io import RecordProducer, read_topics
from streams.domain.events import parse_event
from streams.domain.toggles import CONTROL_TOPIC, Toggle, ToggleName, entity_toggle
from streams.ops.action import Operator, audited
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.render import instant
from streams.settings import Settings

__all__ = ["read_toggles", "run_list", "run_set"]


def run_set(
    settings: Settings,
    codec: AvroCodec,
    name: str,
    *,
    enabled: bool,
    allow_customers: Sequence[str],
    allow_projects: Sequence[str],
    entity: str | None = None,
    reason: str,
    operator: Operator,
    out: TextIO,
) -> int:
    """Turn one toggle on or off (with the pilot's allow-lists) and audit it.

    ``entity``: the kill switch of one legal entity only (``kill_switch/<entity>``):
    its records are held, in order, and post when it is turned off.

    Raises:
        InvalidArgumentError: Allow-lists given for a toggle other than ``pilot``, or no reason.
        ProduceError: The control record was not delivered.

    """
    if name != ToggleName.PILOT and (allow_customers or allow_projects):
        raise InvalidArgumentError(
            "--allow-customer/--allow-project only go with the pilot toggle", field="--allow-*"
        )
    if entity is not None:
        if name != ToggleName.KILL_SWITCH:
            raise InvalidArgumentError("--entity only goes with kill_switch", field="--entity")
        name = entity_toggle(entity)
    if not reason.strip():
        raise InvalidArgumentError("--reason must say why", field="--reason")
    toggle = Toggle(
        name=name,
        enabled=enabled,
        allow_customers=tuple(dict.fromkeys(allow_customers)),
        allow_projects=tuple(dict.fromkeys(allow_projects)),
        reason=reason,
        changed_by=operator.name,
        changed_at=datetime.now(UTC),
    )
    client = settings.kafka_client_config()
    log = AuditLog(client, settings.topic(AUDIT_TOPIC))
    arguments = toggle.model_dump(mode="json", exclude={"changed_by", "changed_at"})
    with audited(log, operator, "toggle.set", arguments) as action:
        producer = RecordProducer(client, linger_ms=0)
        value = codec.encode(CONTROL_TOPIC, toggle.model_dump())
        producer.send(settings.topic(CONTROL_TOPIC), name.encode(), value)
        producer.flush()
        action.counts["written"] = 1
    out.write(f"{_line(toggle)}\n")
    return 0


def read_toggles(
    settings: Settings, codec: AvroCodec, *, idle_seconds: float = 1.0
) -> dict[str, Toggle | None]:
    """Read the control topic to its end: each toggle's latest setting (None: deleted)."""
    latest: dict[str, Toggle | None] = {}
    for record in read_topics(
        settings.kafka_client_config(),
        [settings.topic(CONTROL_TOPIC)],
        idle_seconds=idle_seconds,
    ):
        name = (record.key or b"").decode(errors="replace")
        if record.value is None:
            latest[name] = None
        else:
            latest[name] = parse_event(Toggle, codec.decode(CONTROL_TOPIC, record.value).record)
    return latest


def run_list(settings: Settings, codec: AvroCodec, out: TextIO) -> int:
    """Print every toggle's latest setting; a toggle never set (or deleted) is off."""
    latest = read_toggles(settings, codec)
    for name in [*ToggleName, *sorted(set(latest) - set(ToggleName))]:
        toggle = latest.get(name)
        out.write(f"{_line(toggle) if toggle is not None else f'{name:<12} off (not set)'}\n")
    return 0


def _line(toggle: Toggle) -> str:
    state = "on" if toggle.enabled else "off"
    lists = ""
    if toggle.allow_customers:
        lists += f" customers={','.join(toggle.allow_customers)}"
    if toggle.allow_projects:
        lists += f" projects={','.join(toggle.allow_projects)}"
    return (
        f"{toggle.name:<12} {state:<3}{lists} "
        f"({instant(toggle.changed_at)} by {toggle.changed_by}: {toggle.reason})"
    )
