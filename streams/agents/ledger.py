"""Stage 2: the ledgers: the table of what was posted, parking, pause, corrections.

Reads ``ledgerstream.ledger-events`` (keyed by ledger unit, entity + customer and
so on: ``streams.domain.routing``) and posts every record with ``post_event``
against the posted-records table: a file of this worker
(``streams.adapters.state_store``; memory holds a bounded cache of decoded rows),
written after its own compacted changelog acknowledged each batch, and brought up
to that changelog's end when a partition is assigned, before any of its records
is processed (the tail after the file's checkpoint; see ``register``):

- a new version REVERSEs what the previous one posted and POSTs anew; the same or an
  older version posts nothing (a redelivery or a replay: effectively once); a
  tombstone reverses; a replay under new rules REVERSE+POSTs only what changed;
- a record waiting for something (a customer, project or FX rate that has not
  arrived, an entry not posted yet) is **parked** in the table, behind which later
  records of the same source id queue in order. Parked records are retried with
  bounded exponential backoff, at once when reference data or toggles change, and
  dead-lettered (retryable, with attempts and first/last failure) past the deadline;
- records of an entity whose kill switch is on are parked until it is turned off
  (intercompany time: either entity it posts in);
- a record whose version posts under another key than its earlier one (its project
  moved to another entity or customer) sends a relocation notice to every other
  partition; the one holding the earlier version reverses it there;
- a record read again at the same source position (a redelivery, a replay) that is
  parked, or that ended held or dead-lettered under the same rule version, produces
  nothing new (counted skipped).

Ordering for effectively-once: a batch's commands are sent and **delivered** before
the table's changelog records them, and both are acknowledged before the next batch
is taken (so before any offset of the batch can be committed). A crash in between
makes the worker post the same records again on restart, with the same command ids
(a re-send the sink dedups); a crash after it finds them posted and sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from time import monotonic, perf_counter
from typing import Any, Final

from cachetools import LRUCache

from streams.adapters.dlq import SourceRecord
from streams.adapters.heartbeat import is_synthetic, post_canary
from streams.adapters.metrics import Outcome
from streams.adapters.parking import PARKED_PREFIX, Parked, decode_queue, encode_queue
from streams.adapters.state_store import (
    INTENT_KEY,
    ChangelogRecovery,
    RawWrite,
    ReadChangelog,
    StateStore,
    encode_intent,
    recover,
)
from streams.adapters.table_rows import encode_row, row_decoder
from streams.agents.records import source_record
from streams.agents.route import LEDGER_TOPIC, decode_event, forward, relocated_to, source_of
from streams.agents.runtime import COMMANDS_TOPIC, SHADOW_TOPIC, Deliver, Handled, Output, Runtime
from streams.domain.commands import PostLedgerEntry, SourceRef
from streams.domain.exceptions import MissingReferenceError, TransientError, UnpostedSourceError
from streams.domain.feedback import SyncFeedback
from streams.domain.posted import Balance, InvoicePosting, PostedLedger, PostedRecord, record_key
from streams.domain.posting import (
    EVENT_TOPICS,
    SourceEvent,
    Step,
    identity,
    post_deletion,
    post_event,
    post_relocation,
)
from streams.domain.routing import ledger_route, relocation_notice_needed
from streams.domain.rules.outcome import Held, Posted
from streams.domain.summary import SummaryRow, revise, window_of
from streams.domain.toggles import Sink, sink_for

__all__ = ["FEEDBACK_TOPIC", "LedgerStage", "Parked", "ParkingPolicy", "register"]

_log = logging.getLogger(__name__)

FEEDBACK_TOPIC: Final = "pm.sync-feedback"
#: Records per stage-2 batch at most: its intent record (about 2 KB a record) must
#: stay below Kafka's 1 MB message limit.
MAX_BATCH: Final = 100
#: Decoded rows kept in memory at most (the table itself is on disk).
CACHE_ROWS: Final = 10_000
_MODELS: Final[dict[str, Callable[[bytes], object]]] = {
    "records": row_decoder(PostedRecord),
    "balances": row_decoder(Balance),
    "invoices": row_decoder(InvoicePosting),
    "billed": bytes.decode,
    "credited": bytes.decode,
}
#: Sync cadence SUMMARY: a window's row, and its member commands' rows (by command id).
SUMMARY_PREFIX: Final = b"summary|"
MEMBER_PREFIX: Final = "summarymember|"
#: How often a worker without SUMMARY entities flushes windows left from an earlier cadence.
ORPHAN_FLUSH_SECONDS: Final = 60.0
_summary_row = row_decoder(SummaryRow)
_member_row = row_decoder(PostLedgerEntry)
#: An entity's kill switch is not a failure: its records wait with this code.
PAUSED: Final = "ENTITY_PAUSED"


@dataclass(frozen=True, slots=True)
class ParkingPolicy:
    """How long parked records wait, and how often they are retried."""

    deadline: timedelta = timedelta(hours=24)
    first_retry: timedelta = timedelta(seconds=1)
    max_retry: timedelta = timedelta(minutes=5)

    def next_retry(self, attempts: int, now: datetime) -> datetime:
        """Bounded exponential backoff: first_retry x 2^(attempts-1), at most max_retry.

        In float seconds: a record retried after every posting batch reaches
        hundreds of attempts, and 2^47 s no longer fits a ``timedelta``.
        """
        grown = self.first_retry.total_seconds() * 2.0 ** min(max(attempts - 1, 0), 1000)
        return now + timedelta(seconds=min(grown, self.max_retry.total_seconds()))


_Queue = tuple[Parked, ...]
#: One table change: partition, key, stored bytes (None: deleted), decoded value.
Write = tuple[int, bytes, bytes | None, object | None]


class _ParkingError(Exception):
    """Raised inside a handler: park the record with this error (not a dead letter)."""

    def __init__(self, error: Exception, code: str, *, paused: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.code = code
        self.paused = paused


@dataclass(slots=True)
class _View:
    """One partition's state during a batch: the ledger overlay and the parked queues."""

    partition: int
    ledger: PostedLedger
    queues: dict[str, _Queue | None] = field(default_factory=dict)
    #: Commands sent to the shadow topic (by id): a reversal follows its original there.
    shadowed: dict[str, bool] = field(default_factory=dict)
    #: Source positions whose record ended held or dead-lettered: ``ended_key`` -> how.
    ended: dict[bytes, str] = field(default_factory=dict)
    posted: bool = False
    #: Summary windows and members changed in this batch: key -> (value, or None: deleted).
    summary: dict[bytes, object | None] = field(default_factory=dict)


