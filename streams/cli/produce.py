"""``ledgerstream produce``: validate events from JSON-lines files and publish them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_FAILED,
    EXIT_USAGE,
    need_cluster,
    pass_cluster_settings,
    registry_client,
)
from streams.settings import Settings


@click.command(
    "produce",
    context_settings=CONTEXT_SETTINGS,
    epilog="A month, reference data first, checked then published: ledgerstream produce "
    "--dry-run examples/month/reference.jsonl examples/month/events.jsonl, then the "
    "same without --dry-run.",
)
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option(
    "--topic",
    metavar="TOPIC",
    help="logical topic of bare event lines, e.g. pm.time-entries; lines that name their "
    "topic must name this one  [default: each line names its topic]",
)
@click.option("--dry-run", is_flag=True, help="validate every line, publish nothing")
@click.option(
    "--progress",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    help="progress bar on stderr (auto: on a terminal, for files over 1 MB)",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="stop after N rejected lines in a file (0: never)",
)
@pass_cluster_settings
def command(
    settings: Settings,
    *,
    files: tuple[Path, ...],
    topic: str | None,
    dry_run: bool,
    progress: str,
    max_errors: int,
) -> int:
    r"""Validate events from JSON-lines files and publish them, file after file.

    \b
    A line is one of
      {"topic": T, "value": {...}}                 as dry-run and examples/ write it
      {"topic": T, "schema_version": N, "value": {...}}   in an older schema version
      {"topic": T, "key": K, "value": null}        a deletion (tombstone)
      {...}                                        a bare value of --topic

    Values are in the JSON form of the topic's schema (the newest, unless the line
    names a version), so the files a dry run posted, reference data included, are
    published as they are. Each value is checked against its schema and model; a
    rejected line is reported on stderr as FILE:LINE:COLUMN: field: reason [CODE] and
    the exit status is 1. Records are published Avro-encoded with the registry's
    schema id (SCHEMA_REGISTRY_URL) or the embedded catalog's.
    """
    from streams.adapters.avro import RegistrySchemaSource, SchemaCatalog  # noqa: PLC0415
    from streams.producer import EventBuilder, EventProducer, Progress, produce_file  # noqa: PLC0415

    if not dry_run and not need_cluster(settings, "produce (or use --dry-run)"):
        return EXIT_USAGE
    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    producer = None
    if not dry_run:
        url = settings.schema_registry_url
        source = RegistrySchemaSource(registry_client(settings, url), catalog) if url else None
        producer = EventProducer(
            settings.kafka_client_config(),
            source=source,
            catalog=catalog,
            topic_prefix=settings.topic_prefix,
        )
    failed = False
    for file in files:
        size = file.stat().st_size
        show = progress == "always" or (
            progress == "auto" and sys.stderr.isatty() and size > 1_000_000
        )
        summary = produce_file(
            file,
            topic,
            producer,
            builder=EventBuilder(catalog),
            on_error=lambda error: click.echo(str(error), err=True),
            progress=Progress(size) if show else None,
            max_errors=max_errors,
        )
        if not summary.lines:
            click.echo(f"warning: {file}: no records (the file is empty)", err=True)
        click.echo(f"{file}: {summary}", err=True)
        failed = failed or bool(summary.errors)
    return EXIT_FAILED if failed else 0
