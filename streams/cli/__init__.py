"""The ``ledgerstream`` command line, built on Click: one module per command group.

    ledgerstream worker                          run a stream-processing worker
    ledgerstream topics create|list              the declared topics
    ledgerstream schemas check|lock|docs|register   schemas as contracts
    ledgerstream consume TOPIC                   print a topic's records as JSON lines
    ledgerstream produce --topic T FILE.jsonl    validate and publish events from a file
    ledgerstream demo [--once]                   the whole pipeline on sample data, live
    ledgerstream dry-run --reference REF EVENTS  post offline, print commands
    ledgerstream dlq list|show|redrive           triage dead letters and re-drive them
    ledgerstream replay --group G --to-...       replay by consumer-group offset reset
    ledgerstream toggle set|list                 kill switch, pilot, dry-run
    ledgerstream parked                          records held back by stage 2, and why
    ledgerstream status                          has the group caught up? lag per partition
    ledgerstream books run|trial-balance|...     book commands into SQL, answer acks, reports
    ledgerstream allocate --entity E --period P  shared costs to projects by a driver
    ledgerstream consolidate --group G --period P   intercompany eliminations
    ledgerstream capitalise --asset A            an asset in service: AUC to fixed assets
    ledgerstream depreciate --entity E --period P   straight-line depreciation
    ledgerstream period close|reopen|list        lock an entity's accounting period
    ledgerstream fx fetch --source ecb           FX reference rates from the ECB

Adding a command:

1. Write ``streams/cli/<name>.py`` defining ``command``: a ``click.command`` (or a
   ``click.group`` with its subcommands) with ``context_settings=CONTEXT_SETTINGS``,
   a docstring (its ``--help``) and a ``help=`` on every option. Decorate it with
   ``pass_settings`` to receive the ``Settings``; return the exit code. Keep the
   logic in a plain, unit-tested function of ``streams/ops/`` (or ``adapters/``,
   ``producer/`` ...) and import it inside the command: the CLI only parses.
2. Add the module to ``COMMANDS`` below.
3. Add a line to the README commands table; ``tests/unit/shell/test_cli_help.py``
   checks that every command and option explains itself.

Shared pieces (exit codes, ``--idle``/``--max-seconds``, ``--operator``, the codec)
are in ``streams/cli/context.py``. Connection settings come from the environment
through ``streams/settings.py``: ``KAFKA_BOOTSTRAP_SERVERS`` (unset = the embedded
broker), ``SCHEMA_REGISTRY_URL`` (unset = the embedded schema catalog) and
``LEDGERSTREAM_*``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from streams.adapters.exceptions import (
    BrokerStartError,
    BrokerUnreachableError,
    KafkaAdminError,
    TopicMismatchError,
)
from streams.cli import (
    allocate,
    books,
    capitalise,
    consolidate,
    consume,
    demo,
    depreciate,
    dlq,
    dry_run,
    fx,
    parked,
    period,
    produce,
    replay,
    schemas,
    status,
    toggle,
    topics,
    worker,
)
from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_FAILED,
    EXIT_REFUSED,
    EXIT_USAGE,
    LOG_LEVEL_KEY,
    CoveredByTheSummary,
    OncePerMessage,
    unreachable_message,
)
from streams.cli.replay import worker_input_topics
from streams.domain.exceptions import LedgerstreamError
from streams.ops.exceptions import GroupActiveError, InvalidArgumentError, OffsetResetError

__all__ = ["COMMANDS", "cli", "main", "worker_input_topics"]

#: Every command, in the order ``ledgerstream --help`` lists them.
COMMANDS: tuple[click.Command, ...] = (
    worker.command,
    demo.command,
    topics.command,
    schemas.command,
    produce.command,
    consume.command,
    dry_run.command,
    dlq.command,
    replay.command,
    toggle.command,
    parked.command,
    status.command,
    books.command,
    period.command,
    fx.command,
    allocate.command,
    consolidate.command,
    capitalise.command,
    depreciate.command,
)

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group(
    "ledgerstream",
    context_settings=CONTEXT_SETTINGS,
    epilog="Settings: KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL and LEDGERSTREAM_* "
    "(README, Settings). `ledgerstream COMMAND --help` explains each command.",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="log level  [default: warning; for `worker`: LEDGERSTREAM_LOG_LEVEL, info]",
)
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """Turn project-management events into balanced ledger postings on Kafka."""
    ctx.meta[LOG_LEVEL_KEY] = log_level
    logging.basicConfig(
        level=(log_level or "warning").upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(OncePerMessage())
        if log_level is None:
            handler.addFilter(CoveredByTheSummary())


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ledgerstream`` console script: run a command, return its status.

    ``--help`` and a usage error end in ``SystemExit`` (status 0 and 2), as usual for
    a command line; a command's outcome is returned. A known failure is one line on
    stderr, never a traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    meta: dict[str, Any] = {}
    try:
        with cli.make_context("ledgerstream", args) as ctx:
            meta = ctx.meta
            return int(cli.invoke(ctx) or 0)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except (KeyboardInterrupt, click.Abort):
        return 130
    except BrokenPipeError:
        # the reader went away (`consume ... | head`): say nothing more on stdout
        with contextlib.suppress(OSError, ValueError):  # not a real file (a test's buffer)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        failure = _failure(exc, meta)
        if failure is None:
            raise
        status, message = failure
        click.echo(f"ledgerstream: {message}", err=True)
        return status


def _failure(exc: Exception, meta: dict[str, Any]) -> tuple[int, str] | None:
    """Return the exit status and one line for a failure a command may meet (None: a defect)."""
    if isinstance(exc, BrokerUnreachableError):
        return EXIT_FAILED, unreachable_message(meta, exc)
    if isinstance(exc, InvalidArgumentError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, GroupActiveError | OffsetResetError):
        return EXIT_REFUSED, f"refused: {exc}"
    if isinstance(exc, TopicMismatchError | KafkaAdminError | BrokerStartError | LedgerstreamError):
        return EXIT_FAILED, str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
