"""``ledgerstream toggle set|list``: kill switch (all or one entity), pilot, dry-run."""

from __future__ import annotations

import sys

import click

from streams.cli.context import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    audit_operator,
    codec,
    need_cluster,
    operator_option,
    pass_settings,
)
from streams.domain.toggles import ToggleName
from streams.settings import Settings


@click.group("toggle", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """Turn the kill switch, pilot or dry-run on or off, or list them.

    Toggles live on ledgerstream.control and every worker obeys them within a second
    (docs/runbooks/toggles.md).
    """


@command.command("set", context_settings=CONTEXT_SETTINGS)
@click.argument("name", type=click.Choice([str(name) for name in ToggleName]))
@click.option("--on/--off", "enabled", default=None, help="turn the toggle on or off  [required]")
@click.option(
    "--allow-customer",
    multiple=True,
    metavar="C",
    help="pilot: a customer id whose commands post for real (repeat for several)",
)
@click.option(
    "--allow-project",
    multiple=True,
    metavar="P",
    help="pilot: a project id whose commands post for real (repeat for several)",
)
@click.option(
    "--entity",
    metavar="E",
    help="kill_switch: pause (or resume) posting for this legal entity only; its records "
    "are held in order and post, once, when it is turned off",
)
@click.option("--reason", required=True, help="why (kept with the toggle and audited)")
@operator_option("who runs this, for the toggle and the audit record")
@pass_settings
def set_toggle(
    settings: Settings,
    *,
    name: str,
    enabled: bool | None,
    allow_customer: tuple[str, ...],
    allow_project: tuple[str, ...],
    entity: str | None,
    reason: str,
    operator: str | None,
) -> int:
    """Turn one toggle on or off (audited).

    \b
    kill_switch  pause posting (records wait in Kafka); with --entity, for one legal
                 entity (its records are held, then post)
    pilot        post only the commands of the allow-listed customers/projects, the
                 rest to acct.ledger-commands.shadow
    dry_run      every command to the shadow topic
    """  # noqa: D301 - \b keeps the table unwrapped in --help
    from streams.ops import toggles  # noqa: PLC0415

    if enabled is None:
        raise click.UsageError("give --on or --off")
    if not need_cluster(settings, "toggle set"):
        return EXIT_USAGE
    return toggles.run_set(
        settings,
        codec(settings),
        name,
        enabled=enabled,
        allow_customers=list(allow_customer),
        allow_projects=list(allow_project),
        entity=entity,
        reason=reason,
        operator=audit_operator(operator),
        out=sys.stdout,
    )


@command.command("list", context_settings=CONTEXT_SETTINGS)
@pass_settings
def list_toggles(settings: Settings) -> int:
    """Show each toggle's current setting, who set it, when and why."""
    from streams.ops import toggles  # noqa: PLC0415

    if not need_cluster(settings, "toggle list"):
        return EXIT_USAGE
    return toggles.run_list(settings, codec(settings), sys.stdout)
