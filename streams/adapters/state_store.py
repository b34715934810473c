"""Stage 2's posted-records table on disk, checkpointed against its changelog.

The table (``streams.agents.ledger``) lives in one SQLite file per worker, under
its data directory: per stage-2 partition, key -> stored bytes, and the offset of
the partition's changelog (``<app id>-ledger-changelog``) that those rows reflect.
Memory holds only a bounded cache of decoded rows (the agent's), so it no longer
grows with history.

The changelog stays the source of truth; the file is a head start:

- a batch's rows reach the file in one SQLite transaction, only after the changelog
  acknowledged them (``write``), so the file is never ahead of the changelog and a
  crash leaves it at a batch boundary;
- ``checkpoint`` records an offset the file is known to cover (the changelog's end,
  taken while no write is in flight); a restarted worker reads only the changelog
  after it (``ChangelogRecovery``), a worker without the file reads it all;
- a checkpoint beyond the changelog's end (the topic was recreated) is not trusted:
  the partition's rows are dropped and read again whole.

Kafka appends one record atomically, not a batch: each batch first writes one
*intent* record per partition (``encode_intent``) holding all its rows, then the
rows. Recovery applies the last intent it read on top, so a batch whose owner died
while writing its rows is in the table whole or not at all.

Why SQLite and not RocksDB: it is in the standard library (no native wheel to
keep), one transaction holds a batch's rows and its checkpoint together, and a
batch is at most a few hundred rows, far below what either store sustains.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from time import perf_counter
from typing import Final

import msgspec

__all__ = [
    "INTENT_KEY",
    "ChangelogRecovery",
    "RawWrite",
    "ReadChangelog",
    "StateStore",
    "decode_intent",
    "encode_intent",
    "fill",
    "recover",
]

_log = logging.getLogger(__name__)

#: The key of a partition's intent record: its last batch's rows, in one record.
INTENT_KEY: Final = b"intent"

#: One row change: partition, key, stored bytes (None: deleted).
RawWrite = tuple[int, bytes, bytes | None]

#: Reads a changelog partition: ``(partition, start, sink)`` -> the end offset read to
#: (``streams.adapters.reference_loader.read_from``).
ReadChangelog = Callable[
    [int, Callable[[int], int], Callable[[Sequence[tuple[bytes | None, bytes | None]]], None]],
    Awaitable[int],
]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS rows (
    partition INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (partition, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL
);
"""


class StateStore:
    """The table's rows per partition in one SQLite file, with each partition's checkpoint.

    Args:
        path: The database file (its directory is created), or ``":memory:"``
            for a store that ends with the process (tests, dry runs).

    """

    def __init__(self, path: Path | str = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # WAL: readers never wait for the batch being written. synchronous=NORMAL: an
        # OS crash may lose the last transactions, never corrupt the file, and what is
        # lost is read again from the changelog (the checkpoint is lost with it).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file (everything written is already committed)."""
        self._db.close()

    def get(self, partition: int, key: bytes) -> bytes | None:
        """Return a row's stored bytes, or None."""
        found = self._db.execute(
            "SELECT value FROM rows WHERE partition = ? AND key = ?", (partition, key)
        ).fetchone()
        return None if found is None else bytes(found[0])

    def keys(self, partition: int, prefix: bytes) -> list[bytes]:
        """Return a partition's keys that start with ``prefix`` (a few: parked queues)."""
        upper = prefix[:-1] + bytes([prefix[-1] + 1])
        found = self._db.execute(
            "SELECT key FROM rows WHERE partition = ? AND key >= ? AND key < ? ORDER BY key",
            (partition, prefix, upper),
        )
        return [bytes(key) for (key,) in found]

    def rows(self, partition: int) -> dict[bytes, bytes]:
        """Return a partition's whole table (tests and tools: it may be large)."""
        found = self._db.execute("SELECT key, value FROM rows WHERE partition = ?", (partition,))
        return {bytes(key): bytes(value) for key, value in found}

    def count(self, partition: int) -> int:
        """Return how many rows a partition holds."""
        (n,) = self._db.execute(
            "SELECT count(*) FROM rows WHERE partition = ?", (partition,)
        ).fetchone()
        return int(n)

    def checkpoint(self, partition: int) -> int | None:
        """Return the changelog offset this file's rows of ``partition`` reflect, if known."""
        found = self._db.execute(
            "SELECT next_offset FROM checkpoints WHERE partition = ?", (partition,)
        ).fetchone()
        return None if found is None else int(found[0])

    def write(self, writes: Iterable[RawWrite], checkpoints: Mapping[int, int] = {}) -> None:
        """Apply row changes and checkpoints in one transaction (all of them or none).

        Call it only with changes the changelog has acknowledged, so the file is
        never ahead of the changelog.
        """
        puts: list[tuple[int, bytes, bytes]] = []
        deletes: list[tuple[int, bytes]] = []
        for partition, key, raw in writes:
            if raw is None:
                deletes.append((partition, key))
            else:
                puts.append((partition, key, raw))
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO rows (partition, key, value) VALUES (?, ?, ?)", puts
            )
            self._db.executemany("DELETE FROM rows WHERE partition = ? AND key = ?", deletes)
            self._db.executemany(
                "INSERT OR REPLACE INTO checkpoints (partition, next_offset) VALUES (?, ?)",
                sorted(checkpoints.items()),
            )

    def clear(self, partition: int) -> None:
        """Forget a partition's rows and checkpoint (it is read again whole)."""
        with self._transaction():
            self._db.execute("DELETE FROM rows WHERE partition = ?", (partition,))
            self._db.execute("DELETE FROM checkpoints WHERE partition = ?", (partition,))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN`` ... ``COMMIT`` (``ROLLBACK`` on an exception) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")


