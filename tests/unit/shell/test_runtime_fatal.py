"""Nothing is acked past a record that could not even be dead-lettered."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.dlq import SourceRecord
from streams.adapters.metrics import Metrics
from streams.agents.runtime import Handled, Runtime
from streams.domain.reference import ReferenceBook
from streams.settings import Settings


class _BrokenDeadLetterCodec(AvroCodec):
    def encode(self, topic: str, record: Any, *, version: int | None = None) -> bytes:
        if topic == "ledgerstream.dlq":
            raise RuntimeError("envelope schema broken")
        return super().encode(topic, record, version=version)


def _event(offset: int) -> Any:
    message = SimpleNamespace(
        topic="pm.time-entries",
        partition=0,
        offset=offset,
        key=b"k",
        value=b"\x07",
        headers=[],
        timestamp=None,
    )
    return SimpleNamespace(message=message)


def _failing(_record: SourceRecord) -> Handled:
    raise ValueError("bad record")


def test_a_failing_dead_letter_path_stops_the_worker_instead_of_acking() -> None:
    fatal: list[BaseException] = []
    rt = Runtime(
        codec=_BrokenDeadLetterCodec(SchemaCatalog.from_directory(Settings().schemas_dir)),
        book=ReferenceBook(),
        metrics=Metrics(),
        rule_version="t",
        on_fatal=fatal.append,
    )
    with pytest.raises(RuntimeError, match="envelope schema broken"):
        rt.process_batch([_event(1), _event(2)], _failing)
    assert [str(e) for e in fatal] == ["envelope schema broken"]


def test_a_record_error_is_dead_lettered_and_the_batch_goes_on() -> None:
    fatal: list[BaseException] = []
    rt = Runtime(
        codec=AvroCodec(SchemaCatalog.from_directory(Settings().schemas_dir)),
        book=ReferenceBook(),
        metrics=Metrics(),
        rule_version="t",
        on_fatal=fatal.append,
    )
    sent = rt.process_batch([_event(1), _event(2)], _failing)
    assert fatal == []
    assert [o.topic for o in sent] == ["ledgerstream.dlq", "ledgerstream.dlq"]
