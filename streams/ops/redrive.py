"""``dlq redrive``: re-publish fixed dead letters to their source, once, and audit it.

The selected dead letters' original records go back to their source topic and
partition with a redrive count and a ``ledgerstream-redriven-from`` marker
(:mod:`streams.adapters.dlq_store`). Before anything is sent the source topics
are scanned for those markers, so a repeated redrive skips what an earlier one
already published and says so. One line per dead letter, progress on stderr for
long runs, a summary, and one audit record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, TextIO

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.adapters.audit import AUDIT_TOPIC, AuditLog
from streams.adapters.avro import AvroCodec
from streams.adapters.dlq_store import (
    DLQ_TOPIC,
    Redrive,
    RedriveProgress,
    count_by_code,
    plan_redrive,
    redriven_markers,
    send_redrives,
)
from streams.adapters.exceptions import KafkaAdminError
from streams.adapters.kafka_io import RecordProducer
from streams.ops.action import Operator, audited
from streams.ops.dlq import DlqQuery, logical, read_selected
from streams.ops.render import bytes_text, plural
from streams.settings import Settings

__all__ = ["run_redrive"]

#: Clock skew allowed between the worker that wrote a dead letter and this host:
#: the scan for earlier redrives starts this long before the oldest dead letter.
SCAN_MARGIN_SECONDS = 3600
PROGRESS_EVERY = 1000


def _existing_topics(client: Mapping[str, str]) -> set[str]:
    try:
        return set(AdminClient(dict(client)).list_topics(timeout=30).topics)
    except KafkaException as exc:
        raise KafkaAdminError.from_kafka(exc, "list topics") from exc


def run_redrive(
    settings: Settings,
    codec: AvroCodec,
    query: DlqQuery,
    *,
    operator: Operator,
    out: TextIO,
    err: TextIO,
    arguments: Mapping[str, Any],
    dry_run: bool = False,
) -> int:
    """Re-publish the selected dead letters' original records; skip what was already re-driven.

    Each line of ``out`` says what happened to one dead letter; progress goes to
    ``err`` on long runs; a summary ends the output. One audit record is written.

    Raises:
        ProduceError: A record was not delivered (the summary says how many were).
        KafkaAdminError: The cluster failed (its error code kept).

    """
    client = settings.kafka_client_config()
    log = AuditLog(client, settings.topic(AUDIT_TOPIC))
    with audited(log, operator, "dlq.redrive", dict(arguments) | {"dry_run": dry_run}) as action:
        err.write(f"reading {settings.topic(DLQ_TOPIC)} ...\n")
        letters = read_selected(settings, codec, query)
        existing = _existing_topics(client)
        plans: list[Redrive] = []
        not_redrivable = 0
        for letter in letters:
            plan = plan_redrive(letter)
            if plan is None or plan.topic not in existing:
                why = (
                    f"envelope unreadable ({letter.envelope_error})"
                    if plan is None
                    else f"source topic {plan.topic} does not exist"
                )
                out.write(f"skip {letter.position}: cannot re-drive: {why}\n")
                not_redrivable += 1
                continue
            plans.append(plan)
        stamps = [p.letter.timestamp_ms for p in plans if p.letter.timestamp_ms is not None]
        # a redrive is published after its dead letter was written: scan from there
        since_ms = (
            min(stamps) - SCAN_MARGIN_SECONDS * 1000
            if stamps and len(stamps) == len(plans)
            else None
        )
        topics = sorted({p.topic for p in plans})
        if topics:
            err.write(f"scanning {', '.join(topics)} for earlier redrives ...\n")
        done = redriven_markers(client, topics, since_ms=since_ms, idle_seconds=query.idle_seconds)
        todo: list[Redrive] = []
        for plan in plans:
            found = done.get(plan.marker)
            if found is not None:
                out.write(
                    f"skip {plan.marker}: already re-driven "
                    f"({logical(settings, found.topic)}[{found.partition}]@{found.offset})\n"
                )
            else:
                todo.append(plan)
        todo.sort(key=lambda p: (p.topic, p.partition or 0, p.letter.source_offset or 0))
        verb = "would re-drive" if dry_run else "re-drive"
        for plan in todo:
            out.write(
                f"{verb} {plan.marker} -> {logical(settings, plan.topic)}[{plan.partition}] "
                f"key={bytes_text(plan.key)} ({plan.letter.code}, redrive #{plan.count})\n"
            )
        sent = 0
        if todo and not dry_run:
            started = time.monotonic()

            def report(done_count: int, total: int) -> None:
                rate = done_count / max(time.monotonic() - started, 1e-3)
                err.write(f"re-driven {done_count}/{total} ({rate:.0f}/s)\n")

            progress = RedriveProgress(total=len(todo), on_progress=report, every=PROGRESS_EVERY)
            try:
                sent = send_redrives(RecordProducer(client), todo, progress)
            finally:
                action.counts["redriven"] = progress.sent
        action.counts.update(
            selected=len(letters),
            redriven=sent,
            already_redriven=len(plans) - len(todo),
            not_redrivable=not_redrivable,
            **({"would_redrive": len(todo)} if dry_run else {}),
        )
        if dry_run:
            action.outcome = "dry-run"
        by_code = count_by_code(p.letter for p in todo)
        action.details["by_code"] = by_code
        out.write(
            f"\n{plural(len(letters), 'dead letter')} selected: "
            f"{len(todo)} {'would be re-driven' if dry_run else 're-driven'}, "
            f"{len(plans) - len(todo)} already re-driven (skipped), "
            f"{not_redrivable} cannot be re-driven\n"
        )
        for code, count in by_code.items():
            out.write(f"  {code:<24} {count}\n")
    return 0
