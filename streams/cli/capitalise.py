"""``ledgerstream capitalise``: place an asset in service, moving its AUC to fixed assets."""

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


@click.command("capitalise", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--asset",
    required=True,
    metavar="A",
    help="the asset (its entity, capex project, class and in-service date are in the YAML)",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="print what would be sent; publish nothing (still audited)",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the period-close YAML  [default: LEDGERSTREAM_CLOSE_CONFIG, deploy/period-close.yaml]",
)
@operator_option()
@pass_cluster_settings
def command(
    settings: Settings, *, asset: str, dry_run: bool, config: Path | None, operator: str | None
) -> int:
    """Place an asset in service: move its project's AUC balance to fixed assets (audited).

    \b
    The asset's INTERNAL_CAPEX project has collected time and expenses on 1300
    Capitalised development (assets under construction). This posts the project's
    1300 balance up to the in-service date: Dr the class's fixed-asset account
    (1500) / Cr 1300, source `capitalisation` / the asset id, tagged with the
    project and the depreciation code (docs/period-close.md, Capex). Costs booked
    later change the amount: a re-run then reverses the old move and posts the new.
    """  # noqa: D301 - \b keeps the paragraph as written in --help
    from streams.ops import close  # noqa: PLC0415

    if not need_cluster(settings, "capitalise"):
        return EXIT_USAGE
    rules = close.load_config(config or settings.close_config)
    return close.run_close(
        settings,
        codec(settings),
        action="capitalise",
        arguments={"asset": asset},
        planner=lambda ledger: close.plan_capitalisation(
            rules, ledger, asset, rule_version=settings.rule_version
        ),
        dry_run=dry_run,
        operator=audit_operator(operator),
        out=sys.stdout,
    )
