"""Consumer-group offsets: where a group stands, where a replay can move it, and the move.

Standard Kafka admin calls (``AdminClient``): ``describe_consumer_groups`` (a replay
never moves a group with live members), ``list_consumer_group_offsets``,
``list_offsets`` (earliest, or by timestamp) and ``alter_consumer_group_offsets``.
Every failure is a :class:`KafkaAdminError` that keeps the broker's error code.

The embedded broker (Tansu) needs two allowances, both measured (docs/embedded-broker.md):

* ``offsets_for_times`` answers 0 rather than "none" when no record is that
  recent, and can point one record early: the broker's answer is checked by reading
  forward to the first record at or after the instant (on Apache Kafka that is
  the very record it points at, so the check costs one fetch);
* ``alter_consumer_group_offsets`` fails with ``UNKNOWN_MEMBER_ID`` for a group
  whose Faust worker has stopped: see
  :func:`streams.adapters.group_member.commit_as_member`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from streams.adapters.exceptions import KafkaAdminError
from streams.adapters.group_member import commit_as_member
from streams.adapters.heartbeat import KEY_PREFIX, SYNTHETIC_HEADER, interval_of
from streams.adapters.kafka_io import first_offsets_at, read_topics

__all__ = ["GroupOffsets", "GroupState", "Heartbeat", "ResetPath"]

_log = logging.getLogger(__name__)

Partition = tuple[str, int]

_REBALANCING: Final = frozenset({"PREPARING_REBALANCING", "COMPLETING_REBALANCING"})


def _kafka_error(error: KafkaError, operation: str) -> KafkaAdminError:
    return KafkaAdminError(f"{operation}: {error.name()}: {error.str()}", kafka_code=error.name())


@dataclass(frozen=True, slots=True)
class GroupState:
    """What the cluster says about a consumer group: its state and live members."""

    group: str
    state: str
    members: tuple[str, ...]

    @property
    def active(self) -> bool:
        """True while a member is in the group or a rebalance is under way."""
        return bool(self.members) or self.state in _REBALANCING


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A heartbeat canary a worker of the group produced (its key names the worker).

    ``interval_seconds``: the heartbeat interval that worker runs with, as its
    canary carries it (None: a canary of a version that did not carry it).
    """

    key: str
    timestamp_ms: int
    interval_seconds: float | None = None


class ResetPath(StrEnum):
    """How offsets were moved: the admin API, or the embedded broker's stand-in member."""

    ADMIN = "admin API (alter_consumer_group_offsets)"
    MEMBER = "group member (embedded-broker fallback)"


