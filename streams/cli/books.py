"""``ledgerstream books``: the reference accounting sink and its reports (docs/books.md)."""

from __future__ import annotations

import re
import signal
import socket
import sys
from datetime import date
from typing import Any

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    audit_operator,
    need_cluster,
    operator_option,
    pass_cluster_settings,
    pass_settings,
)
from streams.settings import Settings

_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
FORMATS = ("table", "csv", "json")


def _period(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _PERIOD.fullmatch(value):
        raise click.BadParameter(f"expected YYYY-MM, got {value!r}")
    return value


def _engine(settings: Settings) -> Any:
    from streams.books.tables import database_url, open_books  # noqa: PLC0415

    url = None if settings.books_url is None else settings.books_url.get_secret_value()
    return open_books(database_url(url, settings.data_dir))


_entity_option = click.option("--entity", required=True, metavar="E", help="legal entity id")
_period_option = click.option(
    "--period", required=True, metavar="YYYY-MM", callback=_period, help="accounting period"
)
_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    help="an aligned table, CSV with a header, or JSON lines",
)


@click.group("books", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """Book acct.ledger-commands into a SQL ledger, answer on acct.ledger-acks, report.

    The ledger is the SQLite file LEDGERSTREAM_DATA_DIR/books.sqlite, or the database
    of LEDGERSTREAM_BOOKS_URL (postgresql://user:password@host/db). `books run` books;
    the reports read the same database (docs/books.md).
    """


@command.command("run", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="commands per database transaction  [default: LEDGERSTREAM_BATCH_SIZE, 500]",
)
@click.option(
    "--until-idle",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="S",
    help="stop once no command came for S seconds  [default: run until Ctrl-C or SIGTERM]",
)
@pass_cluster_settings
def run(settings: Settings, *, batch_size: int | None, until_idle: float | None) -> int:
    """Book every command of acct.ledger-commands; answer each on acct.ledger-acks.

    Reads as the consumer group <LEDGERSTREAM_APP_ID>-books. Each batch is booked in
    one database transaction; its acks are delivered, then its offsets committed, so
    a crash loses nothing and books nothing twice (a command read again is answered
    EXISTS). Answers: BOOKED, EXISTS, REJECTED (unbalanced, unknown account, closed
    period, a reversal of something never booked ...) with the reason, and
    REJECTED_EXISTS_WITH_DIFFERENT_BODY. An unreadable record goes to ledgerstream.dlq.
    """
    from streams.adapters.avro import AvroCodec  # noqa: PLC0415
    from streams.app import schema_source  # noqa: PLC0415
    from streams.books.sink import (  # noqa: PLC0415
        ACKS_TOPIC,
        COMMANDS_TOPIC,
        DLQ_TOPIC,
        SinkTopics,
        run_books,
    )

    if not need_cluster(settings, "books run"):
        return EXIT_USAGE
    engine = _engine(settings)
    stop = {"now": False}

    def on_signal(_signum: int, _frame: object) -> None:
        stop["now"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"books: booking into {engine.url.render_as_string()}", err=True)
    try:
        stats = run_books(
            engine,
            AvroCodec(schema_source(settings)),
            settings.kafka_client_config(),
            SinkTopics(
                commands=settings.topic(COMMANDS_TOPIC),
                acks=settings.topic(ACKS_TOPIC),
                dlq=settings.topic(DLQ_TOPIC),
            ),
            group=f"{settings.app_id}-books",
            embedded=settings.embedded_profile,
            processor=f"{settings.app_id}-books@{socket.gethostname()}",
            batch_size=batch_size or settings.batch_size,
            idle_exit_seconds=until_idle,
            stopping=lambda: stop["now"],
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.dispose()
    click.echo(stats.summary(), err=True)
    return 0


@command.command("close-period", context_settings=CONTEXT_SETTINGS)
@_entity_option
@_period_option
@operator_option("who closes the period (kept with it)")
@pass_settings
def close_period(settings: Settings, *, entity: str, period: str, operator: str | None) -> int:
    """Close an entity's period: commands dated in it are answered REJECTED (CLOSED_PERIOD)."""
    from streams.books.periods import close_period as close  # noqa: PLC0415

    done = close(_engine(settings), entity, period, operator=audit_operator(operator).name)
    click.echo(f"{entity} {period}: {'closed' if done else 'was closed already'}")
    return 0


@command.command("reopen-period", context_settings=CONTEXT_SETTINGS)
@_entity_option
@_period_option
@pass_settings
def reopen_period(settings: Settings, *, entity: str, period: str) -> int:
    """Reopen a closed period: a command sent again books (a rejection is not remembered)."""
    from streams.books.periods import reopen_period as reopen  # noqa: PLC0415

    done = reopen(_engine(settings), entity, period)
    click.echo(f"{entity} {period}: {'reopened' if done else 'was not closed'}")
    return 0


@command.command("open-account", context_settings=CONTEXT_SETTINGS)
@click.option("--code", required=True, metavar="C", help="the account code commands post to")
@click.option("--name", required=True, metavar="N", help="the account's name")
@click.option(
    "--entity",
    metavar="E",
    default="*",
    help="the legal entity whose chart gets it  [default: every entity]",
)
@pass_settings
def open_account(settings: Settings, *, code: str, name: str, entity: str) -> int:
    """Add an account to the books' chart (an entity's own code, from its overrides).

    The default chart (docs/design.md, section 4) is there from the start; a command
    posting to a code the chart lacks for its entity is answered REJECTED
    (UNKNOWN_ACCOUNT).
    """
    from streams.books.chart import open_account as add  # noqa: PLC0415

    done = add(_engine(settings), code, name, entity_id=entity)
    click.echo(f"{entity} {code} {name}: {'opened' if done else 'was open already'}")
    return 0


@command.command("trial-balance", context_settings=CONTEXT_SETTINGS)
@_entity_option
@_period_option
@_format_option
@pass_settings
def trial_balance(settings: Settings, *, entity: str, period: str, fmt: str) -> int:
    """Per account: name, debit, credit and net, in transaction and base currency."""
    from streams.books.reports import render_trial_balance  # noqa: PLC0415
    from streams.books.reports import trial_balance as balance  # noqa: PLC0415

    rows = balance(_engine(settings), entity, period)
    title = f"trial balance of {entity} for {period} (booked)"
    sys.stdout.write(render_trial_balance(rows, fmt, title=title))  # type: ignore[arg-type]
    return 0


@command.command("project-profitability", context_settings=CONTEXT_SETTINGS)
@_period_option
@_format_option
@pass_settings
def project_profitability(settings: Settings, *, period: str, fmt: str) -> int:
    """Per entity and project: revenue, direct cost, allocated cost, margin (base currency).

    Revenue: accounts 4xxx (credit - debit); direct cost: 5xxx and 6xxx (debit -
    credit); allocated cost: the same accounts booked by commands whose source type is
    "allocation". Projects come from the lines' project_id dimension.
    """
    from streams.books.reports import (  # noqa: PLC0415
        project_profitability as profitability,
    )
    from streams.books.reports import render_profitability  # noqa: PLC0415

    rows = profitability(_engine(settings), period)
    sys.stdout.write(render_profitability(rows, fmt))  # type: ignore[arg-type]
    return 0


@command.command("ar-aging", context_settings=CONTEXT_SETTINGS)
@_entity_option
@click.option(
    "--as-of",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="age receivables at this date (lines dated after it are left out)",
)
@click.option(
    "--terms-days",
    type=click.IntRange(min=0),
    default=30,
    metavar="N",
    help="payment terms: an invoice is due N days after its receivable line's date",
)
@click.option(
    "--dso-days",
    type=click.IntRange(min=1),
    default=90,
    metavar="N",
    help="DSO window: credit sales of the N days ending at --as-of",
)
@_format_option
@pass_settings
def ar_aging(
    settings: Settings, *, entity: str, as_of: Any, terms_days: int, dso_days: int, fmt: str
) -> int:
    """Open receivables per customer by days past due (current, 0-30, 31-60, 61-90, 90+) and DSO.

    Amounts in the entity's base currency. DSO = receivables open at --as-of / net
    credit sales of the last --dso-days days x --dso-days (docs/books.md).
    """
    from streams.books.reports import ar_aging as aging  # noqa: PLC0415
    from streams.books.reports import render_aging  # noqa: PLC0415

    day: date = as_of.date()
    report = aging(_engine(settings), entity, day, terms_days=terms_days, dso_days=dso_days)
    sys.stdout.write(render_aging(report, fmt))  # type: ignore[arg-type]
    return 0