class LedgerStage:
    """Stage-2 processing over the posted-records table of the partitions it owns.

    Synchronous and broker-free, so that it can be tested without Kafka: the
    table is a ``StateStore`` (on disk in a worker, in memory by default);
    ``load`` takes a partition over, ``run`` and ``retry`` return the outputs to
    send and the writes to ``apply`` once they (and ``changelog``'s records) are
    delivered.
    """

    def __init__(
        self,
        rt: Runtime,
        *,
        store: StateStore | None = None,
        policy: ParkingPolicy = ParkingPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        partitions: int = 1,
        cache_rows: int = CACHE_ROWS,
        summary_entities: frozenset[str] = frozenset(),
    ) -> None:
        self.rt = rt
        #: Entities synced at cadence SUMMARY: their commands wait in windows (``flush``).
        self.summary_entities = summary_entities
        #: Partitions of the stage-2 topic: a relocation notice goes to every other one.
        self.partitions = partitions
        self.policy = policy
        self.clock = clock
        #: The table: per stage-2 partition, key -> stored bytes (and its checkpoint).
        self.store = StateStore() if store is None else store
        #: Decoded rows, per (partition, key), bounded: a tombstone's source id is looked
        #: up in every partition, and only the one that posted it may find it.
        self._cache: LRUCache[tuple[int, bytes], object] = LRUCache(maxsize=cache_rows)
        #: Parked source records per owned partition (few: kept whole in memory).
        self._index: dict[int, set[str]] = {}
        self._views: dict[int, _View] = {}

    # -- the store -------------------------------------------------------------------

    def load(self, partition: int, rows: dict[bytes, bytes] | None = None) -> list[Write]:
        """Take over a partition whose table is in the store (``rows``: read here whole).

        ``rows``, a partition's changelog read whole as key -> bytes, replaces what
        the store held; its last intent record (see ``changelog``) is applied on top
        (``ChangelogRecovery``): if its owner died while writing that batch's rows,
        the rows it missed are restored, so a batch is in the table whole or not at all.

        Returns:
            The rows the intent restored, which the caller must write to the
            changelog as rows before this partition's next intent: that intent
            replaces the old one, and a later owner would lose them (measured:
            the crash test missed 4 REVERSE commands after two restarts).

        """
        restored: list[RawWrite] = []
        if rows is not None:
            self.store.clear(partition)
            recovery = ChangelogRecovery(self.store, partition)
            recovery.apply(rows.items())
            restored = recovery.restored()
            recovery.finish(0, restored)
        self._cache.clear()
        self._index[partition] = {
            key.decode().split("|", 2)[2] for key in self.store.keys(partition, PARKED_PREFIX)
        }
        return [(p, key, raw, None) for p, key, raw in restored]

    def drop(self, partition: int) -> None:
        """Forget a partition this worker no longer owns (its rows stay on disk)."""
        self._index.pop(partition, None)
        self._cache.clear()

    def rows(self, partition: int) -> dict[bytes, bytes]:
        """Return a partition's table as stored (key -> bytes)."""
        return self.store.rows(partition)

    def owned(self) -> set[int]:
        """Return the partitions whose table this stage holds."""
        return set(self._index)

    def _get(self, key: bytes, decode: Callable[[bytes], object], partition: int) -> object | None:
        try:
            return self._cache[partition, key]
        except KeyError:
            raw = self.store.get(partition, key)
            value = None if raw is None else decode(raw)
            self._cache[partition, key] = value
            return value

    def _lookup(self, partition: int, name: str, key: str) -> object | None:
        return self._get(f"{name}|{key}".encode(), _MODELS[name], partition)

    def _queue(self, partition: int, name: str) -> _Queue:
        view = self._views[partition]
        if name in view.queues:
            return view.queues[name] or ()
        found = self._get(f"parked|{partition}|{name}".encode(), decode_queue, partition)
        return found if isinstance(found, tuple) else ()

    def parked(self) -> dict[int, set[str]]:
        """Return the parked source records per owned partition."""
        return self._index

    def _view(self, partition: int) -> _View:
        view = self._views.get(partition)
        if view is None:
            ledger = PostedLedger.over(lambda name, key: self._lookup(partition, name, key))
            view = self._views[partition] = _View(partition, ledger)
        return view

    def apply(self, writes: Sequence[Write]) -> None:
        """Record a batch's changes in the table (once they are in its changelog)."""
        self.store.write((partition, key, raw) for partition, key, raw, _ in writes)
        for partition, key, raw, value in writes:
            self._cache[partition, key] = value
            if key.startswith(PARKED_PREFIX):
                name = key.decode().split("|", 2)[2]
                names = self._index.setdefault(partition, set())
                if raw is None:
                    names.discard(name)
                else:
                    names.add(name)

    @staticmethod
    def changelog(topic: str, writes: Sequence[Write]) -> tuple[list[Output], list[Output]]:
        """Return a batch's changelog records: one intent per partition, then its rows.

        Kafka appends one record atomically, not a batch of them: the intent (all of
        the batch's rows of a partition in one record, written and acknowledged
        first) makes a batch's table changes all-or-nothing across a crash (``load``).
        """
        rows: dict[int, dict[bytes, bytes | None]] = {}
        for partition, key, raw, _ in writes:
            rows.setdefault(partition, {})[key] = raw
        intents = [
            Output(topic, INTENT_KEY, encode_intent(r.items()), [], p) for p, r in rows.items()
        ]
        return intents, [Output(topic, key, raw, [], p) for p, key, raw, _ in writes]

    def _writes(self) -> list[Write]:
        writes: list[Write] = []
        for partition, view in sorted(self._views.items()):
            for name, changes in view.ledger.changes().items():
                for key, value in changes.items():
                    raw = None if value is None else encode_row(value)
                    writes.append((partition, f"{name}|{key}".encode(), raw, value))
            for name, queue in view.queues.items():
                raw = encode_queue(queue) if queue else None
                writes.append(
                    (partition, f"parked|{partition}|{name}".encode(), raw, queue or None)
                )
            for command_id, shadow in view.shadowed.items():
                marker = f"shadow|{command_id}".encode()
                writes.append((partition, marker, b"1" if shadow else None, shadow or None))
            for position, ending in view.ended.items():
                writes.append((partition, position, ending.encode(), ending))
            for row_key, row in view.summary.items():
                encoded = None if row is None else encode_row(row)
                writes.append((partition, row_key, encoded, row))
        self._views.clear()
        return writes

    # -- processing ------------------------------------------------------------------

    def run(self, records: Iterable[tuple[int, SourceRecord]]) -> tuple[list[Output], list[Write]]:
        """Process stage-2 records ``(partition, record)`` in order; then retry what they unblocked.

        Returns:
            The outputs to send (commands, feedback, re-routed records, dead letters)
            and the writes to ``apply`` once those are delivered.

        """
        outputs: list[Output] = []
        for partition, record in records:
            self._view(partition)
            handler = self.handler(partition, record.key)
            outputs += self.rt.process(source_of(record), handler, consumed=record)
        for partition, view in list(self._views.items()):
            if view.posted:
                outputs += self._retry(partition, lambda p: p.code == UnpostedSourceError.code)
        return outputs, self._writes()

    def retry(self, partitions: Iterable[int], *, wake: bool) -> tuple[list[Output], list[Write]]:
        """Retry parked records that are due (``wake``: all of them, e.g. new reference data)."""
        now = self.clock()
        outputs: list[Output] = []
        for partition in sorted(partitions):
            if self.parked().get(partition):
                self._view(partition)
                outputs += self._retry(
                    partition,
                    lambda p: wake or (p.retry_at is not None and p.retry_at <= now),
                )
        return outputs, self._writes()

    def _retry(self, partition: int, due: Callable[[Parked], bool]) -> list[Output]:
        outputs: list[Output] = []
        view = self._view(partition)
        names = set(self.parked().get(partition, ())) | {n for n, q in view.queues.items() if q}
        for name in sorted(names):
            queue = self._queue(partition, name)
            if not queue or not due(queue[0]):
                continue
            view.queues[name] = ()  # drain: each record goes through the handler again
            for position, parked in enumerate(queue):
                if self._queue(partition, name):  # an earlier one parked again: keep order
                    view.queues[name] = self._queue(partition, name) + queue[position:]
                    break
                handler = self.handler(partition, parked.routed_key, parked)
                outputs += self.rt.process(parked.record(), handler, read_now=False)
        return outputs

    def handler(
        self, partition: int, routed_key: bytes | None, previous: Parked | None = None
    ) -> Callable[[SourceRecord], Handled]:
        """Return the handler of one stage-2 record (for ``Runtime.process``)."""
        self._view(partition)
        return lambda record: self._handle(partition, record, routed_key, previous)

    def _handle(
        self,
        partition: int,
        record: SourceRecord,
        routed_key: bytes | None,
        previous: Parked | None = None,
    ) -> Handled:
        """Post, park or queue a record; remember where it ended held or dead-lettered.

        Read again (a redelivery after a restart, a replay) a record that ended held
        or dead-lettered under these rules, or that is parked, produces nothing new.
        """
        view = self._views[partition]
        if previous is None and self._ended(view, record):
            return Outcome.SKIPPED, []
        try:
            outcome, outputs = self._take(view, record, routed_key, previous)
        except Exception:  # Runtime.process dead-letters it
            self._end(view, record, Outcome.DEAD_LETTERED)
            raise
        if outcome in (Outcome.HELD, Outcome.DEAD_LETTERED):
            self._end(view, record, outcome)
        return outcome, outputs

    def _ended(self, view: _View, record: SourceRecord) -> bool:
        key = _ended_key(record)
        ending = view.ended.get(key)
        if ending is None:  # asked of every record read: not cached, misses would crowd it
            raw = self.store.get(view.partition, key)
            ending = None if raw is None else raw.decode()
        return ending is not None and ending.split("|", 1)[0] == self.rt.rule_version

    def _end(self, view: _View, record: SourceRecord, outcome: Outcome) -> None:
        if not is_synthetic(record):  # a canary's outputs are dropped, never ended
            view.ended[_ended_key(record)] = f"{self.rt.rule_version}|{outcome.value}"

    def _take(
        self, view: _View, record: SourceRecord, routed_key: bytes | None, previous: Parked | None
    ) -> Handled:
        topic = self.rt.logical(record.topic)
        if record.value is None:
            return self._delete(view, topic, record)
        event: SourceEvent | None = None
        try:
            decoded = decode_event(self.rt, record)
        except TransientError as exc:  # e.g. the registry is down: wait, keyed as sent
            waiting = _ParkingError(exc, exc.code)
            name = record_key(EVENT_TOPICS[topic][0], (record.key or b"").decode())
        else:
            event = decoded
            kind, source_id, _ = identity(decoded)
            name = record_key(kind, source_id)
        queue = self._queue(view.partition, name) if previous is None else ()
        if any(parked.holds(record) for parked in queue):  # redelivered: parked already
            return Outcome.SKIPPED, []
        if queue:
            return self._park(
                view, name, record, routed_key=routed_key, previous=None, parking=None
            )
        try:
            if event is None:
                raise waiting
            return self._post(view, event, record, routed_key)
        except _ParkingError as parking:
            if self.rt.synthetic:  # a canary never waits: a heartbeat failure
                raise parking.error from parking
            return self._park(
                view, name, record, routed_key=routed_key, previous=previous, parking=parking
            )

    def _post(
        self, view: _View, event: SourceEvent, record: SourceRecord, routed_key: bytes | None
    ) -> Handled:
        rt = self.rt
        book = rt.current_book
        kind, source_id, version = identity(event)
        source = _source(record, kind, source_id, version, event.recorded_at)
        moved_to = relocated_to(record)
        if moved_to is not None:
            return self._relocate(view, event, record, source, moved_to)
        try:
            route = ledger_route(event, book)
        except MissingReferenceError as exc:
            raise _ParkingError(exc, exc.code) from exc
        if routed_key != route.key.encode():  # first read before its project was known
            return Outcome.ROUTED, [forward(rt, record, route.key.encode())]
        _pause(route.paused_by(rt.toggles.paused_entities))
        if rt.synthetic:  # a canary: posted against no table, its commands to the shadow only
            commands = post_canary(event, book, source=source, rule_version=rt.rule_version)
            return Outcome.SYNTHETIC, [rt.command_output(c, record, Sink.SHADOW) for c in commands]
        live = view.ledger.live(kind, source_id)
        notice = relocation_notice_needed(version, kind, source_id, view.ledger)
        try:
            step = post_event(
                view.ledger,
                event,
                book,
                source=source,
                rule_version=rt.rule_version,
                locks=rt.toggles.period_locks(),
            )
        except TransientError as exc:
            raise _ParkingError(exc, exc.code) from exc
        outcome, outputs = self._outputs(view, step, record, live)
        if notice and isinstance(step.outcome, Posted):  # an earlier version may live elsewhere
            outputs += [
                forward(rt, record, route.key.encode(), p, relocated_to=route.key)
                for p in range(self.partitions)
                if p != view.partition
            ]
        return outcome, outputs

    def _relocate(
        self,
        view: _View,
        event: SourceEvent,
        record: SourceRecord,
        source: SourceRef,
        moved_to: str,
    ) -> Handled:
        """Reverse an earlier version posted here of a record now posted under ``moved_to``."""
        kind, source_id, _ = identity(event)
        live = view.ledger.live(kind, source_id)
        paused = self.rt.toggles.paused_entities
        _pause(
            next((c.entity_id for c in live.commands if c.entity_id in paused), None)
            if live
            else None
        )
        try:  # billed here: wait until credited, then reverse (or dead-letter past the deadline)
            step = post_relocation(
                view.ledger,
                event,
                source=source,
                rule_version=self.rt.rule_version,
                moved_to=moved_to,
                locks=self.rt.toggles.period_locks(),
            )
        except TransientError as exc:
            raise _ParkingError(exc, exc.code) from exc
        _, outputs = self._outputs(view, step, record)
        # counted where the record posted: the notices are not separate records
        return Outcome.ROUTED, outputs

    def _delete(self, view: _View, topic: str, record: SourceRecord) -> Handled:
        """Reverse a deleted record (a tombstone reaches every partition; one posted it)."""
        source_id = (record.key or b"").decode()
        kind = EVENT_TOPICS[topic][0]
        source = _source(record, kind, source_id, 1, _timestamp(record))
        known = view.ledger.record(kind, source_id) is not None  # posted here (maybe deleted)
        step = post_deletion(
            view.ledger,
            source=source,
            rule_version=self.rt.rule_version,
            locks=self.rt.toggles.period_locks(),
        )
        outcome, outputs = self._outputs(view, step, record)
        # counted where its record was posted (read again by a replay: skipped there);
        # the copies elsewhere are not separate records
        skipped_elsewhere = outcome is Outcome.SKIPPED and not known
        return (Outcome.ROUTED if skipped_elsewhere else outcome), outputs

    def _outputs(
        self, view: _View, step: Step, record: SourceRecord, live: PostedRecord | None = None
    ) -> Handled:
        """Send a step's commands (each to its sink) and feedback; promote on a replay.

        A command goes where ``sink_for`` says (pilot, dry-run), and the table
        remembers those sent to the shadow topic: a REVERSE goes where its original
        went, and a replayed record whose commands were shadowed but would now post
        for real sends them, same ids, to the real sink (a pilot widened, dry-run
        turned off, then a replay).
        """
        view.ledger = step.ledger
        outputs = [self._feedback(feedback, record) for feedback in step.feedback]
        if isinstance(step.outcome, Held):
            return Outcome.HELD, outputs
        if isinstance(step.outcome, Posted):
            view.posted = True
            sent = [self._send(view, c, record) for c in step.outcome.commands]
            return Outcome.POSTED, [c for c in sent if c is not None] + outputs
        promoted = [
            out
            for c in (live.commands if live is not None else ())
            if self._shadowed(view, c.command_id) and sink_for(c, self.rt.toggles) is Sink.REAL
            for out in [self._send(view, c, record, promote=True)]
            if out is not None
        ]
        return (Outcome.POSTED if promoted else Outcome.SKIPPED), promoted

    def _shadowed(self, view: _View, command_id: str) -> bool:
        if command_id in view.shadowed:
            return view.shadowed[command_id]
        return self._get(f"shadow|{command_id}".encode(), bool, view.partition) is not None

    def _send(
        self, view: _View, command: PostLedgerEntry, record: SourceRecord, *, promote: bool = False
    ) -> Output | None:
        if command.entity_id in self.summary_entities and not self.rt.synthetic:
            self._summarise(view, command)
            return None
        if promote:
            sink = Sink.REAL
        elif command.reverses is not None:
            shadow = self._shadowed(view, command.reverses)
            sink = Sink.SHADOW if shadow else Sink.REAL
            if shadow:
                view.shadowed[command.reverses] = False  # reversed: nothing left to promote
        else:
            sink = sink_for(command, self.rt.toggles)
        if command.reverses is None:
            view.shadowed[command.command_id] = sink is Sink.SHADOW
        return self.rt.command_output(command, record, sink)

    # -- sync cadence SUMMARY ------------------------------------------------------------

    def _stored(self, view: _View, key: bytes, decode: Callable[[bytes], object]) -> object | None:
        if key in view.summary:
            return view.summary[key]
        raw = self.store.get(view.partition, key)
        return None if raw is None else decode(raw)

    def _summarise(self, view: _View, command: PostLedgerEntry) -> None:
        """Keep a SUMMARY entity's command in its window (a REVERSE cancels its original)."""
        window = window_of(command)
        name = window.name()
        original = f"{MEMBER_PREFIX}{name}|{command.reverses}".encode()
        if command.reverses is not None and self._stored(view, original, _member_row):
            view.summary[original] = None
        else:
            view.summary[f"{MEMBER_PREFIX}{name}|{command.command_id}".encode()] = command
        key = SUMMARY_PREFIX + name.encode()
        row = self._stored(view, key, _summary_row)
        current = row if isinstance(row, SummaryRow) else SummaryRow.of(window)
        view.summary[key] = current.model_copy(update={"dirty": True})

    def flush(
        self, partitions: Iterable[int], entities: Iterable[str] | None = None
    ) -> tuple[list[Output], list[Write]]:
        """Summarise every changed window of these partitions (sync cadence SUMMARY).

        A window whose summary was sent and changed since sends its REVERSE, then the
        new summary; the table then records what was sent (after delivery, as for a batch).
        ``entities``: only their windows (default: every SUMMARY entity's). The windows
        of an entity that is no longer SUMMARY (its cadence changed to REALTIME) are
        always flushed, so nothing it held stays unsent.
        """
        due = self.summary_entities if entities is None else frozenset(entities)
        locks = self.rt.toggles.period_locks()
        outputs: list[Output] = []
        for partition in sorted(partitions):
            view = self._view(partition)
            for key in self.store.keys(partition, SUMMARY_PREFIX):
                row = self._stored(view, key, _summary_row)
                if not isinstance(row, SummaryRow) or not row.dirty:
                    continue
                if row.entity_id not in due and row.entity_id in self.summary_entities:
                    continue
                prefix = f"{MEMBER_PREFIX}{key[len(SUMMARY_PREFIX) :].decode()}|".encode()
                members = {}
                for member_key in self.store.keys(partition, prefix):
                    member = self._stored(view, member_key, _member_row)
                    if isinstance(member, PostLedgerEntry):
                        members[member.command_id] = member
                sent, revised = revise(row.window(), members, row.sent, self.rt.rule_version)
                commands = locks.placed_all(revised)  # never into a closed period
                if sent is not None and commands and commands[-1].command_id == sent.command_id:
                    sent = commands[-1]  # kept as sent: its reversal mirrors where it went
                outputs += [self._summary_output(c) for c in commands]
                view.summary[key] = (
                    None if sent is None else row.model_copy(update={"sent": sent, "dirty": False})
                )
        return outputs, self._writes()

    def _summary_output(self, command: PostLedgerEntry) -> Output:
        real = sink_for(command, self.rt.toggles) is Sink.REAL
        value = self.rt.codec.encode(COMMANDS_TOPIC, command.model_dump())
        self.rt.metrics.count_command(str(command.action))
        topic = self.rt.topic(COMMANDS_TOPIC if real else SHADOW_TOPIC)
        return Output(topic, command.entity_id.encode(), value)

    def _feedback(self, feedback: SyncFeedback, record: SourceRecord) -> Output:
        value = self.rt.codec.encode(FEEDBACK_TOPIC, feedback.model_dump())
        topic = self.rt.topic(FEEDBACK_TOPIC)
        headers = self.rt.traced(list(record.headers))
        return Output(topic, feedback.source_id.encode(), value, headers)

    def _park(
        self,
        view: _View,
        name: str,
        record: SourceRecord,
        *,
        routed_key: bytes | None,
        previous: Parked | None,
        parking: _ParkingError | None,
    ) -> Handled:
        """Park a record (``parking``: why), or queue it behind its source's parked ones.

        Past the deadline a record is dead-lettered instead (retryable, with its
        attempts and first failure); a paused entity's records never expire.
        """
        now = self.clock()
        attempts = 1 if previous is None else previous.attempts + 1
        first = now if previous is None else previous.first_failed_at
        if parking is not None and not parking.paused and now - first >= self.policy.deadline:
            letter = self.rt.dead_letter(
                record, parking.error, attempts=attempts, first_failed_at=first
            )
            return Outcome.DEAD_LETTERED, [letter]
        if parking is None:
            code, message, retry_at = "QUEUED", "behind an earlier parked version", None
        else:
            code, message = parking.code, str(parking.error)
            retry_at = (
                None
                if parking.paused
                else min(self.policy.next_retry(attempts, now), first + self.policy.deadline)
            )
        parked = Parked(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers),
            timestamp_ms=record.timestamp_ms,
            routed_key=routed_key,
            code=code,
            message=message,
            attempts=attempts if parking is not None else 0,
            first_failed_at=first,
            last_failed_at=now,
            retry_at=retry_at,
        )
        view.queues[name] = (*self._queue(view.partition, name), parked)
        return (Outcome.PARKED if previous is None else Outcome.WAITING), []


