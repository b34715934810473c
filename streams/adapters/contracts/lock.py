"""``schemas/published.lock``: the fingerprint of every published schema version.

A published version is never edited. The lock keeps, per version, the SHA-256 of
its Parsing Canonical Form (the wire contract), the SHA-256 of the whole document
(docs, defaults and aliases included) and a short hash of each field, so the gate
can say *which* field of a published version was edited, and whether the edit
changed the wire format or only the documentation. New versions are appended by
``ledgerstream schemas lock``; existing entries are never rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from streams.adapters.avro.catalog import SchemaVersion
from streams.adapters.contracts.exceptions import ContractFileError

__all__ = ["RECORD_KEY", "Fingerprint", "edits", "fingerprint", "read_lock", "write_lock"]

RECORD_KEY: Final = "(record)"  # name, namespace, doc and aliases of the record itself
_FIELD_HASH_CHARS: Final = 16
_HEADER: Final = (
    "Fingerprints of every published schema version; never edit an entry by hand. "
    "`ledgerstream schemas lock` appends new versions; `ledgerstream schemas check` "
    "fails if a published version changed."
)


def _sha256(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The hashes of one published version."""

    subject: str
    version: int
    canonical_sha256: str
    document_sha256: str
    parts: Mapping[str, str] = field(default_factory=dict)


def fingerprint(sv: SchemaVersion) -> Fingerprint:
    """Return the fingerprint of a schema version as it is on disk now."""
    record = {k: v for k, v in sv.raw.items() if k != "fields"}
    parts = {RECORD_KEY: _sha256(record)[:_FIELD_HASH_CHARS]}
    for f in sv.raw.get("fields", []):
        parts[str(f["name"])] = _sha256(f)[:_FIELD_HASH_CHARS]
    return Fingerprint(sv.subject, sv.version, _sha256(sv.canonical_form), _sha256(sv.raw), parts)


def edits(locked: Fingerprint, now: Fingerprint) -> list[str]:
    """Return what changed in a published version since it was locked (empty: nothing).

    Each entry names a field (or ``(record)``) and says whether it was changed,
    added or removed.
    """
    if locked.document_sha256 == now.document_sha256:
        return []
    changed = [
        f"{name} {'changed' if name in now.parts else 'removed'}"
        for name, digest in locked.parts.items()
        if now.parts.get(name) != digest
    ]
    changed += [f"{name} added" for name in now.parts if name not in locked.parts]
    return changed or ["field order changed"]


def read_lock(path: Path) -> dict[tuple[str, int], Fingerprint]:
    """Read the lock file; a missing file is an empty lock.

    Raises:
        ContractFileError: The file is not the JSON this module writes.

    """
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = {}
        for subject, versions in data["subjects"].items():
            for label, entry in versions.items():
                version = int(label.removeprefix("v"))
                entries[(subject, version)] = Fingerprint(
                    subject,
                    version,
                    str(entry["canonical_sha256"]),
                    str(entry["document_sha256"]),
                    {str(k): str(v) for k, v in entry["fields"].items()},
                )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        message = f"malformed lock file: {type(exc).__name__}: {exc}"
        raise ContractFileError(message, path=path) from exc
    return entries


def write_lock(path: Path, entries: Iterable[Fingerprint]) -> None:
    """Write every fingerprint, sorted by subject and version (stable, reviewable diffs)."""
    subjects: dict[str, dict[str, Any]] = {}
    for fp in sorted(entries, key=lambda e: (e.subject, e.version)):
        subjects.setdefault(fp.subject, {})[f"v{fp.version}"] = {
            "canonical_sha256": fp.canonical_sha256,
            "document_sha256": fp.document_sha256,
            "fields": dict(fp.parts),
        }
    document = {"about": _HEADER, "subjects": subjects}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
