"""``ledgerstream demo``: the whole pipeline on the embedded broker, watched live.

Starts the broker (unless a cluster is configured), creates the topics,
publishes the sample organisation and the mixed month (``streams.demo.month``:
every event type) followed by a stream of time entries, runs a real worker
process, and reads the sink and dead-letter topics back. Every command read back
is checked for balance independently of the code that built it.

Events are counted per topic, in and processed (a record counts as processed once
it ended: posted, held, skipped or dead-lettered; a record the worker
parked, waiting for an entry or reference data, is counted in ``parked`` until it
posts). A topic the worker has no agent for (it declares no
``ledgerstream_events_consumed_total`` series for it) is listed in
``not_consumed``: its events wait in Kafka, and ``demo --once`` does not wait for them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from streams.adapters.avro import AvroCodec
from streams.adapters.kafka_io import RecordProducer, TopicReader
from streams.adapters.topics import ensure_topics, load_topic_specs
from streams.app import cluster, schema_source
from streams.demo import sample
from streams.demo.books import BooksProcess, start_books
from streams.demo.close import MonthEndClose
from streams.demo.month import Month, mixed_month
from streams.demo.worker import Samples, WorkerProcess
from streams.domain.posting import EVENT_TOPICS
from streams.settings import Settings

COMMANDS = "acct.ledger-commands"
DLQ = "ledgerstream.dlq"
RATE_WINDOW_SECONDS = 5.0
#: How long ``--once`` gives parked records to post once everything else has ended.
PARKED_GRACE_SECONDS = 10.0
EVENTS_CONSUMED = "ledgerstream_events_consumed_total"
PARKED_RECORDS = "ledgerstream_parked_records"
#: Counted each time a record parks (again); the record is not processed until it ends.
_PARKED = "parked"
#: Said when the live phase begins: why ``parked`` keeps growing.
LIVE_PARKING_NOTE = (
    "note: every 2,000th generated time entry names project P-404, which is never "
    "published, to show parking: `parked` grows by one per 2,000 entries and never "
    "drains (a parked record is dead-lettered after LEDGERSTREAM_PARK_DEADLINE_SECONDS)"
)


class DemoFailedError(RuntimeError):
    """The demo could not finish: it timed out or its worker stopped.

    Attributes:
        how: Why it stopped, for the final line.
        log_path: The worker's log, kept for the diagnosis.
        tail: Its last lines.

    """

    def __init__(self, message: str, *, how: str, worker: WorkerProcess) -> None:
        super().__init__(message)
        self.how = how
        self.log_path = worker.log_path
        self.tail = worker.tail()


@dataclass
class DemoSummary:
    """What a demo run did (the final JSON line of ``demo --once``).

    ``events_in`` and ``processed`` are totals over every event topic; the
    ``_by_topic`` maps split them, ``parked`` is how many records wait in the worker
    (not processed yet), and ``not_consumed`` names the topics events were published
    to that the worker does not consume.
    """

    events_in: int = 0
    processed: int = 0
    commands_out: int = 0
    dead_letters: int = 0
    held: int = 0
    unbalanced: int = 0
    events_per_second: float = 0.0
    seconds: float = 0.0
    events_in_by_topic: dict[str, int] = field(default_factory=dict)
    processed_by_topic: dict[str, int] = field(default_factory=dict)
    not_consumed: list[str] = field(default_factory=list)
    parked: int = 0

    def count_in(self, published: Counter[str]) -> None:
        """Add published events, per topic."""
        for topic, n in published.items():
            self.events_in_by_topic[topic] = self.events_in_by_topic.get(topic, 0) + n
        self.events_in_by_topic = dict(sorted(self.events_in_by_topic.items()))
        self.events_in = sum(self.events_in_by_topic.values())

    def count_processed(self, samples: Samples) -> None:
        """Set, from a worker's metrics, what ended per consumed topic, is held, is parked."""
        consumed = consumption(samples, EVENT_TOPICS)
        self.processed_by_topic = {
            topic: int(sum(n for outcome, n in outcomes.items() if outcome != _PARKED))
            for topic, outcomes in sorted(consumed.items())
        }
        self.processed = sum(self.processed_by_topic.values())
        self.held = int(sum(outcomes.get("held", 0) for outcomes in consumed.values()))
        self.parked = int(sum(v for (name, _), v in samples.items() if name == PARKED_RECORDS))

    def caught_up(self) -> bool:
        """Return True once every event of a consumed topic has ended or is parked.

        Per topic, counts beyond what was published (a redelivered batch counted
        twice) do not make up for another topic's missing ones.
        """
        published = ended = 0
        for topic, n in self.events_in_by_topic.items():
            if topic not in self.not_consumed:
                published += n
                ended += min(n, self.processed_by_topic.get(topic, 0))
        return ended + self.parked >= published


