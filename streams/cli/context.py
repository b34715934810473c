"""What every ``ledgerstream`` command shares: exit codes, settings, options, clients.

A command module imports from here, never from another command module, so that
each command group stays one small, self-contained file.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import click

from streams.settings import Settings, load_settings

EXIT_FAILED = 1
EXIT_USAGE = 2
#: An operator action refused for safety (a worker still runs, records would be skipped).
EXIT_REFUSED = 3

#: Every command and group: ``-h`` as ``--help``, defaults shown in the help.
CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "show_default": True,
    "max_content_width": 100,
}

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


def pass_settings(command: Callable[Concatenate[Settings, P], R]) -> Callable[P, R]:
    """Call ``command`` with the settings read from the environment as first argument.

    Read when the command runs, not when the command line is parsed, so ``--help``
    works whatever the environment holds.
    """

    @functools.wraps(command)
    def with_settings(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(load_settings(), *args, **kwargs)

    return with_settings


def fail(message: str) -> None:
    """Print one ``ledgerstream: ...`` line on stderr (the command then returns non-zero)."""
    click.echo(f"ledgerstream: {message}", err=True)


def need_cluster(settings: Settings, command: str) -> bool:
    """Say so and return False when no broker is configured for an operator command."""
    if settings.embedded:
        click.echo(f"{command}: KAFKA_BOOTSTRAP_SERVERS is not set", err=True)
        return False
    return True


def registry_client(settings: Settings, url: str) -> Any:
    """Return a Schema Registry client for ``url`` with the configured credentials."""
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415

    config = {"url": url}
    if settings.schema_registry_basic_auth is not None:
        config["basic.auth.user.info"] = settings.schema_registry_basic_auth.get_secret_value()
    return SchemaRegistryClient(config)


def codec(settings: Settings) -> Any:
    """Return the Avro codec of the configured registry, else of the embedded catalog."""
    from streams.adapters.avro import AvroCodec, RegistrySchemaSource, SchemaCatalog  # noqa: PLC0415

    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    url = settings.schema_registry_url
    return AvroCodec(
        RegistrySchemaSource(registry_client(settings, url), catalog) if url else catalog
    )


def audit_operator(name: str | None) -> Any:
    """Return the operator recorded in audit records: ``--operator`` or the OS user."""
    from streams.ops.action import Operator  # noqa: PLC0415

    return Operator(name or getpass.getuser())


def operator_option(help_text: str = "who runs this, for the audit record") -> Callable[[F], F]:
    """``--operator NAME`` (default: the OS user)."""
    return click.option(
        "--operator",
        metavar="NAME",
        help=f"{help_text} [default: the OS user]",
    )


def reading_options(*, max_seconds: float = 300.0) -> Callable[[F], F]:
    """``--idle S`` and ``--max-seconds S``: how long a command reads a topic."""

    def decorate(command: F) -> F:
        command = click.option(
            "--max-seconds",
            type=click.FloatRange(min=0, min_open=True),
            default=max_seconds,
            metavar="S",
            help="stop reading after S seconds",
        )(command)
        return click.option(
            "--idle",
            type=click.FloatRange(min=0, min_open=True),
            default=2.0,
            metavar="S",
            help="stop reading once no record came for S seconds",
        )(command)

    return decorate
