"""The two baselines of part (b), each a process of its own: ``python -m tests.bench.baselines``.

* ``faust``: a trivial Faust agent with Faust's default settings: ``take_events(500)``
  and ``send_soon`` of each record, bytes untouched, to one output topic. Only the
  group-join timeouts are the worker's embedded profile (on this broker JoinGroup
  otherwise waits the whole 30 s rebalance timeout; throughput is not affected), the
  web port is free and the data directory is the run's; no uvloop (not a default).
* ``plain``: confluent-kafka ``consume(500)`` → ``produce`` of each record → ``poll(0)``,
  from every partition of the source (``assign()``), flushing when stopped.

Both run until SIGTERM; the harness reads their output topic back.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

BATCH = 500
#: The worker's own ``LEDGERSTREAM_BATCH_WITHIN_SECONDS`` default: a partial batch waits this.
WITHIN = 0.05


def run_faust(args: argparse.Namespace) -> None:
    import faust  # noqa: PLC0415 - only this baseline needs it

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        web_port=args.port,
        datadir=args.datadir,
        broker_rebalance_timeout=3.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
    )
    source = app.topic(args.source)
    sink = app.topic(args.sink)

    @app.agent(source)
    async def relay(stream: Any) -> None:
        async for events in stream.take_events(BATCH, WITHIN):
            for event in events:
                sink.send_soon(key=event.message.key, value=event.message.value)

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.execute_from_commandline()


def run_plain(args: argparse.Namespace) -> None:
    client = {"bootstrap.servers": args.bootstrap}
    consumer = Consumer(client | {"group.id": args.group, "enable.auto.commit": False})
    producer = Producer(client | {"linger.ms": 5, "enable.idempotence": False})
    metadata = consumer.list_topics(args.source, timeout=10)
    partitions = metadata.topics[args.source].partitions
    consumer.assign([TopicPartition(args.source, p, OFFSET_BEGINNING) for p in partitions])
    failed: list[str] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failed.append(str(error))

    stopping = {"now": False}

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    while not stopping["now"]:
        for message in consumer.consume(BATCH, timeout=WITHIN):
            if message.error() is not None:
                continue
            while True:
                try:
                    producer.produce(
                        args.sink, key=message.key(), value=message.value(), on_delivery=delivered
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)
        if failed:
            sys.exit(f"delivery failed: {failed[0]}")
    producer.flush(10)
    consumer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["faust", "plain"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--datadir", default=".")
    args = parser.parse_args(argv)
    if args.kind == "faust":
        sys.argv = [sys.argv[0], "worker"]  # Faust's worker reads its own command line
        run_faust(args)
    else:
        run_plain(args)


if __name__ == "__main__":
    main()
