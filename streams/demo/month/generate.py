"""Build the mixed month, and write it as the dry run's JSON lines."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from streams.adapters.avro import SchemaCatalog, to_json_form
from streams.demo.month.billing import bill
from streams.demo.month.organisation import FxTable, organisation
from streams.demo.month.work import EventLog, Work
from streams.demo.sample import SampleRecord

__all__ = ["DEFAULT_SEED", "EVENTS_FILE", "REFERENCE_FILE", "Month", "jsonl_line", "mixed_month"]

DEFAULT_SEED: Final = 2026
REFERENCE_FILE: Final = "reference.jsonl"
EVENTS_FILE: Final = "events.jsonl"


@dataclass(frozen=True, slots=True)
class Month:
    """A month of sample data: reference records, then events in the order recorded."""

    reference: tuple[SampleRecord, ...]
    events: tuple[SampleRecord, ...]

    def counts(self) -> dict[str, int]:
        """Count the events per topic (a tombstone counts as an event of its topic)."""
        return dict(sorted(Counter(r.topic for r in self.events).items()))

    def write_jsonl(self, directory: Path, catalog: SchemaCatalog) -> tuple[Path, Path]:
        """Write ``reference.jsonl`` and ``events.jsonl`` for ``ledgerstream dry-run``.

        Args:
            directory: Where to write (created if missing; the files are replaced).
            catalog: The schemas that give each value its JSON form.

        Returns:
            The paths of the reference file and of the events file.

        """
        directory.mkdir(parents=True, exist_ok=True)
        paths = (directory / REFERENCE_FILE, directory / EVENTS_FILE)
        for path, records in zip(paths, (self.reference, self.events), strict=True):
            text = "".join(jsonl_line(record, catalog) + "\n" for record in records)
            path.write_text(text, encoding="utf-8")
        return paths


def jsonl_line(record: SampleRecord, catalog: SchemaCatalog) -> str:
    """Render a record as a dry-run line: topic, key, schema version (if older), JSON-form value.

    A record without ``schema_version`` is written in the version it is shaped like,
    as the codec writes it (``AvroCodec.encode``): the demo sample's time entries
    carry ``duration_minutes``, so they are v1 lines, not v2 lines without
    ``ended_at``.
    """
    line: dict[str, Any] = {"topic": record.topic, "key": record.key}
    value = None
    if record.value is not None:
        version = record.schema_version or _shaped_like(catalog, record.topic, record.value.keys())
        if version is None:
            schema = catalog.latest(record.topic)
        else:
            schema = catalog.version(record.topic, version)
            line["schema_version"] = version
        value = to_json_form(schema.parsed, record.value)
    line["value"] = value
    return json.dumps(line, ensure_ascii=False)


def _shaped_like(catalog: SchemaCatalog, topic: str, keys: Iterable[str]) -> int | None:
    """Return the newest older version whose fields hold every key, if the newest does not."""
    names = set(keys)
    history = catalog.history(topic)
    for schema in reversed(history):
        if names <= {f["name"] for f in schema.raw.get("fields", ())}:
            return None if schema is history[-1] else schema.version
    return None


def mixed_month(seed: int = DEFAULT_SEED) -> Month:
    """Build the mixed month of Harbor Analytics (``streams.demo.month``); deterministic."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not security
    fx = FxTable(rng)
    log = EventLog()
    work = Work(rng, fx, log)
    work.record()
    bill(work, log)
    return Month(reference=(*organisation(), *fx.records), events=log.records())
