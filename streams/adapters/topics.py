"""Topics as declarations: read ``deploy/topics.yaml`` and make the cluster match it.

``ensure_topics`` is idempotent: a topic that exists with the declared partition
count is fine; one with another partition count is a :class:`TopicMismatchError`
(partitions decide key placement and ordering, so we never silently adapt).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.adapters.exceptions import KafkaAdminError, TopicMismatchError, TopicsFileError

_log = logging.getLogger(__name__)


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    replication_factor: int = Field(default=1, ge=1)
    configs: dict[str, str] = Field(default_factory=dict)


class _Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    partitions: int = Field(ge=1)
    key: str = ""
    replication_factor: int | None = Field(default=None, ge=1)
    configs: dict[str, str] = Field(default_factory=dict)


class _TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    defaults: _Defaults = _Defaults()
    topics: list[_Topic]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One declared topic: logical name, shape and configs."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]
    key: str = ""


class TopicOutcome(StrEnum):
    """What ``ensure_topics`` did with one topic."""

    CREATED = "created"
    EXISTS = "exists"


def load_topic_specs(path: Path) -> list[TopicSpec]:
    """Read the topic declarations; a malformed file names the offending entry."""
    try:
        raw = yaml.safe_load(path.read_text())
        parsed = _TopicsFile.model_validate(raw)
    except OSError as exc:
        raise TopicsFileError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TopicsFileError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TopicsFileError(f"{path}: {where}: {first['msg']}", field=where) from exc
    names = [topic.name for topic in parsed.topics]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TopicsFileError(f"{path}: topics declared twice: {', '.join(duplicates)}")
    defaults = parsed.defaults
    return [
        TopicSpec(
            name=topic.name,
            partitions=topic.partitions,
            replication_factor=topic.replication_factor or defaults.replication_factor,
            configs={**defaults.configs, **topic.configs},
            key=topic.key,
        )
        for topic in parsed.topics
    ]


def ensure_topics(
    client_config: Mapping[str, str],
    specs: Iterable[TopicSpec],
    *,
    prefix: str = "",
    single_node: bool = False,
    timeout: float = 30.0,
) -> dict[str, TopicOutcome]:
    """Create every declared topic that is missing; check the shape of the others.

    Args:
        client_config: confluent-kafka connection settings.
        specs: the declarations (``load_topic_specs``).
        prefix: prepended to every name (isolated test or staging runs).
        single_node: a one-broker cluster (embedded): replication factor 1 and no
            ``min.insync.replicas`` above it.
        timeout: seconds to wait for the cluster.

    Returns:
        Physical topic name -> created or already existing.

    Raises:
        TopicMismatchError: an existing topic has another partition count.
        KafkaAdminError: the cluster refused a creation (the broker's code kept).

    """
    config: dict[str, Any] = {**client_config, "logger": _log}
    admin = AdminClient(config)
    wanted = {f"{prefix}{spec.name}": spec for spec in specs}
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise KafkaAdminError.from_kafka(exc, "list topics") from exc
    outcomes: dict[str, TopicOutcome] = {}
    mismatches = []
    for name, spec in wanted.items():
        if name in existing:
            found = len(existing[name].partitions)
            if found != spec.partitions:
                mismatches.append(f"{name} has {found} partitions, declared {spec.partitions}")
            outcomes[name] = TopicOutcome.EXISTS
    if mismatches:
        raise TopicMismatchError(
            "topics exist with another shape (change the declaration or migrate the topic): "
            + "; ".join(mismatches)
        )
    to_create = [
        _new_topic(name, spec, single_node=single_node)
        for name, spec in wanted.items()
        if name not in outcomes
    ]
    if to_create:
        futures = admin.create_topics(to_create, operation_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:
                error = exc.args[0]
                if (
                    isinstance(error, KafkaError)
                    and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
                ):
                    outcomes[name] = TopicOutcome.EXISTS  # created by a concurrent caller
                    continue
                raise KafkaAdminError.from_kafka(exc, f"create topic {name}") from exc
            outcomes[name] = TopicOutcome.CREATED
    return outcomes


def _new_topic(name: str, spec: TopicSpec, *, single_node: bool) -> NewTopic:
    configs = dict(spec.configs)
    replication = spec.replication_factor
    if single_node:
        replication = 1
        configs.pop("min.insync.replicas", None)
    return NewTopic(name, spec.partitions, replication, config=configs)
