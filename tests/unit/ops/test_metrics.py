"""The worker's Prometheus exposition: names, pre-declared series, lag and heartbeat ages."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from streams.adapters.metrics import TOGGLES, Metrics, error_codes


def families(metrics: Metrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    result: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        result[family.name] = [(dict(s.labels), s.value) for s in family.samples]
    return result


def test_every_series_is_ours_with_units_and_no_created_timestamps() -> None:
    metrics = Metrics()
    metrics.declare_topics(events=["pm.time-entries"], reference=["pm.customers"])
    exposed = families(metrics)
    assert all(name.startswith("ledgerstream_") for name in exposed)
    assert not any(name.endswith("_created") for name in exposed)
    for name in exposed:
        if "latency" in name or "processing" in name or "age" in name:
            assert name.endswith("_seconds"), name


def test_outcomes_codes_and_toggles_exist_at_zero_before_anything_happens() -> None:
    metrics = Metrics()
    metrics.declare_topics(events=["pm.time-entries"], reference=["pm.customers"])
    exposed = families(metrics)
    events = {(s["topic"], s["outcome"]): v for s, v in exposed["ledgerstream_events_consumed"]}
    for outcome in ("posted", "held", "skipped", "parked", "dead_lettered"):
        assert events[("pm.time-entries", outcome)] == 0
    assert events[("pm.customers", "loaded")] == 0
    assert ("pm.customers", "posted") not in events
    codes = {s["code"] for s, _ in exposed["ledgerstream_dead_letters"]}
    assert {"BAD_MAGIC_BYTE", "MISSING_REFERENCE", "INVALID_SYNTHETIC_MARK"} <= codes
    assert codes == set(error_codes())
    toggles = {s["toggle"]: v for s, v in exposed["ledgerstream_toggle_enabled"]}
    assert toggles == dict.fromkeys(TOGGLES, 0.0)
    assert exposed["ledgerstream_parked_records"] == [({}, 0.0)]


def test_lag_of_partitions_no_longer_assigned_disappears() -> None:
    metrics = Metrics()
    metrics.set_consumer_lag({("pm.time-entries", 0): 5, ("pm.time-entries", 1): 7})
    metrics.set_consumer_lag({("pm.time-entries", 1): 2})
    lag = families(metrics)["ledgerstream_consumer_lag_records"]
    assert lag == [({"topic": "pm.time-entries", "partition": "1"}, 2.0)]


def test_a_partition_is_caught_up_when_nothing_is_left_to_process() -> None:
    metrics = Metrics()
    metrics.set_consumer_lag({("pm.time-entries", 0): 0, ("ledgerstream.ledger-events", 2): 3})
    caught_up = families(metrics)["ledgerstream_caught_up"]
    assert sorted((labels["topic"], labels["partition"], v) for labels, v in caught_up) == [
        ("ledgerstream.ledger-events", "2", 0.0),
        ("pm.time-entries", "0", 1.0),
    ]
    metrics.set_consumer_lag({("ledgerstream.ledger-events", 2): 0})  # p0 moved elsewhere
    caught_up = families(metrics)["ledgerstream_caught_up"]
    assert caught_up == [({"topic": "ledgerstream.ledger-events", "partition": "2"}, 1.0)]


def test_heartbeat_age_is_computed_at_scrape_time_from_the_newest_canary() -> None:
    now = [1000.0]
    metrics = Metrics(clock=lambda: now[0])
    assert families(metrics)["ledgerstream_heartbeat_age_seconds"] == []
    metrics.heartbeat_ages.seen("pm.time-entries", 3, 990.0)
    metrics.heartbeat_ages.seen("pm.time-entries", 3, 980.0)  # an older canary, late
    now[0] = 1030.0
    ages = families(metrics)["ledgerstream_heartbeat_age_seconds"]
    assert ages == [({"topic": "pm.time-entries", "partition": "3"}, 40.0)]
    metrics.heartbeat_ages.retain({("pm.time-entries", 0)})  # partition 3 moved elsewhere
    assert families(metrics)["ledgerstream_heartbeat_age_seconds"] == []
