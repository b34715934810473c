"""``ledgerstream period close|reopen|list``: period locks on ledgerstream.control, audited."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

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


@click.group("period", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """Close or reopen an entity's accounting period, or list the locks.

    A closed period receives no entry: a record dated in it posts into the first open
    period after it, keeping its own date, with late_for_period set in the command and
    in the feedback. Locks live on ledgerstream.control; every worker follows them
    within a second (docs/period-close.md, docs/runbooks/LedgerstreamPeriodReopened.md).
    """


def _lock_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = operator_option("who runs this, for the lock and the audit record")(fn)
    fn = click.option("--reason", required=True, help="why (kept with the lock and audited)")(fn)
    fn = click.option("--period", required=True, metavar="YYYY-MM", help="the accounting period")(
        fn
    )
    return click.option("--entity", required=True, metavar="E", help="the legal entity id")(fn)


def _run(
    settings: Settings,
    *,
    closed: bool,
    entity: str,
    period: str,
    reason: str,
    operator: str | None,
) -> int:
    from streams.ops import periods  # noqa: PLC0415

    if not need_cluster(settings, f"period {'close' if closed else 'reopen'}"):
        return EXIT_USAGE
    return periods.run_lock(
        settings,
        codec(settings),
        entity=entity,
        period=period,
        closed=closed,
        reason=reason,
        operator=audit_operator(operator),
        out=sys.stdout,
    )


@command.command("close", context_settings=CONTEXT_SETTINGS)
@_lock_options
@pass_cluster_settings
def close(
    settings: Settings, *, entity: str, period: str, reason: str, operator: str | None
) -> int:
    """Close one entity's period (audited): later records dated in it post after it."""
    return _run(
        settings, closed=True, entity=entity, period=period, reason=reason, operator=operator
    )


@command.command("reopen", context_settings=CONTEXT_SETTINGS)
@_lock_options
@pass_cluster_settings
def reopen(
    settings: Settings, *, entity: str, period: str, reason: str, operator: str | None
) -> int:
    """Reopen a closed period (audited; raises the LedgerstreamPeriodReopened alert).

    Records dated in it post into it again until it is closed again.
    """
    return _run(
        settings, closed=False, entity=entity, period=period, reason=reason, operator=operator
    )


@command.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--entity", metavar="E", help="only this legal entity  [default: every entity]")
@pass_cluster_settings
def list_locks(settings: Settings, *, entity: str | None) -> int:
    """Show every period lock: closed or reopened, who, when and why."""
    from streams.ops import periods  # noqa: PLC0415

    if not need_cluster(settings, "period list"):
        return EXIT_USAGE
    return periods.run_list(settings, codec(settings), sys.stdout, entity=entity)