def is_balanced(command: dict[str, Any]) -> bool:
    """Check a decoded command independently: debits = credits, in both currencies."""
    totals = {
        ("DEBIT", "amount"): Decimal(0),
        ("CREDIT", "amount"): Decimal(0),
        ("DEBIT", "base_amount"): Decimal(0),
        ("CREDIT", "base_amount"): Decimal(0),
    }
    for line in command["lines"]:
        for column in ("amount", "base_amount"):
            totals[(line["side"], column)] += line[column]
    return all(totals[("DEBIT", c)] == totals[("CREDIT", c)] for c in ("amount", "base_amount"))


def publish(
    producer: RecordProducer,
    codec: AvroCodec,
    settings: Settings,
    records: Iterable[sample.SampleRecord],
) -> Counter[str]:
    """Encode (with the record's schema version, if it names one) and send; count per topic."""
    count: Counter[str] = Counter()
    for record in records:
        value = None
        if record.value is not None:
            encoded = codec.encode(record.topic, record.value, version=record.schema_version)
            value = sample.corrupt(encoded, record.corruption)
        producer.send(settings.topic(record.topic), record.key.encode(), value)
        count[record.topic] += 1
    return count


def consumption(samples: Samples, topics: Iterable[str]) -> dict[str, dict[str, float]]:
    """Return, per topic the worker consumes, its real records consumed so far by outcome.

    A topic is consumed when the worker exports any series for it (declared at 0
    on start); outcomes still at 0 and heartbeat canaries (``synthetic``) are left out.
    """
    wanted = set(topics)
    outcomes: dict[str, dict[str, float]] = {}
    for (name, labels), value in samples.items():
        tags = dict(labels)
        if name != EVENTS_CONSUMED or tags.get("topic") not in wanted:
            continue
        counts = outcomes.setdefault(tags["topic"], {})
        if value and tags["outcome"] != "synthetic":
            counts[tags["outcome"]] = value
    return outcomes


