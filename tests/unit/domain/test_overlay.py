"""The copy-on-write overlay the worker's posted-records table is read through."""

from __future__ import annotations

import pytest
from streams.domain.overlay import Overlay, copy_mapping
from streams.domain.posted import PostedLedger, record_key
from streams.domain.posting import post_event
from tests.unit.domain.builders import RULE_VERSION, source_for, standard_book, time_entry


def test_reads_fall_through_writes_and_deletions_stay_local_and_copies_are_independent() -> None:
    base = {"a": 1, "b": 2}
    top: Overlay[int] = Overlay(base.get)
    assert (top["a"], top.get("z"), "b" in top) == (1, None, True)
    top["a"] = 10
    del top["b"]
    copy = top.copy()
    copy["c"] = 3
    assert (top["a"], "b" in top, "c" in top) == (10, False, False)
    assert copy.changes() == {"a": 10, "b": None, "c": 3}
    assert top.changes() == {"a": 10, "b": None}
    assert base == {"a": 1, "b": 2}  # the base is never written
    with pytest.raises(KeyError):
        del top["nothing"]
    assert sorted(copy) == ["a", "c"]
    assert isinstance(copy_mapping(top), Overlay)
    assert copy_mapping({"x": 1}) == {"x": 1}


def test_a_ledger_over_a_store_reports_exactly_what_a_step_changed() -> None:
    store: dict[str, dict[str, object]] = {}
    ledger = PostedLedger.over(lambda name, key: store.get(name, {}).get(key))
    entry = time_entry()
    step = post_event(
        ledger, entry, standard_book(), source=source_for(entry), rule_version=RULE_VERSION
    )
    changes = step.ledger.changes()
    assert set(changes["records"]) == {record_key("time_entry", entry.entry_id)}
    assert set(changes["balances"]) == {"wip/time_entry/TE-1"}
    assert changes["billed"] == changes["invoices"] == changes["credited"] == {}
    assert ledger.changes() == {name: {} for name in changes}  # the step copied, never wrote
