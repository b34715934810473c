"""``ledgerstream parked``: the records stage 2 holds back, and why."""

from __future__ import annotations

import sys

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_USAGE, need_cluster, pass_settings
from streams.settings import Settings


@click.command("parked", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.option(
    "--idle",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    metavar="S",
    help="stop reading once no record came for S seconds",
)
@pass_settings
def command(settings: Settings, as_json: bool, idle: float) -> int:
    """List the records stage 2 holds back, and why (read-only).

    Every record parked in the group's posted-records table (LEDGERSTREAM_APP_ID):
    waiting for reference data (MISSING_REFERENCE, MISSING_FX_RATE), for an entry an
    invoice bills (UNPOSTED_SOURCE), for its entity's kill switch (ENTITY_PAUSED) or
    behind an earlier version (QUEUED); with attempts, first failure and next retry.
    """
    from streams.ops.parked import run_parked  # noqa: PLC0415

    if not need_cluster(settings, "parked"):
        return EXIT_USAGE
    return run_parked(settings, sys.stdout, as_json=as_json, idle_seconds=idle)
