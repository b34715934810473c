"""``ledgerstream fx fetch``: FX reference rates from the ECB onto ref.fx-rates."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    codec,
    need_cluster,
    pass_cluster_settings,
)
from streams.settings import Settings


@click.group("fx", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """FX rates from a real source (docs/period-close.md, FX feed)."""


@command.command("fetch", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--source",
    type=click.Choice(["ecb"], case_sensitive=False),
    default="ecb",
    show_default=True,
    help="the rate source: the European Central Bank's euro reference rates",
)
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="the publication of this date, from LEDGERSTREAM_FX_ECB_HISTORY_URL (last 90 days)  "
    "[default: the newest, from LEDGERSTREAM_FX_ECB_DAILY_URL]",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="fetch and print the rates, publish nothing (no broker needed)",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write the connector's metrics (Prometheus text format, for a "
    "textfile collector)  [default: LEDGERSTREAM_DATA_DIR/fx-metrics.prom]",
)
@pass_cluster_settings
def fetch(
    settings: Settings,
    *,
    source: str,
    on: datetime | None,
    dry_run: bool,
    metrics_file: Path | None,
) -> int:
    """Fetch one day of ECB reference rates and publish them to ref.fx-rates.

    Each rate is EUR -> currency, SPOT, keyed EUR/<CCY>/<date>/SPOT, with its
    provenance (source ECB, published_on, quoted_at, fetched_at, source_url). The
    connector times out (LEDGERSTREAM_FX_TIMEOUT_SECONDS), retries timeouts, 429
    and 5xx with exponential backoff and jitter (at least the Retry-After), and
    opens a circuit breaker after LEDGERSTREAM_FX_BREAKER_FAILURES failed attempts
    in a row, shared by every run (LEDGERSTREAM_DATA_DIR/fx-ecb-breaker.json).
    Exit 1 when the source fails or its answer is malformed.
    """
    from streams.ops import fx  # noqa: PLC0415

    if not dry_run and not need_cluster(settings, "fx fetch"):
        return EXIT_USAGE
    day: date | None = on.date() if on is not None else None
    return fx.run_fetch(
        settings,
        None if dry_run else codec(settings),
        source=source,
        on=day,
        dry_run=dry_run,
        metrics_file=metrics_file or settings.data_dir / "fx-metrics.prom",
        out=sys.stdout,
    )