class GroupOffsets:
    """Read and move one consumer group's committed offsets."""

    def __init__(self, client_config: Mapping[str, str], group: str, *, timeout: float = 30.0):
        self.group = group
        self._client = dict(client_config)
        self._timeout = timeout
        config: dict[str, Any] = {**client_config, "logger": _log}
        self._admin = AdminClient(config)

    def describe(self) -> GroupState:
        """Return the group's state and members (``describe_consumer_groups``)."""
        try:
            future = self._admin.describe_consumer_groups(
                [self.group], request_timeout=self._timeout
            )[self.group]
            description = future.result(self._timeout)
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, f"describe group {self.group}") from exc
        members = tuple(
            f"{member.client_id or member.member_id}@{member.host}"
            for member in description.members
        )
        return GroupState(self.group, description.state.name, members)

    def heartbeats(self, topic: str, since_ms: int) -> Iterator[Heartbeat]:
        """Yield the canaries workers of the group produced on ``topic`` since ``since_ms``.

        Every ledgerstream worker produces a canary per partition of the event topic
        on a timer, keyed ``__ledgerstream-heartbeat__/<app id>@<host>/<partition>``
        and carrying its interval (:mod:`streams.adapters.heartbeat`); the app id is
        the group. A recent one means a worker of the group is running, whatever the
        broker's group description says (the embedded broker lists no members,
        running or not). Stop iterating as soon as one is proof enough.
        """
        prefix = f"{KEY_PREFIX}{self.group}@".encode()
        records = read_topics(
            self._client, [topic], idle_seconds=1.0, max_seconds=30.0, since_ms=since_ms
        )
        try:
            for record in records:
                marked = any(key == SYNTHETIC_HEADER for key, _ in record.headers)
                stamp = record.timestamp_ms
                ours = record.key is not None and record.key.startswith(prefix)
                if marked and ours and stamp is not None and stamp >= since_ms:
                    key = (record.key or b"").decode(errors="replace")
                    yield Heartbeat(key, stamp, interval_of(record))
        finally:
            records.close()

    def partitions(self, topics: Iterable[str]) -> list[Partition]:
        """Every partition of the topics, in order.

        Raises:
            KafkaAdminError: A topic does not exist (nothing is created by asking).

        """
        try:
            existing = self._admin.list_topics(timeout=self._timeout).topics
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, "list topics") from exc
        result: list[Partition] = []
        for topic in topics:
            if topic not in existing:
                raise KafkaAdminError(f"topic {topic} does not exist")
            result += [(topic, p) for p in sorted(existing[topic].partitions)]
        return result

    def committed(self, partitions: Sequence[Partition]) -> dict[Partition, int | None]:
        """Return the group's committed offset of each partition (None: nothing committed)."""
        request = ConsumerGroupTopicPartitions(
            self.group, [TopicPartition(topic, p) for topic, p in partitions]
        )
        try:
            future = self._admin.list_consumer_group_offsets(
                [request], request_timeout=self._timeout
            )[self.group]
            result = future.result(self._timeout)
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, f"list offsets of group {self.group}") from exc
        committed: dict[Partition, int | None] = {}
        for tp in result.topic_partitions:
            if tp.error is not None:
                raise _kafka_error(tp.error, f"list offsets of {tp.topic}[{tp.partition}]")
            committed[(tp.topic, tp.partition)] = tp.offset if tp.offset >= 0 else None
        return committed

    def earliest(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        """Return the earliest offset still held by each partition (its log start)."""
        earliest = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        found = self._list_offsets(dict.fromkeys(partitions, earliest))
        return {tp: max(offset, 0) for tp, offset in found.items()}

    def latest(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        """Return each partition's end as listed (on the embedded broker: see ``log_ends``)."""
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        found = self._list_offsets(dict.fromkeys(partitions, latest))
        return {tp: max(offset, 0) for tp, offset in found.items()}

    def offsets_at(
        self, partitions: Sequence[Partition], at_ms: int
    ) -> dict[Partition, int | None]:
        """Return each partition's first offset whose record is at or after ``at_ms``.

        None: no record is that recent. The broker's answer (``offsets_for_times``)
        is checked by reading forward from it (module docstring).
        """
        at = OffsetSpec.for_timestamp(at_ms)
        answer = self._list_offsets(dict.fromkeys(partitions, at))
        return first_offsets_at(self._client, answer, at_ms)

    def _list_offsets(self, specs: Mapping[Partition, Any]) -> dict[Partition, int]:
        request = {TopicPartition(topic, p): spec for (topic, p), spec in specs.items()}
        if not request:
            return {}
        try:
            futures = self._admin.list_offsets(request, request_timeout=self._timeout)
            return {
                (tp.topic, tp.partition): int(future.result(self._timeout).offset)
                for tp, future in futures.items()
            }
        except KafkaException as exc:
            raise KafkaAdminError.from_kafka(exc, "list offsets") from exc

    def alter(self, offsets: Mapping[Partition, int], *, member_fallback: bool) -> ResetPath:
        """Commit new offsets for the group; return how it was done.

        Args:
            offsets: The new committed offset of each partition to move.
            member_fallback: On ``UNKNOWN_MEMBER_ID`` from the admin call, commit
                through :func:`commit_as_member` instead (the embedded profile only).

        Raises:
            KafkaAdminError: The cluster refused (its error code kept).

        """
        request = ConsumerGroupTopicPartitions(
            self.group, [TopicPartition(topic, p, offset) for (topic, p), offset in offsets.items()]
        )
        try:
            future = self._admin.alter_consumer_group_offsets(
                [request], request_timeout=self._timeout
            )[self.group]
            errors = [tp.error for tp in future.result(self._timeout).topic_partitions if tp.error]
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError):
                raise KafkaAdminError.from_kafka(exc, "alter consumer group offsets") from exc
            errors = [error]
        if not errors:
            return ResetPath.ADMIN
        unknown_member = all(e.code() == KafkaError.UNKNOWN_MEMBER_ID for e in errors)
        if member_fallback and unknown_member:
            _log.info("admin offset commit refused (UNKNOWN_MEMBER_ID): committing as a member")
            commit_as_member(self._client, self.group, offsets, timeout=max(self._timeout, 60.0))
            return ResetPath.MEMBER
        error = _kafka_error(errors[0], f"alter offsets of group {self.group}")
        if unknown_member:
            error = KafkaAdminError(
                f"{error} (on Apache Kafka: the group has live members again; on the embedded "
                "broker, set LEDGERSTREAM_PROFILE=embedded)",
                kafka_code=error.kafka_code,
            )
        raise error
