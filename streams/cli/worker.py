"""``ledgerstream worker``: run a stream-processing worker."""

from __future__ import annotations

import os

import click

from streams.cli.context import CONTEXT_SETTINGS, LOG_LEVEL_KEY, pass_settings
from streams.settings import Settings


def banner(settings: Settings, *, announced: str | None, pid: int) -> str:
    """Return the lines a worker prints first: its broker, its metrics and how to stop it."""
    metrics = f"http://{settings.web_host}:{settings.web_port}/metrics"
    broker = settings.kafka_bootstrap_servers or "?"
    lines = [
        "ledgerstream worker",
        f"  broker   {broker}"
        + (" (embedded, in memory: its records go when this worker stops)" if announced else ""),
        f"  group    {settings.app_id}",
        f"  metrics  {metrics}",
    ]
    if announced:
        lines += [
            f"  other ledgerstream commands run from this directory find this broker "
            f"({announced});",
            f"  elsewhere: export KAFKA_BOOTSTRAP_SERVERS={broker}",
        ]
    lines.append(f"  stop     Ctrl-C here, or kill -TERM {pid}")
    width = max(len(line) for line in lines)
    rule = "=" * width
    return "\n".join([rule, *lines, rule])


@click.command("worker", context_settings=CONTEXT_SETTINGS)
@pass_settings
def command(settings: Settings) -> int:
    """Run a worker (an embedded broker if none is set).

    The worker processes streams until stopped (Ctrl-C or SIGTERM). With
    KAFKA_BOOTSTRAP_SERVERS set, it joins that cluster. Unset, it starts an embedded
    broker, creates the declared topics on it and writes the broker's address to
    LEDGERSTREAM_DATA_DIR/broker.json, where the other commands run from the same
    directory find it. A banner names the broker, the metrics URL and how to stop.
    Faust logs at --log-level, else LEDGERSTREAM_LOG_LEVEL (info).
    """
    from streams.adapters.local_broker import announce, withdraw  # noqa: PLC0415
    from streams.adapters.topics import ensure_topics, load_topic_specs  # noqa: PLC0415
    from streams.app import cluster, run_worker  # noqa: PLC0415 - faust is slow to import

    level = click.get_current_context().meta.get(LOG_LEVEL_KEY)
    if level:
        settings = settings.model_copy(update={"log_level": level})
    with cluster(settings) as live:
        announced = None
        if settings.embedded:
            ensure_topics(
                live.kafka_client_config(),
                load_topic_specs(live.topics_file),
                prefix=live.topic_prefix,
                single_node=True,
            )
            metrics = f"http://{live.web_host}:{live.web_port}/metrics"
            announced = announce(live.data_dir, live.kafka_bootstrap_servers or "", metrics)
        click.echo(
            banner(live, announced=str(announced.path) if announced else None, pid=os.getpid()),
            err=True,
        )
        try:
            run_worker(live)
        finally:
            if announced is not None:
                withdraw(announced)
    return 0
