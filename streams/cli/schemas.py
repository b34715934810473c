"""``ledgerstream schemas check|lock|docs|register``: the schemas as contracts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_USAGE, pass_settings, registry_client
from streams.settings import PROJECT_ROOT, Settings

DEFAULT_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "avro"


@click.group("schemas", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """Check, lock, document or register the schemas.

    The Avro schemas are schemas/<topic>/vN.avsc. A new schema version: add the file
    and its fixtures, run `schemas check`, then `schemas lock` and `schemas docs`
    (README "Schemas and producers").
    """


def _tree_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--fixtures",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="fixture records of every version  [default: tests/fixtures/avro/]",
    )(command)
    return click.option(
        "--schemas",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="schema directory  [default: LEDGERSTREAM_SCHEMAS_DIR, schemas/]",
    )(command)


def _paths(settings: Settings, schemas: Path | None, fixtures: Path | None) -> Any:
    from streams.adapters.contracts.gate import ContractPaths  # noqa: PLC0415

    return ContractPaths(schemas or settings.schemas_dir, fixtures or DEFAULT_FIXTURES)


@command.command("check", context_settings=CONTEXT_SETTINGS)
@_tree_options
@pass_settings
def check(settings: Settings, schemas: Path | None, fixtures: Path | None) -> int:
    """Run the compatibility gate: every version's fixtures decode with the newest reader.

    Also refuses an edit to a version recorded in schemas/published.lock.
    """
    from streams.adapters.contracts import commands  # noqa: PLC0415

    return commands.run_check(_paths(settings, schemas, fixtures), sys.stdout)


@command.command("lock", context_settings=CONTEXT_SETTINGS)
@_tree_options
@pass_settings
def lock(settings: Settings, schemas: Path | None, fixtures: Path | None) -> int:
    """Record new schema versions as published in schemas/published.lock (after the gate)."""
    from streams.adapters.contracts import commands  # noqa: PLC0415

    return commands.run_lock(_paths(settings, schemas, fixtures), sys.stdout)


@command.command("docs", context_settings=CONTEXT_SETTINGS)
@_tree_options
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=PROJECT_ROOT / "docs" / "events.md",
    show_default="docs/events.md",
    help="file to write",
)
@click.option(
    "--check", "check_only", is_flag=True, help="fail if the file is stale, write nothing"
)
@pass_settings
def docs(
    settings: Settings,
    schemas: Path | None,
    fixtures: Path | None,
    output: Path,
    check_only: bool,
) -> int:
    """Write the event reference (docs/events.md) from the schemas and topics file."""
    from streams.adapters.contracts import commands  # noqa: PLC0415

    return commands.run_docs(
        _paths(settings, schemas, fixtures),
        settings.topics_file,
        output,
        sys.stdout,
        check=check_only,
    )


@command.command("register", context_settings=CONTEXT_SETTINGS)
@_tree_options
@click.option(
    "--registry", metavar="URL", help="registry to publish to  [default: SCHEMA_REGISTRY_URL]"
)
@pass_settings
def register(
    settings: Settings, schemas: Path | None, fixtures: Path | None, registry: str | None
) -> int:
    """Set each subject's compatibility mode and register every version (idempotent).

    The registry is Confluent-compatible; its credentials come from
    SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO.
    """
    from streams.adapters.contracts import commands  # noqa: PLC0415

    url = registry or settings.schema_registry_url
    if not url:
        click.echo("schemas register: give --registry URL or set SCHEMA_REGISTRY_URL", err=True)
        return EXIT_USAGE
    return commands.run_register(
        _paths(settings, schemas, fixtures), registry_client(settings, url), sys.stdout
    )
