"""The ``ledgerstream`` command line.

    ledgerstream worker            run a stream-processing worker
    ledgerstream topics create     create every declared topic (idempotent)
    ledgerstream topics list       show declared topics and whether they exist
    ledgerstream consume TOPIC     print a topic's records as JSON lines
    ledgerstream demo [--once]     the whole pipeline on sample data, watched live
    ledgerstream schemas ACTION    check | lock | docs | register: schemas as contracts
    ledgerstream produce --topic T FILE.jsonl   validate and publish events from a file

Connection settings come from the environment (``streams/settings.py``):
``KAFKA_BOOTSTRAP_SERVERS`` (unset = the embedded broker), ``SCHEMA_REGISTRY_URL``
(unset = the embedded schema catalog) and ``LEDGERSTREAM_*``.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from streams.adapters.exceptions import BrokerStartError, KafkaAdminError, TopicMismatchError
from streams.domain.exceptions import LedgerstreamError
from streams.settings import PROJECT_ROOT, Settings, load_settings

EXIT_USAGE = 2
EXIT_FAILED = 1


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def _cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    from streams.adapters.topics import ensure_topics, load_topic_specs  # noqa: PLC0415
    from streams.app import cluster, run_worker  # noqa: PLC0415 - faust is slow to import

    with cluster(settings) as live:
        if settings.embedded:
            print(f"embedded broker at {live.kafka_bootstrap_servers}", file=sys.stderr)
            ensure_topics(
                live.kafka_client_config(),
                load_topic_specs(live.topics_file),
                prefix=live.topic_prefix,
                single_node=True,
            )
        run_worker(live)
    return 0


def _cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    from streams.adapters.topics import ensure_topics, load_topic_specs  # noqa: PLC0415

    specs = load_topic_specs(args.file or settings.topics_file)
    if args.action == "list":
        for spec in specs:
            configs = ",".join(f"{k}={v}" for k, v in sorted(spec.configs.items()))
            print(
                f"{settings.topic(spec.name):40} partitions={spec.partitions:<3} "
                f"rf={spec.replication_factor} key={spec.key!r} {configs}"
            )
        return 0
    if settings.embedded:
        print(
            "KAFKA_BOOTSTRAP_SERVERS is not set: nothing to create topics on "
            "(the worker and demo create them on their embedded broker)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    outcomes = ensure_topics(
        settings.kafka_client_config(),
        specs,
        prefix=settings.topic_prefix,
        single_node=settings.embedded_profile,
    )
    for name, outcome in sorted(outcomes.items()):
        print(f"{outcome:8} {name}")
    return 0


def _cmd_consume(settings: Settings, args: argparse.Namespace) -> int:
    from streams.adapters.avro import AvroCodec  # noqa: PLC0415
    from streams.adapters.kafka_io import read_topics  # noqa: PLC0415
    from streams.app import schema_source  # noqa: PLC0415

    if settings.embedded:
        print("KAFKA_BOOTSTRAP_SERVERS is not set", file=sys.stderr)
        return EXIT_USAGE
    codec = AvroCodec(schema_source(settings))
    shown = 0
    for record in read_topics(
        settings.kafka_client_config(),
        [settings.topic(args.topic)],
        idle_seconds=args.idle,
        max_seconds=args.max_seconds,
    ):
        row: dict[str, Any] = {
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode(errors="replace") if record.key else None,
        }
        try:
            decoded = codec.decode(args.topic, record.value)
            row |= {"schema_id": decoded.schema_id, "value": decoded.record}
        except LedgerstreamError as exc:
            row |= {"error": f"{exc.code}: {exc}", "raw": record.value}
        print(json.dumps(row, default=_json_default, sort_keys=True))
        shown += 1
        if args.limit and shown >= args.limit:
            break
    print(f"{shown} records", file=sys.stderr)
    return 0


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from streams.demo.runner import run_demo, summary_json  # noqa: PLC0415

    summary = run_demo(
        settings, once=args.once, events=args.events, rate=args.rate, timeout=args.timeout
    )
    print(summary_json(summary))
    return 0 if summary.unbalanced == 0 else EXIT_FAILED


def _contract_paths(settings: Settings, args: argparse.Namespace) -> Any:
    from streams.adapters.contracts.gate import ContractPaths  # noqa: PLC0415

    fixtures = getattr(args, "fixtures", None) or PROJECT_ROOT / "tests" / "fixtures" / "avro"
    return ContractPaths(args.schemas or settings.schemas_dir, fixtures)


def _registry_client(settings: Settings, url: str) -> Any:
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415

    config = {"url": url}
    if settings.schema_registry_basic_auth is not None:
        config["basic.auth.user.info"] = settings.schema_registry_basic_auth.get_secret_value()
    return SchemaRegistryClient(config)


def _cmd_schemas(settings: Settings, args: argparse.Namespace) -> int:
    from streams.adapters.contracts import commands  # noqa: PLC0415

    paths = _contract_paths(settings, args)
    if args.action == "check":
        return commands.run_check(paths, sys.stdout)
    if args.action == "lock":
        return commands.run_lock(paths, sys.stdout)
    if args.action == "docs":
        output = args.output or PROJECT_ROOT / "docs" / "events.md"
        return commands.run_docs(paths, settings.topics_file, output, sys.stdout, check=args.check)
    url = args.registry or settings.schema_registry_url
    if not url:
        print("schemas register: give --registry URL or set SCHEMA_REGISTRY_URL", file=sys.stderr)
        return EXIT_USAGE
    return commands.run_register(paths, _registry_client(settings, url), sys.stdout)


def _cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    from streams.adapters.avro import RegistrySchemaSource, SchemaCatalog  # noqa: PLC0415
    from streams.producer import EventBuilder, EventProducer, Progress, produce_file  # noqa: PLC0415

    if settings.embedded and not args.dry_run:
        print("KAFKA_BOOTSTRAP_SERVERS is not set (or use --dry-run)", file=sys.stderr)
        return EXIT_USAGE
    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    producer = None
    if not args.dry_run:
        url = settings.schema_registry_url
        source = RegistrySchemaSource(_registry_client(settings, url), catalog) if url else None
        producer = EventProducer(
            settings.kafka_client_config(),
            source=source,
            catalog=catalog,
            topic_prefix=settings.topic_prefix,
        )
    size = args.file.stat().st_size
    show = args.progress == "always" or (
        args.progress == "auto" and sys.stderr.isatty() and size > 1_000_000
    )
    summary = produce_file(
        args.file,
        args.topic,
        producer,
        builder=EventBuilder(catalog),
        on_error=lambda error: print(f"{args.file}:{error}", file=sys.stderr),
        progress=Progress(size) if show else None,
        max_errors=args.max_errors,
    )
    print(summary, file=sys.stderr)
    return EXIT_FAILED if summary.errors else 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (every command documents itself with --help)."""
    parser = argparse.ArgumentParser(
        prog="ledgerstream",
        description="Turn project-management events into balanced ledger postings on Kafka.",
        epilog="Settings: KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL and LEDGERSTREAM_*.",
    )
    parser.add_argument("--log-level", default="warning", help="Python log level (default warning)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = sub.add_parser("worker", help="run a worker (starts an embedded broker if none set)")
    worker.set_defaults(handler=_cmd_worker)

    topics = sub.add_parser("topics", help="create or list the declared topics")
    topics.add_argument("action", choices=["create", "list"])
    topics.add_argument("--file", type=Path, help="topics file (default deploy/topics.yaml)")
    topics.set_defaults(handler=_cmd_topics)

    consume = sub.add_parser("consume", help="print a topic's records, decoded, as JSON lines")
    consume.add_argument("topic", help="logical topic name, e.g. acct.ledger-commands")
    consume.add_argument("--limit", type=int, default=0, help="stop after N records")
    consume.add_argument("--idle", type=float, default=2.0, help="stop after S idle seconds")
    consume.add_argument("--max-seconds", type=float, default=60.0, help="stop after S seconds")
    consume.set_defaults(handler=_cmd_consume)

    demo = sub.add_parser("demo", help="run the pipeline on sample data and watch it")
    demo.add_argument(
        "--once",
        action="store_true",
        help="stop after the sample set and print a JSON summary line",
    )
    demo.add_argument("--events", type=int, default=5000, help="time entries in the sample set")
    demo.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help="time entries per second published after the sample set (live mode)",
    )
    demo.add_argument("--timeout", type=float, default=600.0, help="give up after S seconds")
    demo.set_defaults(handler=_cmd_demo)

    schemas = sub.add_parser("schemas", help="check, lock, document or register the schemas")
    schemas.add_argument(
        "action",
        choices=["check", "lock", "docs", "register"],
        help="check: the compatibility gate; lock: publish new versions to "
        "schemas/published.lock; docs: write docs/events.md; register: publish to a registry",
    )
    schemas.add_argument("--schemas", type=Path, help="schema directory (default schemas/)")
    schemas.add_argument(
        "--fixtures", type=Path, help="fixture records (default tests/fixtures/avro/)"
    )
    schemas.add_argument(
        "--registry", help="registry URL for register (default SCHEMA_REGISTRY_URL)"
    )
    schemas.add_argument("--output", type=Path, help="docs: file to write (default docs/events.md)")
    schemas.add_argument(
        "--check", action="store_true", help="docs: fail if the file is stale, write nothing"
    )
    schemas.set_defaults(handler=_cmd_schemas)

    produce = sub.add_parser("produce", help="validate and publish events from a JSON-lines file")
    produce.add_argument("file", type=Path, help="JSON-lines file: one event in JSON form a line")
    produce.add_argument("--topic", required=True, help="logical topic, e.g. pm.time-entries")
    produce.add_argument(
        "--dry-run", action="store_true", help="validate every line, publish nothing"
    )
    produce.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="progress bar on stderr (auto: on a terminal, for files over 1 MB)",
    )
    produce.add_argument(
        "--max-errors", type=int, default=0, help="stop after N rejected lines (0: never)"
    )
    produce.set_defaults(handler=_cmd_produce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ledgerstream`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        result: int = args.handler(settings, args)
    except (TopicMismatchError, KafkaAdminError, BrokerStartError, LedgerstreamError) as exc:
        print(f"ledgerstream: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
