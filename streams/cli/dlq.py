"""``ledgerstream dlq list|show|redrive``: triage dead letters and re-drive them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    audit_operator,
    codec,
    need_cluster,
    operator_option,
    pass_settings,
    reading_options,
)
from streams.settings import Settings


@click.group("dlq", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """List, show or re-drive dead letters.

    Triage the dead-letter topic (ledgerstream.dlq) and re-drive fixed records;
    see docs/runbooks/dlq-redrive.md.
    """


def _selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--code",
                multiple=True,
                metavar="CODE",
                help="error code, e.g. MISSING_REFERENCE (repeat for several)",
            ),
            click.option(
                "--source-topic",
                multiple=True,
                metavar="TOPIC",
                help="logical source topic, e.g. pm.time-entries (repeat for several)",
            ),
            click.option(
                "--key", multiple=True, metavar="K", help="source record key (repeat for several)"
            ),
            click.option(
                "--since",
                metavar="T",
                help="last failure at or after T: ISO 8601 with a zone (2026-11-10T14:00Z) "
                "or an age (2h)",
            ),
            click.option(
                "--until", metavar="T", help="first failure at or before T (same forms as --since)"
            ),
        ]
    ):
        command = option(command)
    return command


def _query(
    settings: Settings,
    *,
    code: tuple[str, ...],
    source_topic: tuple[str, ...],
    key: tuple[str, ...],
    since: str | None,
    until: str | None,
    idle: float,
    max_seconds: float,
) -> Any:
    from streams.ops import dlq  # noqa: PLC0415

    selection = dlq.build_filter(
        settings,
        codes=list(code),
        source_topics=list(source_topic),
        keys=list(key),
        since=since,
        until=until,
        now=datetime.now(UTC),
    )
    return dlq.DlqQuery(selection, idle_seconds=idle, max_seconds=max_seconds)


@command.command("list", context_settings=CONTEXT_SETTINGS)
@_selection_options
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="show only the last N (0: all)",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of text")
@reading_options()
@pass_settings
def list_dead_letters(
    settings: Settings,
    *,
    code: tuple[str, ...],
    source_topic: tuple[str, ...],
    key: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    idle: float,
    max_seconds: float,
) -> int:
    """One line per selected dead letter, then a count by error code."""
    from streams.ops import dlq  # noqa: PLC0415

    if not need_cluster(settings, "dlq list"):
        return EXIT_USAGE
    query = _query(
        settings,
        code=code,
        source_topic=source_topic,
        key=key,
        since=since,
        until=until,
        idle=idle,
        max_seconds=max_seconds,
    )
    return dlq.run_list(settings, codec(settings), query, sys.stdout, as_json=as_json, limit=limit)


@command.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("position", required=False)
@click.option("--key", metavar="K", help="show every dead letter of this source key instead")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per dead letter")
@reading_options()
@pass_settings
def show(
    settings: Settings,
    *,
    position: str | None,
    key: str | None,
    as_json: bool,
    idle: float,
    max_seconds: float,
) -> int:
    """One dead letter in full: envelope, decoded value, headers, stack trace.

    POSITION is PARTITION:OFFSET as `dlq list` prints it, or a bare OFFSET; give
    either POSITION or --key.
    """
    from streams.ops import dlq  # noqa: PLC0415
    from streams.ops.selection import parse_dlq_position  # noqa: PLC0415

    if not need_cluster(settings, "dlq show"):
        return EXIT_USAGE
    if (position is None) == (key is None):
        click.echo("dlq show: give a POSITION or --key K (one of them)", err=True)
        return EXIT_USAGE
    return dlq.run_show(
        settings,
        codec(settings),
        sys.stdout,
        position=None if position is None else parse_dlq_position(position),
        key=key,
        as_json=as_json,
        idle_seconds=idle,
        max_seconds=max_seconds,
    )


@command.command("redrive", context_settings=CONTEXT_SETTINGS)
@_selection_options
@click.option(
    "--all", "redrive_all", is_flag=True, help="re-drive every dead letter (no selection given)"
)
@click.option("--dry-run", is_flag=True, help="show what would be re-driven, publish nothing")
@operator_option()
@reading_options()
@pass_settings
def redrive(
    settings: Settings,
    *,
    code: tuple[str, ...],
    source_topic: tuple[str, ...],
    key: tuple[str, ...],
    since: str | None,
    until: str | None,
    redrive_all: bool,
    dry_run: bool,
    operator: str | None,
    idle: float,
    max_seconds: float,
) -> int:
    """Re-publish the selected dead letters' original records to their source topic.

    The original key, value and headers of each selected dead letter go back to its
    source topic and partition, marked with ledgerstream-redrive-count and
    ledgerstream-redriven-from; dead letters already re-driven are skipped
    (docs/runbooks/dlq-redrive.md). Audited.
    """
    from streams.ops import redrive as redriving  # noqa: PLC0415

    if not need_cluster(settings, "dlq redrive"):
        return EXIT_USAGE
    query = _query(
        settings,
        code=code,
        source_topic=source_topic,
        key=key,
        since=since,
        until=until,
        idle=idle,
        max_seconds=max_seconds,
    )
    if query.filter.selects_all and not redrive_all:
        click.echo(
            "dlq redrive: select dead letters (--code, --source-topic, --key, --since, "
            "--until) or pass --all",
            err=True,
        )
        return EXIT_USAGE
    arguments = {
        "code": list(code),
        "source_topic": list(source_topic),
        "key": list(key),
        "since": since,
        "until": until,
        "all": redrive_all,
    }
    return redriving.run_redrive(
        settings,
        codec(settings),
        query,
        operator=audit_operator(operator),
        out=sys.stdout,
        err=sys.stderr,
        arguments=arguments,
        dry_run=dry_run,
    )
