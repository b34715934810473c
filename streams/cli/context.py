"""What every ``ledgerstream`` command shares: exit codes, settings, options, clients.

A command module imports from here, never from another command module, so that
each command group stays one small, self-contained file.
"""

from __future__ import annotations

import functools
import getpass
import logging
import re
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


#: The ``--log-level`` given, if any (the worker's default is LEDGERSTREAM_LOG_LEVEL).
LOG_LEVEL_KEY = "ledgerstream.log_level"
#: Where ``main`` finds the settings a command ran with (to name the broker it missed).
SETTINGS_KEY = "ledgerstream.settings"
#: Set when the broker address came from a worker's announcement file.
ANNOUNCED_KEY = "ledgerstream.announced"


def pass_settings(command: Callable[Concatenate[Settings, P], R]) -> Callable[P, R]:
    """Call ``command`` with the settings read from the environment as first argument.

    Read when the command runs, not when the command line is parsed, so ``--help``
    works whatever the environment holds.
    """

    @functools.wraps(command)
    def with_settings(*args: P.args, **kwargs: P.kwargs) -> R:
        settings = load_settings()
        click.get_current_context().meta[SETTINGS_KEY] = settings
        return command(settings, *args, **kwargs)

    return with_settings


def pass_cluster_settings(command: Callable[Concatenate[Settings, P], R]) -> Callable[P, R]:
    """Like :func:`pass_settings`, and find a local worker's embedded broker.

    With ``KAFKA_BOOTSTRAP_SERVERS`` unset, a worker running the embedded broker from
    this directory announced its address in ``LEDGERSTREAM_DATA_DIR/broker.json``:
    the command talks to that broker (and says so on stderr).
    """

    @functools.wraps(command)
    def with_settings(*args: P.args, **kwargs: P.kwargs) -> R:
        from streams.adapters.local_broker import find_local_broker  # noqa: PLC0415

        settings = load_settings()
        meta = click.get_current_context().meta
        if settings.embedded and (found := find_local_broker(settings.data_dir)) is not None:
            settings = settings.model_copy(
                update={"kafka_bootstrap_servers": found.bootstrap_servers, "profile": "embedded"}
            )
            meta[ANNOUNCED_KEY] = found.path
            click.echo(
                f"using the embedded broker at {found.bootstrap_servers} "
                f"(worker {found.pid}, {found.path})",
                err=True,
            )
        meta[SETTINGS_KEY] = settings
        return command(settings, *args, **kwargs)

    return with_settings


def unreachable_message(meta: dict[str, Any], error: Exception) -> str:
    """One line: which broker did not answer, and what to check."""
    settings = meta.get(SETTINGS_KEY)
    address = getattr(settings, "kafka_bootstrap_servers", None) or "?"
    reason = str(error).split(": ", 1)[-1]
    announced = meta.get(ANNOUNCED_KEY)
    if announced is not None:
        check = f"is the worker that wrote {announced} still running?"
    else:
        check = (
            "check that the broker runs and that KAFKA_BOOTSTRAP_SERVERS (and "
            "LEDGERSTREAM_KAFKA_SECURITY_PROTOCOL) name it"
        )
    return f"no Kafka broker answers at {address} ({reason}): {check}"


_ELAPSED = re.compile(r"after \d+ms")


class OncePerMessage(logging.Filter):
    """Let each distinct log message through once.

    librdkafka logs every failed reconnect (``Connect to ... failed``) ten times a
    second; a command shows the first, then says in one line what went wrong.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass a record whose logger and message were not seen before."""
        key = (record.name, _ELAPSED.sub("after ms", record.getMessage()))
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


class CoveredByTheSummary(logging.Filter):
    """Drop librdkafka's "connection refused" lines: the command's one-line error says it.

    Installed only at the default log level; ``--log-level`` shows them again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass every record but a refused connection."""
        return "Connection refused" not in record.getMessage()


def need_cluster(settings: Settings, command: str) -> bool:
    """Say so and return False when no broker is configured or announced for a command."""
    if settings.embedded:
        click.echo(
            f"{command}: KAFKA_BOOTSTRAP_SERVERS is not set and no worker in this directory "
            f"runs the embedded broker ({settings.data_dir / 'broker.json'} not found): start "
            "`ledgerstream worker` here, or set KAFKA_BOOTSTRAP_SERVERS",
            err=True,
        )
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