def _pause(entity: str | None) -> None:
    """Park the record while ``entity``, one it posts in, is paused."""
    if entity is not None:
        error = TransientError(f"entity {entity} is paused (kill_switch/{entity})")
        raise _ParkingError(error, PAUSED, paused=True)


def _source(
    record: SourceRecord, kind: str, source_id: str, version: int, event_time: datetime
) -> SourceRef:
    return SourceRef(
        system="pm",
        type=kind,
        id=source_id,
        version=version,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        event_time=event_time,
    )


def _ended_key(record: SourceRecord) -> bytes:
    """Name a source position in the table: ``ended|<topic>|<partition>|<offset>``."""
    return f"ended|{record.topic}|{record.partition}|{record.offset}".encode()


def _timestamp(record: SourceRecord) -> datetime:
    millis = record.timestamp_ms or 0
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _flush_timer(  # noqa: PLR0917 - the pieces of register() the timer shares
    app: Any,
    rt: Runtime,
    stage: LedgerStage,
    lock: asyncio.Lock,
    commit: Callable[[Callable[[], tuple[list[Output], list[Write]]]], Awaitable[None]],
    ready: asyncio.Event,
    cadence: dict[str, float],
) -> None:
    """Declare the timer that flushes the SUMMARY entities' windows, each at its cadence."""
    flushed = dict.fromkeys(cadence, monotonic())

    @app.timer(interval=min(cadence.values()))
    async def flush_summaries() -> None:
        """Send the changed summary windows of the entities due (cadence SUMMARY)."""
        if not ready.is_set() or not rt.posting.is_set():
            return
        now = monotonic()
        due = [e for e, every in cadence.items() if now - flushed[e] >= every * 0.99]
        if not due:
            return
        async with lock:
            await commit(partial(stage.flush, stage.owned(), due))
        flushed.update(dict.fromkeys(due, now))


