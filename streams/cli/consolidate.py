"""``ledgerstream consolidate``: eliminate a group's intercompany balances in its own book."""

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


@click.command("consolidate", context_settings=CONTEXT_SETTINGS)
@click.option("--group", required=True, metavar="G", help="the consolidation group")
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
    group: str,
    period: str,
    dry_run: bool,
    config: Path | None,
    operator: str | None,
) -> int:
    """Post a group's intercompany eliminations for a period (audited).

    \b
    In the group's consolidation book (its own entity id, docs/period-close.md,
    Consolidation): for each pair of intercompany accounts (1200/2400 receivable and
    payable; revenue and cost) and each two entities of the group, the balances
    are translated into the reporting currency at the period's closing SPOT rate
    and eliminated (Dr payable / Cr receivable), the difference on the FX
    translation account (3900). Sides that do not match (one side booked, or
    amounts differing beyond the tolerance) are printed as exceptions with both
    sides' source ids and are not eliminated; the exit status is then 4.
    A re-run reverses and re-posts only what changed.
    """  # noqa: D301 - \b keeps the paragraph as written in --help
    from streams.ops import close  # noqa: PLC0415

    if not need_cluster(settings, "consolidate"):
        return EXIT_USAGE
    rules = close.load_config(config or settings.close_config)
    return close.run_close(
        settings,
        codec(settings),
        action="consolidate",
        arguments={"group": group, "period": period},
        planner=lambda ledger: close.plan_consolidation(
            rules, ledger, group, period, rule_version=settings.rule_version
        ),
        dry_run=dry_run,
        operator=audit_operator(operator),
        out=sys.stdout,
    )
