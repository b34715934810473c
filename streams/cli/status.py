"""``ledgerstream status``: has the consumer group caught up? Lag per partition, parked count."""

from __future__ import annotations

import sys

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_USAGE, need_cluster, pass_settings
from streams.settings import Settings


@click.command("status", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of the table")
@click.option(
    "--idle",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    metavar="S",
    help="stop reading the parked records once none came for S seconds",
)
@pass_settings
def command(settings: Settings, as_json: bool, idle: float) -> int:
    """Say whether the workers' group has caught up (read-only; exit 4 if not).

    For every partition of the worker's input topics (pm.* events, reference topics)
    and of stage 2's ledgerstream.ledger-events: the group's committed offset
    (LEDGERSTREAM_APP_ID), the exact end of the log, the real records left to read
    (heartbeat canaries not counted) and caught up yes/no; then the parked records
    and the answer. Use it after a restart or a replay (docs/runbooks/replay.md).
    """
    from streams.agents.route import LEDGER_TOPIC  # noqa: PLC0415
    from streams.domain.posting import EVENT_TOPICS  # noqa: PLC0415
    from streams.domain.reference import REFERENCE_TOPICS  # noqa: PLC0415
    from streams.ops.status import run_status  # noqa: PLC0415

    if not need_cluster(settings, "status"):
        return EXIT_USAGE
    topics = [*EVENT_TOPICS, *REFERENCE_TOPICS, LEDGER_TOPIC]
    return run_status(settings, sys.stdout, topics=topics, as_json=as_json, idle_seconds=idle)