def _batches(events: Iterable[Any]) -> Iterator[tuple[int, SourceRecord]]:
    for event in events:
        message = event.message
        yield message.partition, source_record(message)


#: Lists the changelog's end offsets of some partitions.
EndOffsets = Callable[[Sequence[int]], Awaitable[dict[int, int]]]


def _follow_assignments(
    app: Any,
    topic: str,
    lock: asyncio.Lock,
    stage: LedgerStage,
    *,
    take: Callable[[int], Awaitable[None]],
    fail: Callable[[BaseException], None],
) -> None:
    """Take over each newly assigned partition (``take``) before its records flow."""

    async def take_over(_app: Any, *args: Any, **_: Any) -> None:
        assigned = {tp.partition for tp in (args[0] if args else ()) if tp.topic == topic}
        async with lock:
            try:
                for partition in sorted(stage.owned() - assigned):
                    stage.drop(partition)
                for partition in sorted(assigned - stage.owned()):
                    await take(partition)
            except Exception as exc:  # processing without the table would post twice
                fail(exc)
                raise

    async def let_go(_app: Any, *args: Any, **_: Any) -> None:
        """Stop checkpointing revoked partitions at once: their next owner writes to them."""
        revoked = {tp.partition for tp in (args[0] if args else ()) if tp.topic == topic}
        async with lock:
            for partition in revoked:
                stage.drop(partition)

    app.on_partitions_assigned.connect(take_over)
    app.on_partitions_revoked.connect(let_go)


