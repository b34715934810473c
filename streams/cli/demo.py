"""``ledgerstream demo``: the whole pipeline on sample data, watched live."""

from __future__ import annotations

import click

from streams.cli.context import CONTEXT_SETTINGS, EXIT_FAILED, pass_settings
from streams.settings import Settings


@click.command("demo", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--once", is_flag=True, help="stop after the sample set and print a JSON summary line"
)
@click.option(
    "--events",
    type=click.IntRange(min=0),
    default=5000,
    metavar="N",
    help="generated time entries in the sample set",
)
@click.option(
    "--month/--no-month",
    default=True,
    help="--no-month leaves the mixed month out: time entries only (e.g. for throughput runs)",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=200.0,
    metavar="N",
    help="time entries per second published after the sample set (live mode)",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    metavar="S",
    help="give up after S seconds",
)
@pass_settings
def command(
    settings: Settings, *, once: bool, events: int, month: bool, rate: float, timeout: float
) -> int:
    """Run the pipeline on sample data and watch it.

    Publish the sample organisation and its mixed month (every event type: time
    entries, expenses, invoices, credit memo, payments), then a stream of time
    entries, and watch a worker post them. The summary counts events per topic;
    topics the worker does not consume are listed in not_consumed.
    """
    from streams.demo.runner import run_demo, summary_json  # noqa: PLC0415

    summary = run_demo(
        settings,
        once=once,
        events=events,
        rate=rate,
        timeout=timeout,
        month=month,
    )
    click.echo(summary_json(summary))
    return 0 if summary.unbalanced == 0 else EXIT_FAILED