_INTENT_ENCODER: Final = msgspec.msgpack.Encoder()
_INTENT_DECODER: Final = msgspec.msgpack.Decoder(list[tuple[bytes, bytes | None]])


def encode_intent(rows: Iterable[tuple[bytes, bytes | None]]) -> bytes:
    """Serialise a batch's rows of one partition as its intent record (MessagePack)."""
    return _INTENT_ENCODER.encode(list(rows))


def decode_intent(raw: bytes) -> dict[bytes, bytes | None]:
    """Read an intent record back: key -> stored bytes (None: deleted).

    Intents written before MessagePack (JSON, keys and values in base64) still read.
    """
    if raw[:1] == b"{":
        import base64  # noqa: PLC0415 (only an upgraded worker's first recovery)
        import json  # noqa: PLC0415

        legacy: dict[str, str | None] = json.loads(raw)
        return {
            base64.b64decode(key): None if value is None else base64.b64decode(value)
            for key, value in legacy.items()
        }
    return dict(_INTENT_DECODER.decode(raw))


class ChangelogRecovery:
    """Bring a partition's rows in the file up to its changelog's end.

    ``start`` says where to read the changelog from (the checkpoint, or 0 after
    dropping rows the file cannot vouch for); feed what was read, in order, to
    ``apply``; ``finish`` applies the last intent on top and records the checkpoint.
    """

    def __init__(self, store: StateStore, partition: int) -> None:
        self.store = store
        self.partition = partition
        self.intent: bytes | None = None
        #: Changelog records read; the end offset read to; rows the intent restored.
        self.records = 0
        self.end = 0
        self.restored_rows = 0

    def start(self, end: int) -> int:
        """Return the offset to read from, given the changelog's end offset.

        A checkpoint beyond ``end`` means the file describes another changelog
        (the topic was recreated): its rows of this partition are dropped.
        """
        checkpoint = self.store.checkpoint(self.partition)
        if checkpoint is None or checkpoint > end:
            self.store.clear(self.partition)
            return 0
        return checkpoint

    def apply(self, records: Iterable[tuple[bytes | None, bytes | None]]) -> None:
        """Apply changelog records (key, value) in order; the intent is kept for ``finish``."""
        writes: list[RawWrite] = []
        for key, value in records:
            self.records += 1
            if key is None:
                continue
            if key == INTENT_KEY:
                self.intent = value
            else:
                writes.append((self.partition, key, value))
        self.store.write(writes)

    def restored(self) -> list[RawWrite]:
        """Return the rows the last intent read holds and the file does not (yet).

        Its owner died while writing them. The caller writes them to the changelog
        as rows, then passes them to ``finish``: the partition's next intent replaces
        this one, and a later owner would lose them otherwise. Until ``finish`` the
        checkpoint stays before the intent, so a crash in between reads it again.
        """
        if self.intent is None:
            return []
        return [
            (self.partition, key, raw)
            for key, raw in decode_intent(self.intent).items()
            if self.store.get(self.partition, key) != raw
        ]

    def finish(self, next_offset: int, restored: Iterable[RawWrite] = ()) -> None:
        """Apply the restored rows and record ``next_offset`` as the checkpoint, together."""
        self.store.write(restored, {self.partition: next_offset})


async def recover(
    store: StateStore,
    partition: int,
    read: ReadChangelog,
    rewrite: Callable[[list[RawWrite]], Awaitable[None]],
) -> ChangelogRecovery:
    """Bring a partition's rows in ``store`` up to its changelog's end.

    Reads the changelog after the file's checkpoint (all of it without one),
    applies the last intent on top, has ``rewrite`` write the rows that intent
    restored to the changelog as rows, then records the new checkpoint.
    """
    started = perf_counter()
    recovery = ChangelogRecovery(store, partition)
    end = await read(partition, recovery.start, recovery.apply)
    restored = recovery.restored()
    if restored:  # its last owner died writing them
        await rewrite(restored)
    recovery.finish(end, restored)
    recovery.end = end
    recovery.restored_rows = len(restored)
    _log.info(
        "partition %d: %d changelog records read in %.1f s up to offset %d"
        " (%d rows restored from its intent)",
        partition,
        recovery.records,
        perf_counter() - started,
        end,
        len(restored),
    )
    return recovery


def fill(
    store: StateStore,
    partition: int,
    rows: Iterator[tuple[bytes, bytes]],
    *,
    next_offset: int,
    chunk: int = 10_000,
) -> int:
    """Write many rows straight into the file (a benchmark's pre-filled table).

    Returns:
        The number of rows written. ``next_offset`` becomes the checkpoint: pair it
        with a changelog holding the same rows, or a restarted worker reads the
        changelog from there and trusts the file for the rest.

    """
    written = 0
    batch: list[RawWrite] = []
    for key, value in rows:
        batch.append((partition, key, value))
        if len(batch) >= chunk:
            store.write(batch)
            written += len(batch)
            batch = []
    store.write(batch, {partition: next_offset})
    return written + len(batch)
