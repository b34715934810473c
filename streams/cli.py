"""The ``ledgerstream`` command line.

    ledgerstream worker            run a stream-processing worker
    ledgerstream topics create     create every declared topic (idempotent)
    ledgerstream topics list       show declared topics and whether they exist
    ledgerstream consume TOPIC     print a topic's records as JSON lines
    ledgerstream demo [--once]     the whole pipeline on sample data, watched live
    ledgerstream schemas ACTION    check | lock | docs | register: schemas as contracts
    ledgerstream produce --topic T FILE.jsonl   validate and publish events from a file
    ledgerstream dlq list|show|redrive          triage dead letters and re-drive them
    ledgerstream replay --group G --to-...      replay by consumer-group offset reset
    ledgerstream toggle set|list                kill switch (all or --entity), pilot, dry-run
    ledgerstream parked [--json]                records held back by stage 2, and why
    ledgerstream dry-run --reference REF.jsonl EVENTS.jsonl   post offline, print commands

Connection settings come from the environment (``streams/settings.py``):
``KAFKA_BOOTSTRAP_SERVERS`` (unset = the embedded broker), ``SCHEMA_REGISTRY_URL``
(unset = the embedded schema catalog) and ``LEDGERSTREAM_*``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.adapters.exceptions import BrokerStartError, KafkaAdminError, TopicMismatchError
from streams.domain.exceptions import LedgerstreamError
from streams.ops.exceptions import GroupActiveError, InvalidArgumentError, OffsetResetError
from streams.settings import PROJECT_ROOT, Settings, load_settings

EXIT_USAGE = 2
EXIT_FAILED = 1
#: An operator action refused for safety (a worker still runs, records would be skipped).
EXIT_REFUSED = 3


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
    from streams.adapters.audit import AUDIT_TOPIC  # noqa: PLC0415
    from streams.adapters.avro import AvroCodec  # noqa: PLC0415
    from streams.adapters.kafka_io import read_topics  # noqa: PLC0415
    from streams.agents.runtime import COMMANDS_TOPIC, SHADOW_TOPIC  # noqa: PLC0415
    from streams.app import schema_source  # noqa: PLC0415
    from streams.ops.render import json_default  # noqa: PLC0415

    if settings.embedded:
        print("KAFKA_BOOTSTRAP_SERVERS is not set", file=sys.stderr)
        return EXIT_USAGE
    codec = AvroCodec(schema_source(settings))
    # the shadow topic carries the sink's own bytes (pilot and dry-run)
    schema_topic = COMMANDS_TOPIC if args.topic == SHADOW_TOPIC else args.topic
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
            if args.topic == AUDIT_TOPIC:  # operator events are JSON (streams/adapters/audit.py)
                row |= {"value": json.loads(record.value or b"null")}
            else:
                decoded = codec.decode(schema_topic, record.value)
                row |= {"schema_id": decoded.schema_id, "value": decoded.record}
        except LedgerstreamError as exc:
            row |= {"error": f"{exc.code}: {exc}", "raw": record.value}
        except ValueError as exc:
            row |= {"error": f"not JSON: {exc}", "raw": record.value}
        print(json.dumps(row, default=json_default, sort_keys=True))
        shown += 1
        if args.limit and shown >= args.limit:
            break
    print(f"{shown} records", file=sys.stderr)
    return 0


def _cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from streams.demo.runner import run_demo, summary_json  # noqa: PLC0415

    summary = run_demo(
        settings,
        once=args.once,
        events=args.events,
        rate=args.rate,
        timeout=args.timeout,
        month=args.month,
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


def _cmd_dry_run(settings: Settings, args: argparse.Namespace) -> int:
    from streams.adapters.avro import SchemaCatalog  # noqa: PLC0415
    from streams.domain.trial_balance import format_trial_balance, trial_balance  # noqa: PLC0415
    from streams.dryrun import dry_run  # noqa: PLC0415

    catalog = SchemaCatalog.from_directory(args.schemas or settings.schemas_dir)
    rule_version = args.rule_version or settings.rule_version
    run = dry_run(
        args.reference,
        args.events,
        catalog=catalog,
        rule_version=rule_version,
        account_map=settings.account_map,
    )
    for command in run.commands:
        print(command.model_dump_json())
    if args.feedback:
        for feedback in run.feedback:
            print(feedback.model_dump_json())
    print()
    print("\n".join(format_trial_balance(trial_balance(run.commands))))
    for error in run.errors:
        print(error, file=sys.stderr)
    print(
        f"dry-run: {len(run.commands)} command(s), {run.ledger.skipped} skipped, "
        f"{len(run.errors)} line(s) not posted",
        file=sys.stderr,
    )
    return EXIT_FAILED if run.errors else 0


def _codec(settings: Settings) -> Any:
    """Build the Avro codec of the configured registry, else of the embedded catalog."""
    from streams.adapters.avro import AvroCodec, RegistrySchemaSource, SchemaCatalog  # noqa: PLC0415

    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    url = settings.schema_registry_url
    return AvroCodec(
        RegistrySchemaSource(_registry_client(settings, url), catalog) if url else catalog
    )


def _operator(args: argparse.Namespace) -> Any:
    from streams.ops.action import Operator  # noqa: PLC0415

    return Operator(args.operator or getpass.getuser())


def _need_cluster(settings: Settings, command: str) -> bool:
    if settings.embedded:
        print(f"{command}: KAFKA_BOOTSTRAP_SERVERS is not set", file=sys.stderr)
        return False
    return True


def _cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    from streams.ops import dlq, redrive  # noqa: PLC0415
    from streams.ops.selection import parse_dlq_position  # noqa: PLC0415

    if not _need_cluster(settings, f"dlq {args.action}"):
        return EXIT_USAGE
    if args.action == "show":
        if (args.position is None) == (args.key is None):
            print("dlq show: give a POSITION or --key K (one of them)", file=sys.stderr)
            return EXIT_USAGE
        position = None if args.position is None else parse_dlq_position(args.position)
        return dlq.run_show(
            settings,
            _codec(settings),
            sys.stdout,
            position=position,
            key=args.key,
            as_json=args.json,
            idle_seconds=args.idle,
            max_seconds=args.max_seconds,
        )
    selection = dlq.build_filter(
        settings,
        codes=args.code,
        source_topics=args.source_topic,
        keys=args.key,
        since=args.since,
        until=args.until,
        now=datetime.now(UTC),
    )
    query = dlq.DlqQuery(selection, idle_seconds=args.idle, max_seconds=args.max_seconds)
    if args.action == "list":
        return dlq.run_list(
            settings, _codec(settings), query, sys.stdout, as_json=args.json, limit=args.limit
        )
    if selection.selects_all and not args.all:
        print(
            "dlq redrive: select dead letters (--code, --source-topic, --key, --since, "
            "--until) or pass --all",
            file=sys.stderr,
        )
        return EXIT_USAGE
    arguments = {
        "code": args.code,
        "source_topic": args.source_topic,
        "key": args.key,
        "since": args.since,
        "until": args.until,
        "all": args.all,
    }
    return redrive.run_redrive(
        settings,
        _codec(settings),
        query,
        operator=_operator(args),
        out=sys.stdout,
        err=sys.stderr,
        arguments=arguments,
        dry_run=args.dry_run,
    )


def worker_input_topics() -> list[str]:
    """Return the source topics a replay resets: project events and reference data.

    Not ``ledgerstream.ledger-events``: replayed source records are routed to it
    again, and stage 2 posts only what its table says is new or changed.
    """
    from streams.domain.posting import EVENT_TOPICS  # noqa: PLC0415
    from streams.domain.reference import REFERENCE_TOPICS  # noqa: PLC0415

    return [*EVENT_TOPICS, *REFERENCE_TOPICS]


def _cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from streams.app import HEARTBEAT_TOPIC  # noqa: PLC0415
    from streams.ops.replay import ReplayMode, ReplayRequest, run_replay  # noqa: PLC0415
    from streams.ops.selection import parse_instant, parse_offset_targets  # noqa: PLC0415

    if not _need_cluster(settings, "replay"):
        return EXIT_USAGE
    if args.to_offset and args.topics:
        print(
            "replay: --topics does not go with --to-offset (each names its topic)", file=sys.stderr
        )
        return EXIT_USAGE
    if args.to_offset:
        mode, targets, at = ReplayMode.OFFSET, tuple(parse_offset_targets(args.to_offset)), None
    elif args.to_datetime:
        at = parse_instant(args.to_datetime, now=datetime.now(UTC), option="--to-datetime")
        mode, targets = ReplayMode.DATETIME, ()
    else:
        mode, targets, at = ReplayMode.EARLIEST, (), None
    request = ReplayRequest(
        group=args.group,
        mode=mode,
        topics=() if targets else tuple(args.topics or worker_input_topics()),
        at=at,
        targets=targets,
        dry_run=args.dry_run,
        allow_forward=args.allow_forward,
    )
    window = args.heartbeat_window
    if window is None:
        window = 3 * settings.heartbeat_interval_seconds
    return run_replay(
        settings,
        request,
        _operator(args),
        sys.stdout,
        heartbeat_topic=HEARTBEAT_TOPIC,
        heartbeat_window_seconds=window,
    )


def _cmd_parked(settings: Settings, args: argparse.Namespace) -> int:
    from streams.ops.parked import run_parked  # noqa: PLC0415

    if not _need_cluster(settings, "parked"):
        return EXIT_USAGE
    return run_parked(settings, sys.stdout, as_json=args.json, idle_seconds=args.idle)


def _cmd_toggle(settings: Settings, args: argparse.Namespace) -> int:
    from streams.ops import toggles  # noqa: PLC0415

    if not _need_cluster(settings, f"toggle {args.action}"):
        return EXIT_USAGE
    if args.action == "list":
        return toggles.run_list(settings, _codec(settings), sys.stdout)
    return toggles.run_set(
        settings,
        _codec(settings),
        args.name,
        enabled=args.on,
        allow_customers=args.allow_customer,
        allow_projects=args.allow_project,
        entity=args.entity,
        reason=args.reason,
        operator=_operator(args),
        out=sys.stdout,
    )


def _add_parked_parser(sub: Any) -> None:
    parked = sub.add_parser(
        "parked",
        help="list the records stage 2 holds back, and why",
        description="Every record parked in the group's posted-records table "
        "(LEDGERSTREAM_APP_ID): waiting for reference data (MISSING_REFERENCE, "
        "MISSING_FX_RATE), for an entry an invoice bills (UNPOSTED_SOURCE), for its "
        "entity's kill switch (ENTITY_PAUSED) or behind an earlier version (QUEUED); "
        "with attempts, first failure and next retry. Read-only.",
    )
    parked.add_argument("--json", action="store_true", help="one JSON object per line")
    parked.add_argument(
        "--idle", type=float, default=2.0, help="stop reading after this many idle seconds"
    )
    parked.set_defaults(handler=_cmd_parked)


def _add_toggle_parser(sub: Any) -> None:
    from streams.domain.toggles import ToggleName  # noqa: PLC0415

    toggle = sub.add_parser(
        "toggle",
        help="turn the kill switch, pilot or dry-run on or off, or list them",
        description="Control toggles on ledgerstream.control, obeyed by every worker within "
        "a second (docs/runbooks/toggles.md).",
    )
    actions = toggle.add_subparsers(dest="action", required=True, metavar="ACTION")
    setting = actions.add_parser(
        "set",
        help="turn one toggle on or off (audited)",
        description="kill_switch: pause posting (records wait in Kafka), or with --entity "
        "for one legal entity (its records are held, then post); pilot: post only "
        "commands of the allow-listed customers/projects, the rest to "
        "acct.ledger-commands.shadow; dry_run: every command to the shadow topic.",
    )
    setting.add_argument("name", choices=[str(name) for name in ToggleName])
    state = setting.add_mutually_exclusive_group(required=True)
    state.add_argument("--on", action="store_true", help="turn the toggle on")
    state.add_argument("--off", action="store_true", help="turn the toggle off")
    setting.add_argument(
        "--allow-customer",
        action="append",
        default=[],
        metavar="C",
        help="pilot: a customer id whose commands post for real (repeat for several)",
    )
    setting.add_argument(
        "--allow-project",
        action="append",
        default=[],
        metavar="P",
        help="pilot: a project id whose commands post for real (repeat for several)",
    )
    setting.add_argument(
        "--entity",
        metavar="E",
        help="kill_switch: pause (or resume) posting for this legal entity only; its "
        "records are held in order and post, once, when it is turned off",
    )
    setting.add_argument("--reason", required=True, help="why (kept with the toggle and audited)")
    setting.add_argument(
        "--operator",
        metavar="NAME",
        help="who runs this, for the toggle and the audit record (default: the OS user)",
    )
    setting.set_defaults(handler=_cmd_toggle)
    listing = actions.add_parser("list", help="each toggle's current setting")
    listing.set_defaults(handler=_cmd_toggle)


def _add_dlq_parser(sub: Any) -> None:
    dlq = sub.add_parser(
        "dlq",
        help="list, show or re-drive dead letters of ledgerstream.dlq",
        description="Triage the dead-letter topic and re-drive fixed records to their source.",
    )
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")

    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument(
        "--idle",
        type=float,
        default=2.0,
        metavar="S",
        help="stop reading after S idle seconds (default 2)",
    )
    reading.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        metavar="S",
        help="stop reading after S seconds (default 300)",
    )
    selecting = argparse.ArgumentParser(add_help=False)
    selecting.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="CODE",
        help="error code, e.g. MISSING_REFERENCE (repeat for several)",
    )
    selecting.add_argument(
        "--source-topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="logical source topic, e.g. pm.time-entries (repeat for several)",
    )
    selecting.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="K",
        help="source record key (repeat for several)",
    )
    selecting.add_argument(
        "--since",
        metavar="T",
        help="last failure at or after T: ISO 8601 with a zone (2026-11-10T14:00Z) or an age (2h)",
    )
    selecting.add_argument(
        "--until", metavar="T", help="first failure at or before T (same forms as --since)"
    )

    listing = actions.add_parser(
        "list",
        parents=[selecting, reading],
        help="one line per dead letter and a count by error code",
    )
    listing.add_argument(
        "--limit", type=int, default=0, metavar="N", help="show only the last N (0: all)"
    )
    listing.add_argument("--json", action="store_true", help="JSON lines instead of text")
    listing.set_defaults(handler=_cmd_dlq)

    show = actions.add_parser(
        "show",
        parents=[reading],
        help="one dead letter in full: envelope, decoded value, headers, stack trace",
    )
    show.add_argument(
        "position", nargs="?", help="PARTITION:OFFSET as `dlq list` prints it, or a bare OFFSET"
    )
    show.add_argument(
        "--key", metavar="K", help="show every dead letter of this source key instead"
    )
    show.add_argument("--json", action="store_true", help="one JSON object per dead letter")
    show.set_defaults(handler=_cmd_dlq)

    redrive = actions.add_parser(
        "redrive",
        parents=[selecting, reading],
        help="re-publish the selected dead letters' original records to their source topic",
        description="Re-publish the original key, value and headers of each selected dead "
        "letter to its source topic and partition, marked with ledgerstream-redrive-count and "
        "ledgerstream-redriven-from; dead letters already re-driven are skipped "
        "(docs/runbooks/dlq-redrive.md).",
    )
    redrive.add_argument(
        "--all", action="store_true", help="re-drive every dead letter (no selection given)"
    )
    redrive.add_argument(
        "--dry-run", action="store_true", help="show what would be re-driven, publish nothing"
    )
    redrive.add_argument(
        "--operator",
        metavar="NAME",
        help="who runs this, for the audit record (default: the OS user)",
    )
    redrive.set_defaults(handler=_cmd_dlq)


def _add_replay_parser(sub: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="replay by resetting a stopped consumer group's offsets",
        description="Move a consumer group's committed offsets back so its workers read "
        "records again (docs/runbooks/replay.md). Refused while a worker of the group runs.",
    )
    replay.add_argument(
        "--group", required=True, metavar="G", help="consumer group = the workers' app id"
    )
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--to-earliest", action="store_true", help="every partition back to its earliest offset"
    )
    target.add_argument(
        "--to-datetime",
        metavar="T",
        help="each partition to its first record at or after T: ISO 8601 with a zone "
        "(2026-11-10T14:00:00Z) or an age (2h, 7d)",
    )
    target.add_argument(
        "--to-offset",
        metavar="TOPIC:PARTITION:OFFSET",
        nargs="+",
        action="extend",
        help="exactly these partitions to these offsets (logical topic names)",
    )
    replay.add_argument(
        "--topics",
        nargs="+",
        metavar="TOPIC",
        help="logical topics for --to-earliest/--to-datetime (default: the worker's input "
        "topics, pm.time-entries and the reference topics)",
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="show the old and new offsets, change nothing"
    )
    replay.add_argument(
        "--allow-forward",
        action="store_true",
        help="allow moving a partition forward, past records the group has not read",
    )
    replay.add_argument(
        "--heartbeat-window",
        type=float,
        metavar="S",
        help="a heartbeat canary of the group younger than S seconds means a worker runs "
        "(default 3 x LEDGERSTREAM_HEARTBEAT_INTERVAL_SECONDS; 0: do not look)",
    )
    replay.add_argument(
        "--operator",
        metavar="NAME",
        help="who runs this, for the audit record (default: the OS user)",
    )
    replay.set_defaults(handler=_cmd_replay)


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

    demo = sub.add_parser(
        "demo",
        help="run the pipeline on sample data and watch it",
        description="Publish the sample organisation and its mixed month (every event "
        "type: time entries, expenses, invoices, credit memo, payments), then a stream of "
        "time entries, and watch a worker post them. The summary counts events per topic; "
        "topics the worker does not consume are listed in not_consumed.",
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="stop after the sample set and print a JSON summary line",
    )
    demo.add_argument(
        "--events", type=int, default=5000, help="generated time entries in the sample set"
    )
    demo.add_argument(
        "--no-month",
        dest="month",
        action="store_false",
        help="leave the mixed month out: time entries only (e.g. for throughput runs)",
    )
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

    dry = sub.add_parser(
        "dry-run",
        help="post events from JSON lines offline (no Kafka) and print the commands",
        description="Post events offline with the worker's rules and print every command "
        "as a JSON line, then the trial balance. A line is "
        '{"topic": T, "value": {...}} with the value in the JSON form of the topic\'s '
        'newest schema; {"topic": T, "key": K, "value": null} deletes. A line may add '
        '"schema_version": N (e.g. 1 for a pm.time-entries v1 record with '
        "duration_minutes): its value is read with that version's schema and translated to "
        "the current model exactly as a worker decodes it. A bad line (a wrong version "
        "included) is reported on stderr with its line number and field; exit status 1.",
        epilog="A whole month, every event type: ledgerstream dry-run --reference "
        "examples/month/reference.jsonl examples/month/events.jsonl",
    )
    dry.add_argument(
        "events",
        type=Path,
        help='JSON lines: {"topic": "pm.time-entries", ["schema_version": N,] "value": {...}}',
    )
    dry.add_argument(
        "--reference",
        type=Path,
        required=True,
        help="JSON lines of reference records (ref.entities, pm.customers, pm.projects, "
        "pm.employees, ref.fx-rates)",
    )
    dry.add_argument(
        "--rule-version",
        help="rule version stamped on commands (default LEDGERSTREAM_RULE_VERSION)",
    )
    dry.add_argument("--schemas", type=Path, help="schema directory (default schemas/)")
    dry.add_argument(
        "--feedback", action="store_true", help="also print the sync feedback as JSON lines"
    )
    dry.set_defaults(handler=_cmd_dry_run)

    _add_dlq_parser(sub)
    _add_replay_parser(sub)
    _add_toggle_parser(sub)
    _add_parked_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ledgerstream`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        result: int = args.handler(settings, args)
    except InvalidArgumentError as exc:
        print(f"ledgerstream: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (GroupActiveError, OffsetResetError) as exc:
        print(f"ledgerstream: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (TopicMismatchError, KafkaAdminError, BrokerStartError, LedgerstreamError) as exc:
        print(f"ledgerstream: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
