"""``ledgerstream worker``: run a stream-processing worker."""

from __future__ import annotations

import click

from streams.cli.context import CONTEXT_SETTINGS, pass_settings
from streams.settings import Settings


@click.command(
    "worker",
    context_settings=CONTEXT_SETTINGS,
)
@pass_settings
def command(settings: Settings) -> int:
    """Run a worker (an embedded broker if none is set).

    The worker processes streams until stopped (Ctrl-C or SIGTERM).

    With KAFKA_BOOTSTRAP_SERVERS set, the worker joins that cluster. Unset, it starts
    an embedded broker, creates the declared topics on it and prints its address.
    """
    from streams.adapters.topics import ensure_topics, load_topic_specs  # noqa: PLC0415
    from streams.app import cluster, run_worker  # noqa: PLC0415 - faust is slow to import

    with cluster(settings) as live:
        if settings.embedded:
            click.echo(f"embedded broker at {live.kafka_bootstrap_servers}", err=True)
            ensure_topics(
                live.kafka_client_config(),
                load_topic_specs(live.topics_file),
                prefix=live.topic_prefix,
                single_node=True,
            )
        run_worker(live)
    return 0
