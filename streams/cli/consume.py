"""``ledgerstream consume``: print a topic's records, decoded, as JSON lines."""

from __future__ import annotations

import json
from typing import Any

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_USAGE, pass_settings, reading_options
from streams.settings import Settings


@click.command("consume", context_settings=CONTEXT_SETTINGS)
@click.argument("topic")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="stop after the first N records (0: all)",
)
@reading_options(max_seconds=60.0)
@pass_settings
def command(settings: Settings, topic: str, limit: int, idle: float, max_seconds: float) -> int:
    """Print a topic's records, decoded, as JSON lines.

    Reads TOPIC from the beginning. TOPIC is a logical name (acct.ledger-commands, pm.time-entries,
    ledgerstream.audit ...); LEDGERSTREAM_TOPIC_PREFIX is added. Each line holds
    partition, offset, key and the decoded value with its schema id, or an error and
    the raw bytes. The count goes to stderr.
    """
    from streams.adapters.audit import AUDIT_TOPIC  # noqa: PLC0415
    from streams.adapters.avro import AvroCodec  # noqa: PLC0415
    from streams.adapters.kafka_io import read_topics  # noqa: PLC0415
    from streams.agents.runtime import COMMANDS_TOPIC, SHADOW_TOPIC  # noqa: PLC0415
    from streams.app import schema_source  # noqa: PLC0415
    from streams.domain.exceptions import LedgerstreamError  # noqa: PLC0415
    from streams.ops.render import json_default  # noqa: PLC0415

    if settings.embedded:
        click.echo("KAFKA_BOOTSTRAP_SERVERS is not set", err=True)
        return EXIT_USAGE
    codec = AvroCodec(schema_source(settings))
    # the shadow topic carries the sink's own bytes (pilot and dry-run)
    schema_topic = COMMANDS_TOPIC if topic == SHADOW_TOPIC else topic
    shown = 0
    for record in read_topics(
        settings.kafka_client_config(),
        [settings.topic(topic)],
        idle_seconds=idle,
        max_seconds=max_seconds,
    ):
        row: dict[str, Any] = {
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode(errors="replace") if record.key else None,
        }
        try:
            if topic == AUDIT_TOPIC:  # operator events are JSON (streams/adapters/audit.py)
                row |= {"value": json.loads(record.value or b"null")}
            else:
                decoded = codec.decode(schema_topic, record.value)
                row |= {"schema_id": decoded.schema_id, "value": decoded.record}
        except LedgerstreamError as exc:
            row |= {"error": f"{exc.code}: {exc}", "raw": record.value}
        except ValueError as exc:
            row |= {"error": f"not JSON: {exc}", "raw": record.value}
        click.echo(json.dumps(row, default=json_default, sort_keys=True))
        shown += 1
        if limit and shown >= limit:
            break
    click.echo(f"{shown} records", err=True)
    return 0
