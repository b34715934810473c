"""``ledgerstream topics create|list``: the declared topics (deploy/topics.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_USAGE, pass_settings
from streams.settings import Settings


@click.group("topics", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """Create or list the declared topics.

    The topics are declared in deploy/topics.yaml (LEDGERSTREAM_TOPICS_FILE).
    """


def _file_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="topics file  [default: LEDGERSTREAM_TOPICS_FILE, deploy/topics.yaml]",
    )(command)


@command.command("list", context_settings=CONTEXT_SETTINGS)
@_file_option
@pass_settings
def list_topics(settings: Settings, file: Path | None) -> int:
    """Show each declared topic: name with prefix, partitions, replication, key, configs.

    Reads only the topics file, so it needs no broker.
    """
    from streams.adapters.topics import load_topic_specs  # noqa: PLC0415

    for spec in load_topic_specs(file or settings.topics_file):
        configs = ",".join(f"{k}={v}" for k, v in sorted(spec.configs.items()))
        click.echo(
            f"{settings.topic(spec.name):40} partitions={spec.partitions:<3} "
            f"rf={spec.replication_factor} key={spec.key!r} {configs}"
        )
    return 0


@command.command("create", context_settings=CONTEXT_SETTINGS)
@_file_option
@pass_settings
def create(settings: Settings, file: Path | None) -> int:
    """Create every declared topic on KAFKA_BOOTSTRAP_SERVERS (idempotent).

    A topic that exists with other partitions or configs is reported, not changed.
    The worker and the demo create the topics on their embedded broker themselves.
    """
    from streams.adapters.topics import ensure_topics, load_topic_specs  # noqa: PLC0415

    specs = load_topic_specs(file or settings.topics_file)
    if settings.embedded:
        click.echo(
            "KAFKA_BOOTSTRAP_SERVERS is not set: nothing to create topics on "
            "(the worker and demo create them on their embedded broker)",
            err=True,
        )
        return EXIT_USAGE
    outcomes = ensure_topics(
        settings.kafka_client_config(),
        specs,
        prefix=settings.topic_prefix,
        single_node=settings.embedded_profile,
    )
    for name, outcome in sorted(outcomes.items()):
        click.echo(f"{outcome:8} {name}")
    return 0