def register(
    app: Any,
    rt: Runtime,
    *,
    deliver: Deliver,
    ready: asyncio.Event,
    batch_size: int,
    within: float,
    state_topic: str,
    store: StateStore,
    read_state: ReadChangelog,
    end_offsets: EndOffsets,
    policy: ParkingPolicy,
    retry_interval: float,
    partitions: int = 1,
    checkpoint_interval: float = 10.0,
    cache_rows: int = CACHE_ROWS,
    summary_cadence: dict[str, float] | None = None,
) -> LedgerStage:
    """Declare the stage-2 agent, the recovery of its table and the parked-record retry timer.

    The table is ``store`` (a file of this worker, see ``streams.adapters.state_store``),
    not a Faust table: its changelog (``state_topic``, compacted, one partition per
    stage-2 partition) is written here, after the commands, and a newly assigned
    partition's rows are brought up to the changelog's end by ``read_state``
    before any of its records is processed: only the tail after the file's
    checkpoint, or all of it without one. (Faust's own table recovery lost stream
    records queued around it on the embedded broker: 149-338 records per restart,
    measured; a loader reading the changelog itself did not.)
    """
    cadence = summary_cadence or {}
    stage = LedgerStage(
        rt,
        store=store,
        policy=policy,
        cache_rows=cache_rows,
        partitions=partitions,
        summary_entities=frozenset(cadence),
    )
    lock = asyncio.Lock()
    topic = rt.topic(LEDGER_TOPIC)
    histogram = rt.metrics.batch_seconds.labels(topic=LEDGER_TOPIC)
    seen = {"changes": rt.changes}
    failed: list[BaseException] = []

    async def commit(work: Callable[[], tuple[list[Output], list[Write]]]) -> None:
        """Run a batch (or a retry); deliver its outputs, then its table changes, all acked."""
        try:
            outputs, writes = work()
            await deliver(outputs)
            for step in stage.changelog(state_topic, writes):  # intents, then the rows
                await deliver(step)
            stage.apply(writes)
        except Exception as exc:  # never ack a batch whose effects were not stored
            fail(exc)
            raise

    async def rewrite(restored: list[RawWrite]) -> None:  # its last owner died writing them
        await deliver(stage.changelog(state_topic, [(*w, None) for w in restored])[1])

    async def take(partition: int) -> None:
        await recover(store, partition, read_state, rewrite)
        stage.load(partition)

    def fail(exc: BaseException) -> None:
        failed.append(exc)  # never checkpoint again
        rt.on_fatal(exc)

    _follow_assignments(app, topic, lock, stage, take=take, fail=fail)

    @app.agent(app.topic(topic), name="ledger")
    async def ledger(stream: Any) -> None:
        # a batch's intent record holds all its rows: keep it far below 1 MB
        async for events in stream.take_events(min(batch_size, MAX_BATCH), within):
            await ready.wait()  # reference data and toggles loaded (inside: see route.py)
            await rt.posting.wait()  # the kill switch: hold this batch, unacked
            async with lock:
                started = perf_counter()
                await commit(partial(stage.run, _batches(events)))
                histogram.observe(perf_counter() - started)

    @app.timer(interval=retry_interval)
    async def retry_parked() -> None:
        if not ready.is_set() or not rt.posting.is_set():
            return
        wake = rt.changes != seen["changes"]
        seen["changes"] = rt.changes
        async with lock:
            await commit(partial(stage.retry, stage.owned(), wake=wake))
        rt.metrics.parked.set(sum(len(names) for names in stage.parked().values()))

    # no SUMMARY entity: still flush what one held before its cadence became REALTIME
    _flush_timer(app, rt, stage, lock, commit, ready, cadence or {"": ORPHAN_FLUSH_SECONDS})

    @app.timer(interval=checkpoint_interval)
    async def checkpoint() -> None:
        """Record how far the file covers the changelog: a restart reads only what follows.

        Under the lock no write is in flight and every acknowledged one is in the
        file, so the changelog's end offset now is covered (on the embedded broker
        it lists the last batch's base + 1: a restart reads that batch again,
        harmlessly). After a failed write the file may miss acknowledged rows:
        no checkpoint then.
        """
        async with lock:
            owned = sorted(stage.owned())
            if owned and not failed:
                store.write((), await end_offsets(owned))

    return stage
