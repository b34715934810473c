"""The embedded broker's stand-in for ``alter_consumer_group_offsets``: commit as a member.

A small fallback, used by :meth:`streams.adapters.offsets.GroupOffsets.alter` only
on the embedded profile and only after the admin call failed with
``UNKNOWN_MEMBER_ID``. See :func:`commit_as_member` for why it exists and why it
is never used against Apache Kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from streams.adapters.exceptions import KafkaAdminError

__all__ = ["commit_as_member"]

Partition = tuple[str, int]

#: Protocol names the stand-in member offers: Faust's own assignor first (a Faust
#: group keeps that protocol), then librdkafka's and aiokafka's defaults.
_PROTOCOLS: Final = ("faust", "roundrobin", "range")


def commit_as_member(
    client_config: Mapping[str, str],
    group: str,
    offsets: Mapping[Partition, int],
    *,
    timeout: float = 60.0,
) -> None:
    """Commit offsets as the group's only member: the embedded broker's stand-in for the admin call.

    Why it exists: Tansu keeps a group STABLE with its last Faust member after the
    worker stops (``describe_consumer_groups`` shows no member, running or not), and
    ``alter_consumer_group_offsets`` (a commit without member id or generation) is
    refused with ``UNKNOWN_MEMBER_ID`` (docs/embedded-broker.md; measured again: always for the
    first reset after a Faust worker stopped). A consumer that joins the group gets a
    member id and a generation, and its explicit commits are accepted.

    How: it subscribes to the topics with the group id, waits for its assignment,
    commits exactly ``offsets``, and leaves. A Faust group keeps Faust's protocol
    name (``faust``), which librdkafka cannot offer (``INCONSISTENT_GROUP_PROTOCOL``),
    so this is an aiokafka consumer whose assignor, offered under the usual names,
    hands every partition to a sole member. If it finds another member it assigns
    nothing and nothing is committed.

    When: only after the admin call failed with ``UNKNOWN_MEMBER_ID`` on the
    embedded profile, and after the caller made sure no worker runs: on Tansu a
    stand-in joining a live Faust group brought the broker down, and on Apache
    Kafka ``UNKNOWN_MEMBER_ID`` means live members, whose partitions a joining
    consumer would take (there the error is reported, never worked around).

    Raises:
        KafkaAdminError: No assignment in time, another member found, or the
            commit failed (the broker's code kept).

    """
    asyncio.run(_commit_as_member(client_config, group, offsets, timeout))


async def _commit_as_member(
    client_config: Mapping[str, str],
    group: str,
    offsets: Mapping[Partition, int],
    timeout: float,
) -> None:
    from aiokafka import AIOKafkaConsumer  # noqa: PLC0415 - only this fallback needs it
    from aiokafka.errors import KafkaError as AIOKafkaError  # noqa: PLC0415
    from aiokafka.structs import OffsetAndMetadata  # noqa: PLC0415
    from aiokafka.structs import TopicPartition as AIOTopicPartition  # noqa: PLC0415

    others: list[str] = []
    consumer = AIOKafkaConsumer(
        **_aiokafka_connection(client_config),
        group_id=group,
        enable_auto_commit=False,
        partition_assignment_strategy=tuple(_sole_member_assignor(n, others) for n in _PROTOCOLS),
        # the embedded profile's group timings (docs/embedded-broker.md: JoinGroup waits a whole
        # rebalance timeout on Tansu)
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        rebalance_timeout_ms=5_000,
    )
    wanted = {AIOTopicPartition(topic, p) for topic, p in offsets}
    try:
        await consumer.start()
        consumer.subscribe(topics=sorted({topic for topic, _ in offsets}))
        deadline = time.monotonic() + timeout
        while not wanted <= consumer.assignment():
            if others:
                raise KafkaAdminError(
                    f"group {group} has other members ({', '.join(others)}): nothing committed",
                    kafka_code="GROUP_NOT_EMPTY",
                )
            if time.monotonic() > deadline:
                raise KafkaAdminError(
                    f"group {group}: no assignment within {timeout:.0f}s; nothing committed",
                    kafka_code="REQUEST_TIMED_OUT",
                )
            await asyncio.sleep(0.2)
        await consumer.commit(
            {
                AIOTopicPartition(topic, p): OffsetAndMetadata(offset, "")
                for (topic, p), offset in offsets.items()
            }
        )
    except AIOKafkaError as exc:
        raise KafkaAdminError(
            f"commit offsets of group {group} as a member: {type(exc).__name__}: {exc}",
            kafka_code=type(exc).__name__,
        ) from exc
    finally:
        await consumer.stop()


def _aiokafka_connection(client_config: Mapping[str, str]) -> dict[str, Any]:
    """Translate librdkafka connection settings for aiokafka (plaintext or SASL_PLAINTEXT)."""
    protocol = client_config.get("security.protocol", "PLAINTEXT")
    if protocol not in ("PLAINTEXT", "SASL_PLAINTEXT"):
        raise KafkaAdminError(f"the member fallback is for the embedded broker, not {protocol}")
    config: dict[str, Any] = {
        "bootstrap_servers": client_config["bootstrap.servers"],
        "security_protocol": protocol,
    }
    if "sasl.mechanism" in client_config:
        config["sasl_mechanism"] = client_config["sasl.mechanism"]
        config["sasl_plain_username"] = client_config.get("sasl.username")
        config["sasl_plain_password"] = client_config.get("sasl.password")
    return config


def _sole_member_assignor(name: str, others: list[str]) -> type:
    """Build an aiokafka assignor called ``name`` that gives all partitions to a sole member."""
    from aiokafka.coordinator.assignors.abstract import (  # noqa: PLC0415
        AbstractPartitionAssignor,
    )
    from aiokafka.coordinator.protocol import (  # noqa: PLC0415
        ConsumerProtocolMemberAssignment,
        ConsumerProtocolMemberMetadata,
    )

    def assign(_cls: Any, cluster: Any, members: Mapping[str, Any]) -> dict[str, Any]:
        if len(members) != 1:
            others.extend(sorted(members))
            return {member: ConsumerProtocolMemberAssignment(0, [], b"") for member in members}
        ((member, metadata),) = members.items()
        topics = [
            (topic, sorted(cluster.partitions_for_topic(topic) or ()))
            for topic in metadata.subscription
        ]
        return {member: ConsumerProtocolMemberAssignment(0, topics, b"")}

    def metadata(_cls: Any, topics: Iterable[str]) -> Any:
        return ConsumerProtocolMemberMetadata(0, sorted(topics), b"")

    def on_assignment(_cls: Any, _assignment: Any) -> None:
        return None

    return type(
        f"SoleMemberAssignor_{name}",
        (AbstractPartitionAssignor,),
        {
            "name": name,
            "assign": classmethod(assign),
            "metadata": classmethod(metadata),
            "on_assignment": classmethod(on_assignment),
        },
    )
