"""Part (e): stage 2 holding N posted records: worker memory, and back to processing after SIGKILL.

How the state is built (``table_rows``, the one function to change when the table's
format changes): a template of ``TEMPLATE`` time entries is posted in process by
the real stage 2 (``LedgerStage.run``; its ``changelog`` gives the rows exactly as
the worker writes them, in the partition stage 1 keys each entity to). The template's
rows are then cloned with the entry id substituted (``TE-0000001`` → ``TE-0123457``,
same length, so a length-prefixed encoding stays valid) until N records are posted,
and written straight to the group's changelog topic: no event goes through the
pipeline. Rows that name no entry are written once; the command ids inside a clone
are its template's (nothing reads them back to check).

Then a worker starts on that changelog (its table is read whole when it is
assigned), posts a probe (version 2 of a cloned entry: it must REVERSE the cloned
version 1, which proves the state was loaded and read), and its resident memory is
read from ``/proc``. It is SIGKILLed, a new worker is started at once on the same
data directory, a second probe is published, and the time from the kill to that
probe's first command (its record timestamp) is the recovery time; it includes the
broker's wait for the dead worker's session to expire.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Producer
from streams.adapters.dlq import SourceRecord
from streams.adapters.topics import load_topic_specs
from streams.agents.ledger import MAX_BATCH, LedgerStage
from streams.agents.route import LEDGER_TOPIC, handle_route
from streams.demo.sample import SampleRecord
from streams.demo.worker import WorkerProcess
from streams.settings import PROJECT_ROOT
from tests.bench import core, records
from tests.bench.cluster import BenchError, Slice, collect, new_slice, worker_alive
from tests.bench.endtoend import COMMANDS, _wait_assigned
from tests.bench.report import Part, Target

TEMPLATE = 1_000
#: Partitions of the stage-2 topic, as declared.
STAGE_PARTITIONS = next(
    t.partitions
    for t in load_topic_specs(PROJECT_ROOT / "deploy" / "topics.yaml")
    if t.name == LEDGER_TOPIC
)
_ID = re.compile(rb"TE-\d{7}")


def stage_partition(key: bytes) -> int:
    """The stage-2 partition of a ledger key, as the worker's producer (murmur2) picks it."""
    partitions = list(range(STAGE_PARTITIONS))
    return int(DefaultPartitioner()(key, partitions, partitions))


def table_rows(template: list[SampleRecord], state_topic: str) -> list[tuple[int, bytes, bytes]]:
    """Post the template through the real stage 2 in process; return its table rows.

    Returns (partition, key, value) as the worker's changelog holds them (intents and
    deletions left out: a compacted changelog of a quiet worker).
    """
    avro = core.codec()
    rt = core.runtime(avro, records.organisation())
    stage = LedgerStage(rt, partitions=STAGE_PARTITIONS)
    for partition in range(STAGE_PARTITIONS):
        stage.load(partition, {})
    routed: list[tuple[int, SourceRecord]] = []
    for offset, r in enumerate(template):
        if r.value is None:
            continue
        raw = avro.encode(r.topic, r.value, version=r.schema_version)
        record = SourceRecord(r.topic, 0, offset, r.key.encode(), raw, (), 1_790_000_000_000)
        for out in rt.process(record, lambda rec: handle_route(rt, rec, STAGE_PARTITIONS)):
            partition = stage_partition(out.key or b"") if out.partition is None else out.partition
            routed.append(
                (
                    partition,
                    SourceRecord(out.topic, partition, offset, out.key, out.value, out.headers, 1),
                )
            )
    table: dict[tuple[int, bytes], bytes | None] = {}
    for first in range(0, len(routed), MAX_BATCH):
        _outputs, writes = stage.run(routed[first : first + MAX_BATCH])
        _intents, rows = stage.changelog(state_topic, writes)
        stage.apply(writes)
        for row in rows:
            table[(row.partition or 0, row.key or b"")] = row.value
    return [(p, k, v) for (p, k), v in table.items() if v is not None]


def cloned(rows: list[tuple[int, bytes, bytes]], copies: int) -> Iterator[tuple[int, bytes, bytes]]:
    """The template's rows, then ``copies - 1`` copies with every entry id moved up."""
    with_id = [(p, k, v, int(m.group()[3:])) for p, k, v in rows if (m := _ID.search(k))]
    yield from rows
    for copy in range(1, copies):
        shift = copy * TEMPLATE
        for partition, key, value, n in with_id:
            old = f"TE-{n:07d}".encode()
            new = f"TE-{n + shift:07d}".encode()
            yield partition, key.replace(old, new), value.replace(old, new)


def _rss_mib(worker: WorkerProcess) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a worker process, in MiB."""
    process: Any = worker._process
    status = Path(f"/proc/{process.pid}/status").read_text()
    values = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    return values["VmRSS"], values["VmHWM"]


def _probe(
    piece: Slice, template: list[SampleRecord], posted: set[str], clone_id: str
) -> SampleRecord:
    """Version 2 of a cloned entry whose template posted: its commands must REVERSE."""
    n = int(clone_id[3:]) % TEMPLATE or TEMPLATE
    base = next(r for r in template if r.key == f"TE-{n:07d}")
    if base.key not in posted:
        raise BenchError(f"probe template {base.key} did not post")
    assert base.value is not None
    value = base.value | {
        "entry_id": clone_id,
        "version": 2,
        "duration_minutes": int(base.value["duration_minutes"]) + 15,
    }
    return SampleRecord(base.topic, clone_id, value)


def _wait_probe(piece: Slice, worker: WorkerProcess, probe: str, deadline_s: float) -> int:
    """Wait for the probe's REVERSE; return its record timestamp (ms)."""

    def reversed_(got: list[SourceRecord]) -> bool:
        return any(_reverse_of(piece, r, probe) for r in got)

    found = collect(
        piece.client,
        [piece.topic(COMMANDS)],
        reversed_,
        deadline_s=deadline_s,
        alive=worker_alive([worker]),
        what=f"probe {probe} (REVERSE of the state's version 1)",
    )
    return min(r.timestamp_ms or 0 for r in found if _reverse_of(piece, r, probe))


