"""``ledgerstream allocate``: move a legal entity's shared cost pool to its projects by a driver."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    audit_operator,
    codec,
    need_cluster,
    operator_option,
    pass_cluster_settings,
)
from streams.settings import Settings


@click.command("allocate", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--entity", required=True, metavar="E", help="the legal entity whose pool to allocate"
)
@click.option("--period", required=True, metavar="YYYY-MM", help="the accounting period")
@click.option(
    "--dry-run",
    is_flag=True,
    help="print the result and what would be sent; publish nothing (still audited)",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the period-close YAML  [default: LEDGERSTREAM_CLOSE_CONFIG, deploy/period-close.yaml]",
)
@operator_option()
@pass_cluster_settings
def command(
    settings: Settings,
    *,
    entity: str,
    period: str,
    dry_run: bool,
    config: Path | None,
    operator: str | None,
) -> int:
    """Allocate an entity's shared costs of a period to projects (audited).

    \b
    For each allocation rule of the entity (docs/period-close.md, Allocation): the
    pool (6100 by default) is split over the target projects by the driver (HOURS,
    HEADCOUNT or USAGE of an expense category) with largest-remainder rounding, one
    command per project: Dr 5200 Allocated overhead / Cr 6100, on the period's last
    day, with the pool's source ids in related_source_ids. Prints each project's
    direct and allocated cost. A re-run reverses only the shares that changed and
    posts their new values; with the same inputs it sends nothing.
    """  # noqa: D301 - \b keeps the paragraph as written in --help
    from streams.ops import close  # noqa: PLC0415

    if not need_cluster(settings, "allocate"):
        return EXIT_USAGE
    rules = close.load_config(config or settings.close_config)
    return close.run_close(
        settings,
        codec(settings),
        action="allocate",
        arguments={"entity": entity, "period": period},
        planner=lambda ledger: close.plan_allocation(
            rules, ledger, entity, period, rule_version=settings.rule_version
        ),
        dry_run=dry_run,
        operator=audit_operator(operator),
        out=sys.stdout,
    )
