"""``ledgerstream depreciate``: post a period's straight-line depreciation of an entity's assets."""

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


@click.command("depreciate", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--entity", required=True, metavar="E", help="the legal entity whose assets to depreciate"
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
    """Post the period's depreciation of every asset of an entity in service (audited).

    \b
    For each asset of the entity in the period-close YAML that was placed in
    service (`ledgerstream capitalise`; docs/period-close.md, Capex): from the month
    after its in-service month, cost / useful life (the last month takes the rest),
    Dr 6800 Depreciation expense / Cr 1590 Accumulated depreciation on the period's
    last day, source `depreciation` / the asset id, memo with its depreciation code.
    Running it again for the same period sends nothing.
    """  # noqa: D301 - \b keeps the paragraph as written in --help
    from streams.ops import close  # noqa: PLC0415

    if not need_cluster(settings, "depreciate"):
        return EXIT_USAGE
    rules = close.load_config(config or settings.close_config)
    return close.run_close(
        settings,
        codec(settings),
        action="depreciate",
        arguments={"entity": entity, "period": period},
        planner=lambda ledger: close.plan_depreciation(
            rules, ledger, entity, period, rule_version=settings.rule_version
        ),
        dry_run=dry_run,
        operator=audit_operator(operator),
        out=sys.stdout,
    )