class _Live:
    """A one-line live summary on a terminal (a line every few seconds otherwise)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last = 0.0

    def show(self, summary: DemoSummary, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.5 if self._tty else 5.0):
            return
        self._last = now
        self._out.write(("\r" + live_line(summary)) if self._tty else (live_line(summary) + "\n"))
        self._out.flush()

    def stopped(self, summary: DemoSummary, how: str) -> None:
        """End with one line that says the demo stopped, and its last counts.

        Written to the output and, when that is not a terminal (``demo | tee``), to
        stderr too: Ctrl-C stops ``tee`` with the demo, and stderr still reaches
        the terminal.
        """
        line = f"stopped ({how}) after {summary.seconds:.0f}s: {live_line(summary)}"
        with contextlib.suppress(OSError):  # e.g. `make run | tee` lost its reader
            self._out.write(("\n" if self._tty else "") + line + "\n")
            self._out.flush()
        if not self._tty and self._out is not sys.stderr:
            with contextlib.suppress(OSError):
                sys.stderr.write(line + "\n")
                sys.stderr.flush()


def live_line(summary: DemoSummary) -> str:
    """Return the live summary: what went in, what came out, what waits."""
    return (
        f"events in {summary.events_in:>7} | processed {summary.processed:>7} | "
        f"commands out {summary.commands_out:>7} | dead letters {summary.dead_letters:>4} | "
        f"held {summary.held:>5} | parked {summary.parked:>4} | "
        f"unbalanced {summary.unbalanced} | {summary.events_per_second:>7.0f} events/s"
    )


def run_demo(
    settings: Settings,
    *,
    once: bool,
    events: int,
    rate: float,
    out: TextIO = sys.stdout,
    timeout: float = 600.0,
    month: bool = True,
) -> DemoSummary:
    """Run the demo; with ``once`` stop after the sample set, else run until Ctrl-C.

    The sample set is the mixed month (unless ``month`` is False), then ``events``
    time entries; live mode then keeps publishing time entries at ``rate`` a second.

    SIGTERM and SIGHUP (a closed terminal) stop it like Ctrl-C. The first of them
    starts an orderly stop (worker, then broker); later ones are ignored, so a
    second signal cannot cut the stop short and orphan the children.
    """
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        with cluster(settings) as live_settings:
            return _run(
                live_settings,
                once=once,
                events=events,
                rate=rate,
                out=out,
                timeout=timeout,
                month=month,
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(_signum: int, _frame: object) -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _start_worker(settings: Settings, out: TextIO) -> WorkerProcess:
    log_dir = Path(tempfile.mkdtemp(prefix="ledgerstream-demo-"))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "LEDGERSTREAM_PROFILE": "embedded" if settings.embedded_profile else "cluster",
        "LEDGERSTREAM_APP_ID": settings.app_id,
        "LEDGERSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "LEDGERSTREAM_DATA_DIR": str(log_dir / "data"),
    }
    worker = WorkerProcess(env, log_path=log_dir / "worker.log").start()
    out.write(
        f"worker starting (log: {worker.log_path}, "
        f"metrics: http://127.0.0.1:{worker.port}/metrics)\n"
    )
    return worker


def _stop_children(books: BooksProcess, worker: WorkerProcess) -> None:
    """Stop the books (after their batch in hand), then the worker."""
    books.stop()
    worker.stop()


@dataclass
class _Feed:
    """Publishes sample records (flushed), counting events in; numbers generated entries."""

    producer: RecordProducer
    codec: AvroCodec
    settings: Settings
    summary: DemoSummary
    generated: int = 0

    def send(self, records: Iterable[sample.SampleRecord]) -> Counter[str]:
        sent = publish(self.producer, self.codec, self.settings, records)
        self.producer.flush()
        return sent

    def events(self, records: Iterable[sample.SampleRecord]) -> None:
        self.summary.count_in(self.send(records))

    def entries(self, count: int) -> None:
        self.events(sample.time_entries(count, start=self.generated + 1))
        self.generated += count


def _run(  # noqa: PLR0915 - the demo's one loop; the month-end close adds two calls
    settings: Settings,
    *,
    once: bool,
    events: int,
    rate: float,
    out: TextIO,
    timeout: float,
    month: bool,
) -> DemoSummary:
    client = settings.kafka_client_config()
    summary = DemoSummary()
    feed = _Feed(RecordProducer(client), AvroCodec(schema_source(settings)), settings, summary)
    the_month = _prepare(feed, month=month)
    worker = _start_worker(settings, out)
    books = start_books(settings, out)  # the reference accounting sink (docs/books.md)
    reader = TopicReader(client, [settings.topic(COMMANDS), settings.topic(DLQ)])
    live = _Live(out)
    how = "finished" if once else "Ctrl-C"
    try:
        _wait_ready(worker)
        if not once:
            out.write(LIVE_PARKING_NOTE + "\n")
        consumed = consumption(worker.metrics(), EVENT_TOPICS)
        if the_month is not None:
            feed.events(the_month.events)
        feed.entries(events)
        summary.not_consumed = sorted(set(summary.events_in_by_topic) - set(consumed))
        closer = _closer(the_month, feed.codec, settings)
        started = time.monotonic()
        throughput = _Throughput(average=once)
        settled = Settled(PARKED_GRACE_SECONDS)
        while True:
            _drain(reader, feed.codec, settings, summary, closer=closer)
            summary.count_processed(worker.metrics())
            now = time.monotonic()
            if closer is not None and not once and closer.complete:
                closer.show(out)  # live: every command of the month is read; shown once
            if not settled.waiting:  # the rate of the sample set, not of the grace period
                summary.events_per_second = throughput.update(now, summary.processed)
            summary.seconds = now - started
            live.show(summary)
            if once and settled(summary, now):
                _drain_until_idle(reader, feed.codec, settings, summary, closer=closer)
                summary.count_processed(worker.metrics())  # parked records may have posted
                if closer is not None:
                    closer.show(out)
                break
            _check(worker, timeout=timeout if once else None, elapsed=now - started)
            if not once and rate > 0:
                # keep publishing at `rate`: whatever is due since the live phase began
                due = events + int(rate * (now - started)) - feed.generated
                if due > 0:
                    feed.entries(due)
    except KeyboardInterrupt:
        how = "Ctrl-C"
    except DemoFailedError as exc:
        how = exc.how
        raise
    finally:
        # children run in their own sessions (a Ctrl-C must not kill the broker
        # under the worker): stop them here, in order, before anything can fail
        _stop_children(books, worker)
        reader.close()
        live.stopped(summary, how)
    # the worker's log and state: kept only when something went wrong (raised above)
    shutil.rmtree(worker.log_path.parent, ignore_errors=True)
    return summary


def _closer(month: Month | None, codec: AvroCodec, settings: Settings) -> MonthEndClose | None:
    """Return the month-end close shown once the mixed month has posted (none without it)."""
    if month is None:
        return None
    return MonthEndClose(month, codec, settings)


def _prepare(feed: _Feed, *, month: bool) -> Month | None:
    """Create the topics and publish the reference data; return the month, if wanted."""
    settings = feed.settings
    ensure_topics(
        settings.kafka_client_config(),
        load_topic_specs(settings.topics_file),
        prefix=settings.topic_prefix,
        single_node=settings.embedded_profile,
    )
    the_month = mixed_month() if month else None
    feed.send([*sample.reference_records(), *(the_month.reference if the_month else ())])
    return the_month


def _check(worker: WorkerProcess, *, timeout: float | None, elapsed: float) -> None:
    """Raise if the demo ran out of time (``--once``) or its worker stopped."""
    if timeout is not None and elapsed > timeout:
        raise DemoFailedError(
            f"demo did not finish in {timeout:g}s (--timeout)", how="timed out", worker=worker
        )
    if not worker.running:
        raise DemoFailedError("the worker stopped", how="worker stopped", worker=worker)


def _wait_ready(worker: WorkerProcess) -> None:
    try:
        worker.wait_ready()
    except (RuntimeError, TimeoutError) as exc:
        message = str(exc).splitlines()[0]
        raise DemoFailedError(message, how="worker did not start", worker=worker) from exc


class Settled:
    """When ``--once`` may stop: every event ended or is parked, and parked ones had time."""

    def __init__(self, grace: float) -> None:
        """Give parked records ``grace`` seconds to post after the rest caught up."""
        self._grace = grace
        self._since: float | None = None

    @property
    def waiting(self) -> bool:
        """True while the rest has caught up and parked records are given time."""
        return self._since is not None

    def __call__(self, summary: DemoSummary, now: float) -> bool:
        """Return True once caught up with nothing parked, or parked for ``grace`` seconds."""
        if not summary.caught_up():
            self._since = None
            return False
        if self._since is None:
            self._since = now
        return not summary.parked or now - self._since >= self._grace


class _Throughput:
    """Events per second: averaged over the sample set, or over the last seconds live."""

    def __init__(self, *, average: bool) -> None:
        self._average = average
        self._first: float | None = None
        self._recent: deque[tuple[float, int]] = deque()

    def update(self, now: float, processed: int) -> float:
        if processed and self._first is None:
            self._first = now
        self._recent.append((now, processed))
        while now - self._recent[0][0] > RATE_WINDOW_SECONDS:
            self._recent.popleft()
        if self._average:
            if self._first is None or now <= self._first:
                return 0.0
            return processed / (now - self._first)
        since, then = self._recent[0]
        return (processed - then) / (now - since) if now > since else 0.0


def _drain(
    reader: TopicReader,
    codec: AvroCodec,
    settings: Settings,
    summary: DemoSummary,
    *,
    closer: MonthEndClose | None = None,
) -> int:
    records = reader.poll(timeout=0.2, max_records=5000)
    for record in records:
        if record.topic == settings.topic(DLQ):
            summary.dead_letters += 1
            continue
        summary.commands_out += 1
        command = None if record.value is None else codec.decode(COMMANDS, record.value).record
        if command is None or not is_balanced(command):
            summary.unbalanced += 1
        elif closer is not None:
            closer.see(command)
    return len(records)


def _drain_until_idle(
    reader: TopicReader,
    codec: AvroCodec,
    settings: Settings,
    summary: DemoSummary,
    idle_seconds: float = 2.0,
    *,
    closer: MonthEndClose | None = None,
) -> None:
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < idle_seconds:
        if _drain(reader, codec, settings, summary, closer=closer):
            idle_since = time.monotonic()


def summary_json(summary: DemoSummary) -> str:
    """Render the final machine-readable line of a demo run."""
    data = asdict(summary)
    data["events_per_second"] = round(summary.events_per_second, 1)
    data["seconds"] = round(summary.seconds, 2)
    return json.dumps(data, sort_keys=True)
