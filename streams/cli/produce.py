"""``ledgerstream produce``: validate events from a JSON-lines file and publish them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_FAILED,
    EXIT_USAGE,
    pass_settings,
    registry_client,
)
from streams.settings import Settings


@click.command("produce", context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--topic", required=True, help="logical topic, e.g. pm.time-entries")
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
    help="stop after N rejected lines (0: never)",
)
@pass_settings
def command(
    settings: Settings,
    *,
    file: Path,
    topic: str,
    dry_run: bool,
    progress: str,
    max_errors: int,
) -> int:
    """Validate events from a JSON-lines file and publish them.

    Each line of FILE is checked against the topic's schema: one event a line, in
    the JSON form of the topic's newest schema. A rejected line is reported on
    stderr with its line number and field, and the exit status is 1. Records are
    published Avro-encoded with the registry's schema id (SCHEMA_REGISTRY_URL) or
    the embedded catalog's.
    """
    from streams.adapters.avro import RegistrySchemaSource, SchemaCatalog  # noqa: PLC0415
    from streams.producer import EventBuilder, EventProducer, Progress, produce_file  # noqa: PLC0415

    if settings.embedded and not dry_run:
        click.echo("KAFKA_BOOTSTRAP_SERVERS is not set (or use --dry-run)", err=True)
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
    size = file.stat().st_size
    show = progress == "always" or (progress == "auto" and sys.stderr.isatty() and size > 1_000_000)
    summary = produce_file(
        file,
        topic,
        producer,
        builder=EventBuilder(catalog),
        on_error=lambda error: click.echo(f"{file}:{error}", err=True),
        progress=Progress(size) if show else None,
        max_errors=max_errors,
    )
    click.echo(summary, err=True)
    return EXIT_FAILED if summary.errors else 0
