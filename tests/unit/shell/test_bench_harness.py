"""The benchmark harness's own arithmetic (``tests/bench``), without a broker.

The benchmark itself runs with ``make bench`` / ``make bench-smoke``; these check
the pieces whose mistakes would make its figures wrong: PASS/MISS, the output-span
rate, the state builder's id substitution, and the scale-out sample's size.
"""

from __future__ import annotations

from collections import Counter

from streams.adapters.dlq import SourceRecord
from tests.bench import records
from tests.bench.cluster import span_rate
from tests.bench.report import Target
from tests.bench.state import TEMPLATE, cloned


def test_a_target_passes_or_misses_on_the_side_it_names() -> None:
    assert Target("rate", 20_000, 20_000).passed
    assert not Target("rate", 19_999, 20_000).passed
    assert Target("p99", 250, 250, "ms", at_most=True).passed
    assert not Target("p99", 251, 250, "ms", at_most=True).line().startswith("PASS")
    # a run below the target's size says so rather than passing
    assert Target("rss", 0.3, 1.0, "GiB", at_most=True, applies=False).line().startswith("N/A")


def test_the_rate_is_inputs_over_the_span_of_output_timestamps() -> None:
    stamps = [1_000, 1_500, 3_000]  # first and last output 2 s apart
    outputs = [SourceRecord("out", 0, n, None, b"", (), t) for n, t in enumerate(stamps)]
    assert span_rate(outputs, 4_000) == (2_000.0, 2.0)


def test_cloned_rows_carry_new_entry_ids_of_the_same_length() -> None:
    rows = [
        (4, b"records|time_entry:TE-0000007", b'{"source_id":"TE-0000007","x":"TE-0000007"}'),
        (3, b"balances|wip:time_entry/TE-0000012", b"12.50"),
        (4, b"balances|deposit:US01", b"1.00"),  # names no entry: written once
    ]
    out = list(cloned(rows, 3))
    keys = Counter(key for _, key, _ in out)
    assert len(out) == 3 + 2 * 2
    assert keys[b"balances|deposit:US01"] == 1
    moved = f"TE-{7 + 2 * TEMPLATE:07d}".encode()
    assert (
        4,
        b"records|time_entry:" + moved,
        b'{"source_id":"' + moved + b'","x":"' + moved + b'"}',
    ) in out
    assert all(len(k) == len(rows[i % 2][1]) for i, (_, k, _) in enumerate(out[3:]))


def test_the_scale_out_sample_has_thirty_customers_across_three_entities() -> None:
    customers, entities = records.customer_count()
    assert customers >= 30
    assert entities == 3
    projects = {
        r.value["project_id"]
        for r in records.organisation()
        if r.topic == "pm.projects" and r.value
    }
    used = {r.value["project_id"] for r in records.time_entries(500) if r.value}
    assert len(used & projects) >= 30
