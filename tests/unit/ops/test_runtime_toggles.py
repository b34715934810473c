"""The control toggles inside a worker: routing of outputs, the kill-switch gate, the gauge."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from streams.adapters.avro import AvroCodec
from streams.agents.control import apply_control
from streams.agents.runtime import Runtime
from streams.domain.toggles import CONTROL_TOPIC, Toggle
from tests.unit.ops.test_runtime_telemetry import TOPIC, codec, entry_value, handle, record, runtime

__all__ = ["codec"]  # the module-scoped fixture, shared

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def control_value(
    codec: AvroCodec, name: str, *, enabled: bool = True, **lists: list[str]
) -> bytes:
    toggle = Toggle(
        name=name,
        enabled=enabled,
        reason="test",
        changed_by="ops",
        changed_at=datetime(2026, 11, 26, tzinfo=UTC),
        **lists,
    )
    return codec.encode(CONTROL_TOPIC, toggle.model_dump())


def outputs(
    rt: Runtime, codec: AvroCodec
) -> list[tuple[str, bytes, list[tuple[str, bytes | None]]]]:
    raw = codec.encode(TOPIC, entry_value())
    done = rt.process(
        record(raw, headers=[("traceparent", TRACEPARENT)]),
        handle(rt),
    )
    return [(o.topic, o.value, list(o.headers)) for o in done if "ledger-commands" in o.topic]


def toggle_gauge(rt: Runtime) -> dict[str, float]:
    return {
        sample.labels["toggle"]: sample.value
        for family in text_string_to_metric_families(rt.metrics.exposition().decode())
        for sample in family.samples
        if sample.name == "ledgerstream_toggle_enabled"
    }


def test_dry_run_sends_the_same_bytes_and_headers_to_the_shadow_topic(codec: AvroCodec) -> None:
    rt = runtime(codec)
    real = outputs(rt, codec)
    assert {topic for topic, _, _ in real} == {"t1.acct.ledger-commands"}
    assert apply_control(rt, b"dry_run", control_value(codec, "dry_run"))
    shadow = outputs(rt, codec)
    assert [("t1.acct.ledger-commands.shadow", v, h) for _, v, h in real] == shadow
    assert toggle_gauge(rt) == {"kill_switch": 0.0, "pilot": 0.0, "dry_run": 1.0}


def test_pilot_posts_allow_listed_customers_and_shadows_the_rest(codec: AvroCodec) -> None:
    rt = runtime(codec)
    customer = codec.decode("acct.ledger-commands", outputs(rt, codec)[0][1]).record["lines"][0][
        "dimensions"
    ]["customer_id"]
    apply_control(rt, b"pilot", control_value(codec, "pilot", allow_customers=["someone-else"]))
    assert {topic for topic, _, _ in outputs(rt, codec)} == {"t1.acct.ledger-commands.shadow"}
    apply_control(rt, b"pilot", control_value(codec, "pilot", allow_customers=[customer]))
    assert {topic for topic, _, _ in outputs(rt, codec)} == {"t1.acct.ledger-commands"}
    apply_control(rt, b"pilot", None)  # a tombstone: pilot off
    assert toggle_gauge(rt)["pilot"] == 0.0


def test_the_kill_switch_closes_the_posting_gate_until_turned_off(codec: AvroCodec) -> None:
    rt = runtime(codec)
    assert rt.posting.is_set()
    apply_control(rt, b"kill_switch", control_value(codec, "kill_switch"))
    assert not rt.posting.is_set()
    assert toggle_gauge(rt)["kill_switch"] == 1.0
    apply_control(rt, b"kill_switch", control_value(codec, "kill_switch", enabled=False))
    assert rt.posting.is_set()
    assert toggle_gauge(rt)["kill_switch"] == 0.0


def test_an_unreadable_or_mislabelled_control_record_is_skipped(codec: AvroCodec) -> None:
    rt = runtime(codec)
    assert not apply_control(rt, b"kill_switch", b"\x00garbage")
    assert not apply_control(rt, b"pilot", control_value(codec, "kill_switch"))
    assert rt.posting.is_set()
    assert not rt.toggles.kill_switch
