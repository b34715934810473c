"""A consumer-group member that reads batches and commits exactly what the caller says.

For a sink outside Faust (the books, ``streams.books.sink``): it joins a consumer
group with ``subscribe()``, hands out batches of :class:`SourceRecord`, and commits
offsets only when told, synchronously, after the caller made the batch durable.
Auto-commit is off, so a crash before ``commit`` re-delivers the batch.

On the embedded broker JoinGroup waits the whole rebalance timeout, which
librdkafka takes from ``max.poll.interval.ms`` (docs/embedded-broker.md): the
embedded profile shortens it and the session timeout, so a restarted member
joins within seconds. A confluent-kafka error is translated here into
``KafkaAdminError`` with the broker's code kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as ConfluentTopicPartition

from streams.adapters.dlq import SourceRecord
from streams.adapters.exceptions import KafkaAdminError

_log = logging.getLogger(__name__)

#: Group timings on the embedded broker (JoinGroup waits the rebalance timeout there).
EMBEDDED_GROUP_TIMINGS: dict[str, str | int] = {
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 1000,
    "max.poll.interval.ms": 6000,
}


class GroupReader:
    """Read a topic as a member of a consumer group; commit only on request."""

    def __init__(
        self,
        client_config: Mapping[str, str],
        topics: Sequence[str],
        *,
        group: str,
        embedded: bool,
    ) -> None:
        config: dict[str, str | int] = {
            **client_config,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "logger": _log,  # type: ignore[dict-item]
        }
        if embedded:
            config |= EMBEDDED_GROUP_TIMINGS
        self._consumer = Consumer(config)
        self.assigned = False
        self._consumer.subscribe(list(topics), on_assign=self._on_assign)

    def _on_assign(self, _consumer: object, _partitions: object) -> None:
        self.assigned = True

    def poll(self, max_records: int, timeout: float) -> list[SourceRecord]:
        """Return up to ``max_records`` records, waiting at most ``timeout`` seconds."""
        try:
            messages = self._consumer.consume(max_records, timeout=timeout)
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, "consume") from exc
        records = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaAdminError.from_kafka(KafkaException(error), "consume")
            _kind, timestamp = message.timestamp()
            headers = message.headers() or []
            records.append(
                SourceRecord(
                    topic=cast(str, message.topic()),
                    partition=cast(int, message.partition()),
                    offset=cast(int, message.offset()),
                    key=message.key(),
                    value=message.value(),
                    headers=[
                        (k, v.encode() if isinstance(v, str) else v)
                        for k, v in (headers.items() if isinstance(headers, dict) else headers)
                    ],
                    timestamp_ms=timestamp if timestamp > 0 else None,
                )
            )
        return records

    def commit(self, records: Sequence[SourceRecord]) -> None:
        """Commit, synchronously, the position after the last of ``records`` per partition."""
        after: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            after[key] = max(after.get(key, 0), record.offset + 1)
        if not after:
            return
        offsets = [ConfluentTopicPartition(t, p, o) for (t, p), o in sorted(after.items())]
        try:
            answered = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, "commit") from exc
        for tp in answered or ():
            if tp.error is not None:
                raise KafkaAdminError.from_kafka(KafkaException(tp.error), "commit")

    def close(self) -> None:
        """Leave the group (commits nothing)."""
        self._consumer.close()
