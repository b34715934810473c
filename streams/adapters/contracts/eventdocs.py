"""``docs/events.md``: the producer's reference, generated from the ``.avsc`` files.

Every topic with a schema: its subject, Kafka key, partitions, compatibility mode,
current version, each field (type, default, the version it appeared in, doc), the
nested records and enums, and the version history computed from the schemas
themselves (added, removed, renamed and retyped fields, enum symbols). A test keeps
the checked-in file identical to :func:`render_events_doc`'s output.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from streams.adapters.avro.catalog import SchemaCatalog, SchemaVersion
from streams.adapters.contracts.gate import semantic_versions
from streams.adapters.contracts.subjects import SubjectPolicy
from streams.adapters.topics import TopicSpec

__all__ = ["render_events_doc"]

_HEADER: Final = """# Events: the topics upstream producers write and ledgerstream reads

Generated from `schemas/<topic>/v<N>.avsc` by `ledgerstream schemas docs`; do not
edit by hand (a test fails when it is stale). Values are Avro in the Confluent wire
format (magic byte 0, 4-byte schema id, Avro body) under the TopicNameStrategy
subject `<topic>-value`; keys are plain UTF-8 strings. JSON form (for `ledgerstream
produce` and the fixtures): decimals as strings (`"150.00"`), dates `YYYY-MM-DD`,
timestamps ISO-8601 with an offset, to the millisecond; a nullable field as null or
its value. Publishing from Python: `streams.producer`. Changes, with their semantic
versions: [schemas/CHANGELOG.md](../schemas/CHANGELOG.md).
"""


def _named(raw: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every named type defined in a schema, by short and full name."""
    found: dict[str, Mapping[str, Any]] = {}

    def walk(node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for branch in node:
                walk(branch, namespace)
        elif isinstance(node, Mapping):
            if node.get("type") in ("record", "enum", "fixed"):
                space = node.get("namespace", namespace)
                found[node["name"]] = found[f"{space}.{node['name']}"] = node
                namespace = space
            for f in node.get("fields", ()):
                walk(f["type"], namespace)
            for key in ("items", "values"):
                if key in node:
                    walk(node[key], namespace)

    walk(raw, str(raw.get("namespace", "")))
    return found


_LOGICAL: Final = {"date": "date", "timestamp-millis": "timestamp-millis (UTC)"}


def _type(node: Any) -> str:
    """Return a short human form of an Avro type: ``decimal(20,4) | null``, ``array<T>``."""
    if isinstance(node, list):
        others = [_type(b) for b in node if b != "null"]
        return " \\| ".join(others) + (" \\| null" if "null" in node else "")
    if isinstance(node, str):
        return node.rsplit(".", 1)[-1]
    logical, kind = node.get("logicalType"), node.get("type")
    if logical == "decimal":
        shown = f"decimal({node['precision']},{node.get('scale', 0)})"
    elif logical in _LOGICAL:
        shown = _LOGICAL[logical]
    elif kind in ("record", "enum", "fixed"):
        shown = f"{kind} {node['name']}"
    elif kind in ("array", "map"):
        shown = f"{kind}<{_type(node['items' if kind == 'array' else 'values'])}>"
    else:
        shown = _type(kind)
    return shown


def _default(f: Mapping[str, Any]) -> str:
    return f"`{json.dumps(f['default'])}`" if "default" in f else "required"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _since(name: str, aliases: Sequence[str], history: Sequence[SchemaVersion]) -> str:
    for sv in history:
        names = {f["name"] for f in sv.raw["fields"]}
        if name in names:
            return f"v{sv.version}"
        old = next((a for a in aliases if a in names), None)
        if old is not None:
            return f"v{sv.version} (as `{old}`)"
    return "?"


def _field_table(
    record: Mapping[str, Any], history: Sequence[SchemaVersion] | None
) -> Iterator[str]:
    if history is None:  # a nested record: versions are the top-level record's
        yield "| field | type | default | doc |"
        yield "|---|---|---|---|"
    else:
        yield "| field | type | default | since | doc |"
        yield "|---|---|---|---|---|"
    for f in record["fields"]:
        since = "" if history is None else f" {_since(f['name'], f.get('aliases', ()), history)} |"
        yield (
            f"| `{f['name']}` | {_type(f['type'])} | {_default(f)} |{since} "
            f"{_cell(f.get('doc', ''))} |"
        )


def _types(latest: SchemaVersion) -> Iterator[str]:
    seen: set[str] = set()
    for node in _named(latest.raw).values():
        if node is latest.raw or node["name"] in seen:
            continue
        seen.add(node["name"])
        yield ""
        if node["type"] == "record":
            yield f"**record {node['name']}**: {_cell(node.get('doc', ''))}"
            yield ""
            yield from _field_table(node, None)
        elif node["type"] == "enum":
            default = f" (default `{node['default']}`)" if "default" in node else ""
            symbols = ", ".join(f"`{s}`" for s in node["symbols"])
            yield f"**enum {node['name']}**: {symbols}{default}. {_cell(node.get('doc', ''))}"


def _changes(old: SchemaVersion, new: SchemaVersion) -> list[str]:
    before = {f["name"]: f for f in old.raw["fields"]}
    after = {f["name"]: f for f in new.raw["fields"]}
    changes = []
    for name, f in after.items():
        renamed = next((a for a in f.get("aliases", ()) if a in before and a not in after), None)
        if renamed is not None:
            changes.append(f"renamed `{renamed}` to `{name}`")
        elif name not in before:
            changes.append(f"added `{name}` ({_type(f['type'])}, default {_default(f)})")
        elif _type(f["type"]) != _type(before[name]["type"]):
            changes.append(
                f"`{name}` is now {_type(f['type'])} (was {_type(before[name]['type'])})"
            )
    renamed_from = {a for f in after.values() for a in f.get("aliases", ())}
    for name, f in before.items():
        if name not in after and name not in renamed_from:
            changes.append(f"removed `{name}` ({_type(f['type'])}: {_cell(f.get('doc', ''))})")
    old_named, new_named = _named(old.raw), _named(new.raw)
    for name, node in sorted(new_named.items()):
        was = old_named.get(name)
        if "." in name or node.get("type") != "enum" or was is None:
            continue
        added = [s for s in node["symbols"] if s not in was["symbols"]]
        if added:
            changes.append(f"enum {name}: added {', '.join(f'`{s}`' for s in added)}")
    return changes or ["documentation only"]


def _topic(
    history: Sequence[SchemaVersion], policy: SubjectPolicy, spec: TopicSpec | None
) -> Iterator[str]:
    latest = history[-1]
    semvers = semantic_versions(list(history))
    yield f"## {latest.topic}"
    yield ""
    key = f"`{spec.key}`" if spec and spec.key else "not declared"
    partitions = (
        f"{spec.partitions} partition{'s' if spec.partitions != 1 else ''}"
        if spec
        else "topic not declared"
    )
    yield (
        f"Subject `{latest.subject}`; key {key}; {partitions}; compatibility "
        f"{policy.compatibility.value}; current version v{latest.version} "
        f"({semvers[latest.version]}), schema `{latest.raw['namespace']}.{latest.raw['name']}`."
    )
    yield ""
    yield _cell(latest.raw.get("doc", ""))
    yield ""
    yield from _field_table(latest.raw, history)
    yield from _types(latest)
    yield ""
    yield "Version history:"
    yield ""
    for old, new in reversed(list(itertools.pairwise(history))):
        yield f"- v{new.version} ({semvers[new.version]}): " + "; ".join(_changes(old, new)) + "."
    yield f"- v1 (1.0.0): first version, {len(history[0].raw['fields'])} fields."
    yield ""


def render_events_doc(
    catalog: SchemaCatalog, policies: Mapping[str, SubjectPolicy], specs: Sequence[TopicSpec]
) -> str:
    """Return the Markdown of ``docs/events.md`` for every topic in the catalog."""
    by_name = {spec.name: spec for spec in specs}
    lines = [_HEADER, "Topics: " + ", ".join(f"`{t}`" for t in catalog.topics()) + ".", ""]
    for topic in catalog.topics():
        history = catalog.history(topic)
        lines += _topic(history, policies[history[0].subject], by_name.get(topic))
    return "\n".join(lines).rstrip("\n") + "\n"
