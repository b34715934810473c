"""``ledgerstream replay``: replay by resetting a stopped consumer group's offsets."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    audit_operator,
    need_cluster,
    operator_option,
    pass_settings,
)
from streams.settings import Settings


def worker_input_topics() -> list[str]:
    """Return the source topics a replay resets: project events and reference data.

    Not ``ledgerstream.ledger-events``: replayed source records are routed to it
    again, and stage 2 posts only what its table says is new or changed.
    """
    from streams.domain.posting import EVENT_TOPICS  # noqa: PLC0415
    from streams.domain.reference import REFERENCE_TOPICS  # noqa: PLC0415

    return [*EVENT_TOPICS, *REFERENCE_TOPICS]


@click.command(
    "replay",
    context_settings=CONTEXT_SETTINGS,
)
@click.option("--group", required=True, metavar="G", help="consumer group = the workers' app id")
@click.option("--to-earliest", is_flag=True, help="every partition back to its earliest offset")
@click.option(
    "--to-datetime",
    metavar="T",
    help="each partition to its first record at or after T: ISO 8601 with a zone "
    "(2026-11-10T14:00:00Z) or an age (2h, 7d)",
)
@click.option(
    "--to-offset",
    multiple=True,
    metavar="TOPIC:PARTITION:OFFSET ...",
    help="exactly these partitions to these offsets (logical topic names; list several "
    "after it or repeat it)",
)
@click.option(
    "--topics",
    multiple=True,
    metavar="TOPIC ...",
    help="logical topics reset by --to-earliest/--to-datetime (list several after it or "
    "repeat it)  [default: every topic a worker reads from the source: pm.time-entries, "
    "pm.expenses, pm.invoices, pm.payments, ref.entities, ref.fx-rates, pm.customers, "
    "pm.projects, pm.employees; never ledgerstream.ledger-events, which the worker "
    "fills again as it re-reads them]",
)
@click.argument("more", nargs=-1, metavar="")
@click.option("--dry-run", is_flag=True, help="show the old and new offsets, change nothing")
@click.option(
    "--allow-forward",
    is_flag=True,
    help="allow moving a partition forward, past records the group has not read",
)
@click.option(
    "--heartbeat-window",
    type=click.FloatRange(min=0),
    metavar="S",
    help="a heartbeat canary of the group younger than S seconds means a worker runs "
    "(0: do not look)  [default: 3 x LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS]",
)
@operator_option()
@pass_settings
def command(
    settings: Settings,
    *,
    group: str,
    to_earliest: bool,
    to_datetime: str | None,
    to_offset: tuple[str, ...],
    topics: tuple[str, ...],
    more: tuple[str, ...],
    dry_run: bool,
    allow_forward: bool,
    heartbeat_window: float | None,
    operator: str | None,
) -> int:
    """Replay: move a stopped consumer group's offsets back.

    The group's committed offsets move so that its workers read records again.

    Give one of --to-earliest, --to-datetime or --to-offset. Refused while a worker of
    the group runs, or when a partition would move forward past unread records
    (docs/runbooks/replay.md). Audited.
    """
    from streams.app import HEARTBEAT_TOPIC  # noqa: PLC0415
    from streams.ops.replay import ReplayMode, ReplayRequest, run_replay  # noqa: PLC0415
    from streams.ops.selection import parse_instant, parse_offset_targets  # noqa: PLC0415

    if sum((to_earliest, to_datetime is not None, bool(to_offset))) != 1:
        raise click.UsageError("give one of --to-earliest, --to-datetime T or --to-offset ...")
    if to_offset and topics:
        click.echo("replay: --topics does not go with --to-offset (each names its topic)", err=True)
        return EXIT_USAGE
    if more and not (to_offset or topics):
        raise click.UsageError(f"unexpected argument {more[0]!r}")
    # `--to-offset A B` and `--topics A B`: the values after the first belong to it
    to_offset, topics = (to_offset + more, topics) if to_offset else (to_offset, topics + more)
    if not need_cluster(settings, "replay"):
        return EXIT_USAGE
    if to_offset:
        mode, targets, at = ReplayMode.OFFSET, tuple(parse_offset_targets(list(to_offset))), None
    elif to_datetime:
        at = parse_instant(to_datetime, now=datetime.now(UTC), option="--to-datetime")
        mode, targets = ReplayMode.DATETIME, ()
    else:
        mode, targets, at = ReplayMode.EARLIEST, (), None
    request = ReplayRequest(
        group=group,
        mode=mode,
        topics=() if targets else tuple(topics or worker_input_topics()),
        at=at,
        targets=targets,
        dry_run=dry_run,
        allow_forward=allow_forward,
    )
    window = heartbeat_window
    if window is None:
        window = 3 * settings.heartbeat_interval_seconds
    return run_replay(
        settings,
        request,
        audit_operator(operator),
        sys.stdout,
        heartbeat_topic=HEARTBEAT_TOPIC,
        heartbeat_window_seconds=window,
    )
