"""``ledgerstream dry-run``: post events from JSON lines offline and print the commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_FAILED, pass_settings
from streams.settings import Settings


@click.command(
    "dry-run",
    context_settings=CONTEXT_SETTINGS,
    epilog="A whole month, every event type: ledgerstream dry-run --reference "
    "examples/month/reference.jsonl examples/month/events.jsonl",
)
@click.argument(
    "events", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--reference",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    required=True,
    help="JSON lines of reference records (ref.entities, pm.customers, pm.projects, "
    "pm.employees, ref.fx-rates)",
)
@click.option(
    "--rule-version",
    help="rule version stamped on commands  [default: LEDGERSTREAM_RULE_VERSION]",
)
@click.option(
    "--schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="schema directory  [default: LEDGERSTREAM_SCHEMAS_DIR, schemas/]",
)
@click.option("--feedback", is_flag=True, help="also print the sync feedback as JSON lines")
@click.option(
    "--period",
    metavar="YYYY-MM",
    help="trial balance of the commands of this accounting period only  [default: all]",
)
@click.option("--balance-only", is_flag=True, help="print only the trial balance, not the commands")
@click.option(
    "--summary-entity",
    multiple=True,
    metavar="E",
    help="sync this entity at cadence SUMMARY: its commands are replaced by one summary per "
    "project, currency and day (repeat for several; docs/period-close.md, Sync cadence)",
)
@click.option(
    "--format",
    "balance_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    help="trial balance as a table, CSV, or JSON lines",
)
@pass_settings
def command(
    settings: Settings,
    *,
    events: Path,
    reference: Path,
    rule_version: str | None,
    schemas: Path | None,
    feedback: bool,
    period: str | None,
    balance_only: bool,
    summary_entity: tuple[str, ...],
    balance_format: str,
) -> int:
    """Post events offline (no Kafka) and print the commands.

    EVENTS are posted with the worker's rules; every command is printed as a JSON
    line, then the trial balance.

    \b
    A line of EVENTS is
      {"topic": T, "value": {...}}             the value in the JSON form of T's newest schema
      {"topic": T, "key": K, "value": null}    a deletion

    A line may add "schema_version": N (e.g. 1 for a pm.time-entries v1 record with
    duration_minutes): its value is read with that version's schema and translated to
    the current model exactly as a worker decodes it. A bad line (a wrong version
    included) is reported on stderr with its line number and field; exit status 1.
    """  # noqa: D301 - \b keeps the examples unwrapped in --help
    from streams.adapters.avro import SchemaCatalog  # noqa: PLC0415
    from streams.domain.trial_balance import (  # noqa: PLC0415
        format_trial_balance,
        trial_balance,
        trial_balance_csv,
        trial_balance_json,
    )
    from streams.dryrun import dry_run  # noqa: PLC0415

    catalog = SchemaCatalog.from_directory(schemas or settings.schemas_dir)
    run = dry_run(
        reference,
        events,
        catalog=catalog,
        rule_version=rule_version or settings.rule_version,
        account_map=settings.account_map,
    )
    if summary_entity:
        from streams.domain.summary import summarised  # noqa: PLC0415

        run.commands = summarised(
            run.commands, summary_entity, rule_version or settings.rule_version
        )
    if period is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise click.BadParameter(f"expected YYYY-MM, got {period!r}", param_hint="--period")
    if not balance_only:
        for posted in run.commands:
            click.echo(posted.model_dump_json())
        if feedback:
            for record in run.feedback:
                click.echo(record.model_dump_json())
        click.echo()
    rows = trial_balance(run.commands, period=period)
    if balance_format == "csv":
        click.echo(trial_balance_csv(rows), nl=False)
    elif balance_format == "json":
        click.echo(trial_balance_json(rows), nl=False)
    else:
        title = "trial balance" + (f" of {period}" if period else "")
        click.echo("\n".join(format_trial_balance(rows, title=title)))
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in run.errors:
        click.echo(str(error), err=True)
    click.echo(
        f"dry-run: {len(run.commands)} command(s), {run.ledger.skipped} skipped, "
        f"{len(run.errors)} line(s) not posted",
        err=True,
    )
    return EXIT_FAILED if run.errors else 0
