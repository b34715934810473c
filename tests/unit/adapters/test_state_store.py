"""Stage 2's table file: tail-only recovery, intents, reconciliation, and what survives a crash.

A changelog here is a list of (key, value) records, offsets being list indexes; a
``read`` stands for ``read_from``: it feeds the records from the start offset the
recovery asks for and returns the end offset.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from streams.adapters.state_store import (
    INTENT_KEY,
    RawWrite,
    StateStore,
    encode_intent,
    fill,
    recover,
)

Changelog = list[tuple[bytes | None, bytes | None]]


class Reader:
    """A changelog partition read from the offset the recovery asks for."""

    def __init__(self, changelog: Changelog) -> None:
        self.changelog = changelog
        self.read = 0

    async def __call__(
        self,
        partition: int,
        start: Callable[[int], int],
        sink: Callable[[Sequence[tuple[bytes | None, bytes | None]]], None],
    ) -> int:
        end = len(self.changelog)
        first = start(end)
        tail = self.changelog[first:end]
        self.read = len(tail)
        sink(tail)
        return end


def restore(
    store: StateStore, changelog: Changelog, rewritten: list[RawWrite] | None = None
) -> Reader:
    reader = Reader(changelog)

    async def rewrite(rows: list[RawWrite]) -> None:
        if rewritten is None:
            raise ConnectionError("killed before the restored rows reached the changelog")
        rewritten.extend(rows)
        changelog.extend((key, value) for _, key, value in rows)

    asyncio.run(recover(store, 0, reader, rewrite))
    return reader


def batch(changelog: Changelog, rows: dict[bytes, bytes | None], *, written: int | None = None):
    """Append a batch as a worker writes it: its intent, then (some of) its rows."""
    changelog.append((INTENT_KEY, encode_intent(rows.items())))
    changelog.extend(list(rows.items())[:written])


def test_a_restart_reads_only_the_changelog_after_its_checkpoint(tmp_path: Path) -> None:
    changelog: Changelog = []
    for n in range(50):
        batch(changelog, {f"records|TE-{n}".encode(): b"v1"})
    path = tmp_path / "state.sqlite"
    first = StateStore(path)
    reader = restore(first, changelog)
    assert reader.read == 100  # no file yet: the whole changelog
    assert first.checkpoint(0) == 100
    first.close()

    batch(changelog, {b"records|TE-0": b"v2", b"records|TE-50": b"v1"})
    again = StateStore(path)  # the same worker, restarted
    reader = restore(again, changelog)
    assert reader.read == 3  # the tail only
    assert again.rows(0) == dict(changelog[1:100:2]) | dict(changelog[101:])
    assert again.count(0) == 51


def test_a_batch_half_written_before_a_crash_is_restored_whole_and_rewritten(
    tmp_path: Path,
) -> None:
    changelog: Changelog = []
    batch(changelog, {b"a": b"1"})
    store = StateStore(tmp_path / "s.sqlite")
    restore(store, changelog)
    batch(changelog, {b"a": None, b"b": b"2", b"c": b"3"}, written=1)  # died after 1 of 3

    # killed again before the restored rows reached the changelog: the checkpoint
    # stays before the intent, so the next start restores them again
    with pytest.raises(ConnectionError):
        restore(store, changelog)
    assert store.checkpoint(0) == 2
    rewritten: list[RawWrite] = []
    restore(store, changelog, rewritten)
    assert rewritten == [(0, b"b", b"2"), (0, b"c", b"3")]
    assert store.rows(0) == {b"b": b"2", b"c": b"3"}
    # a later batch's intent replaces this one: the rows are in the changelog as rows
    batch(changelog, {b"d": b"4"})
    fresh = StateStore()
    restore(fresh, changelog)
    assert fresh.rows(0) == {b"b": b"2", b"c": b"3", b"d": b"4"}


def test_a_file_ahead_of_its_changelog_is_dropped_and_read_again_whole(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    fill(store, 0, iter([(b"stale", b"x")]), next_offset=500)
    changelog: Changelog = [(b"a", b"1")]  # the topic was recreated
    reader = restore(store, changelog)
    assert reader.read == 1
    assert store.rows(0) == {b"a": b"1"}
    assert store.checkpoint(0) == 1


def test_rows_reach_the_file_all_or_none(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    store.write([(0, b"a", b"1")], {0: 1})
    with pytest.raises(sqlite3.ProgrammingError):
        store.write([(0, b"b", b"2"), (0, b"c", object())], {0: 3})  # type: ignore[list-item]
    assert store.rows(0) == {b"a": b"1"}
    assert store.checkpoint(0) == 1


def test_fill_prefills_many_rows_for_a_benchmark(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    rows = ((f"records|TE-{n}".encode(), b"x" * 10) for n in range(25_000))
    assert fill(store, 3, rows, next_offset=25_000, chunk=10_000) == 25_000
    assert store.count(3) == 25_000
    assert store.checkpoint(3) == 25_000
    assert len(store.keys(3, b"records|TE-2499")) == 11  # TE-2499 and TE-24990..24999