def _reverse_of(piece: Slice, record: SourceRecord, probe: str) -> bool:
    command = piece.codec.decode(COMMANDS, record.value).record
    return bool(command["source"]["id"] == probe and command["action"] == "REVERSE")


def part_e(bootstrap: str, run_dir: Path, *, posted_records: int) -> Part:
    """Build the state, load it in a worker, probe, read RSS, SIGKILL, restart, probe."""
    piece = new_slice(bootstrap, run_dir, "e")
    template = list(records.time_entries(TEMPLATE, seed=5))
    started = time.monotonic()
    rows = table_rows(template, piece.settings.state_topic)
    posted = {k.split(b":", 1)[1].decode() for _, k, _ in rows if k.startswith(b"records|")}
    per_copy = len(posted)
    copies = max(1, -(-posted_records // per_copy))  # at least posted_records in all
    producer = Producer(
        piece.client | {"linger.ms": 20, "batch.size": 1_000_000, "enable.idempotence": False}
    )
    written = size = 0
    for partition, key, value in cloned(rows, copies):
        while True:
            try:
                producer.produce(
                    piece.settings.state_topic, key=key, value=value, partition=partition
                )
                break
            except BufferError:
                producer.poll(0.1)
        written += 1
        size += len(key) + len(value)
        if written % 10_000 == 0:
            producer.poll(0)
    if producer.flush(300):
        raise BenchError("state: changelog rows not delivered")
    build_s = time.monotonic() - started
    total_posted = per_copy * copies
    try:
        piece.publish(records.organisation())
        first = piece.worker()
        t0 = time.monotonic()
        _wait_assigned([first], timeout=600)
        # the last copy's clones of two template entries that posted
        ids = [f"TE-{(copies - 1) * TEMPLATE + int(k[3:]):07d}" for k in sorted(posted)[-2:]]
        probe1 = _probe(piece, template, posted, ids[1])
        piece.publish([probe1])
        _wait_probe(piece, first, probe1.key, deadline_s=600)
        load_s = time.monotonic() - t0
        rss, peak = _rss_mib(first)
        killed_at_ms = int(time.time() * 1000)
        first.kill()
        second = piece.worker(data_dir=run_dir / "e" / "data-0")
        probe2 = _probe(piece, template, posted, ids[0])
        piece.publish([probe2])
        back_ms = _wait_probe(piece, second, probe2.key, deadline_s=900)
        recovery_s = (back_ms - killed_at_ms) / 1000
        rss2, peak2 = _rss_mib(second)
    finally:
        piece.stop()
    part = Part(
        key="e",
        title=f"State at scale ({total_posted:,} posted records in stage 2)",
        columns=["measure", "value"],
        rows=[
            ["posted records in the table (`records\\|` rows)", f"{total_posted:,}"],
            ["changelog rows written / bytes", f"{written:,} / {size / 2**20:,.0f} MiB"],
            ["state built and written in", f"{build_s:.0f} s"],
            ["first worker: start → probe posted (cold load)", f"{load_s:.1f} s"],
            ["first worker RSS after the probe / peak", f"**{rss:,.0f} MiB** / {peak:,.0f} MiB"],
            ["SIGKILL → processing again (probe's command)", f"**{recovery_s:.1f} s**"],
            ["restarted worker RSS / peak", f"{rss2:,.0f} MiB / {peak2:,.0f} MiB"],
        ],
    )
    full = total_posted >= 1_000_000
    scale = "" if full else f" (not measured: this run held {total_posted:,})"
    part.targets += [
        Target(
            f"RSS ≤ 1 GB with 1,000,000 posted records{scale}",
            rss / 1024,
            1.0,
            "GiB",
            at_most=True,
            applies=full,
        ),
        Target(
            f"back to processing ≤ 30 s after a SIGKILL at 1,000,000{scale}",
            recovery_s,
            30,
            "s",
            at_most=True,
            applies=full,
        ),
    ]
    part.notes.append(
        "State built by `tests/bench/state.py` `table_rows` + `cloned`: "
        f"{TEMPLATE:,} time entries posted in process by the real stage 2 (`LedgerStage`),"
        " whose changelog rows are cloned with the entry id substituted and written"
        " straight to the group's changelog topic (no event through the pipeline). A"
        " probe (version 2 of a cloned entry) must REVERSE its version 1, which proves the"
        " worker loaded and read that state. Recovery includes the broker's wait for the"
        " killed worker's session to expire (`broker_session_timeout` 10 s in the embedded"
        " profile)."
    )
    if total_posted < 1_000_000:
        part.notes.append(
            f"This run held {total_posted:,} posted records, not the 1,000,000 of the target."
        )
    return part
