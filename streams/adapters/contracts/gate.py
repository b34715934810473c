"""The schema gate: every subject's versions checked as contracts, every problem listed.

For each subject (``<topic>-value``) :func:`check_contracts` verifies that

* every pair of versions its declared mode requires is compatible (Apache Avro's
  checker and a fastavro round trip of the writer version's fixtures);
* every version has fixture records (``tests/fixtures/avro/<topic>/v<N>.json``);
* no published version changed since it was locked (``schemas/published.lock``)
  and every version is locked (published deliberately, after review);
* ``schemas/CHANGELOG.md`` has an entry for every version, with the semantic
  version its compatibility implies: a major bump when a reader of the previous
  version cannot read it, a minor bump when both read each other, a patch when
  only documentation changed.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from streams.adapters.avro.catalog import SchemaCatalog, SchemaVersion, same_writer_schema
from streams.adapters.contracts.compatibility import check_pair, compatible
from streams.adapters.contracts.lock import (
    Fingerprint,
    edits,
    fingerprint,
    read_lock,
    write_lock,
)
from streams.adapters.contracts.subjects import Compatibility, load_policies, pairs

__all__ = [
    "ContractPaths",
    "GateReport",
    "SubjectReport",
    "check_contracts",
    "lock_new_versions",
    "semantic_versions",
]

_CHANGELOG_ENTRY: Final = re.compile(
    r"^##\s+(?P<topic>[\w.-]+)\s+(?P<semver>\d+\.\d+\.\d+)\s+\(v(?P<version>\d+)\)", re.MULTILINE
)


@dataclass(frozen=True, slots=True)
class ContractPaths:
    """Where the gate reads from: schemas, fixtures and the contract files."""

    schemas_dir: Path
    fixtures_dir: Path

    @property
    def subjects_file(self) -> Path:
        """``schemas/subjects.yaml``: each subject's compatibility mode."""
        return self.schemas_dir / "subjects.yaml"

    @property
    def lock_file(self) -> Path:
        """``schemas/published.lock``: fingerprints of published versions."""
        return self.schemas_dir / "published.lock"

    @property
    def changelog(self) -> Path:
        """``schemas/CHANGELOG.md``: one entry per subject version."""
        return self.schemas_dir / "CHANGELOG.md"


@dataclass(slots=True)
class SubjectReport:
    """What was checked for one subject."""

    subject: str
    compatibility: Compatibility
    semvers: dict[int, str]
    pairs: list[tuple[int, int]]
    fixtures: int

    def summary(self) -> str:
        """One line: subject, mode, versions with their semantic versions, what was checked."""
        versions = ", ".join(f"v{v} {s}" for v, s in self.semvers.items())
        return (
            f"{self.subject:28} {self.compatibility.value:20} {versions:24} "
            f"{len(self.pairs)} pair(s), {self.fixtures} fixture(s)"
        )


@dataclass(slots=True)
class GateReport:
    """The gate's verdict: per-subject summaries and every problem found."""

    subjects: list[SubjectReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unlocked: list[SchemaVersion] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if nothing is wrong (unlocked versions count as wrong)."""
        return not self.problems and not self.unlocked


def semantic_versions(history: list[SchemaVersion]) -> dict[int, str]:
    """Return the semantic version each schema version's compatibility implies."""
    major, minor, patch = 1, 0, 0
    result = {history[0].version: "1.0.0"} if history else {}
    for previous, current in itertools.pairwise(history):
        if same_writer_schema(previous.parsed, current.parsed):
            patch += 1
        elif compatible(current, previous) and compatible(previous, current):
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
        result[current.version] = f"{major}.{minor}.{patch}"
    return result


def _fixtures(paths: ContractPaths, sv: SchemaVersion, problems: list[str]) -> list[Any]:
    path = paths.fixtures_dir / sv.topic / f"v{sv.version}.json"
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{sv.subject} v{sv.version}: no readable fixtures at {path}: {exc}")
        return []
    if not isinstance(records, list) or not records:
        problems.append(f"{sv.subject} v{sv.version}: {path} must be a non-empty JSON array")
        return []
    return records


def _check_lock(sv: SchemaVersion, locked: Fingerprint | None, report: GateReport) -> None:
    if locked is None:
        report.unlocked.append(sv)
        return
    now = fingerprint(sv)
    changes = edits(locked, now)
    if changes:
        kind = (
            "the wire format changed"
            if locked.canonical_sha256 != now.canonical_sha256
            else "documentation only"
        )
        report.problems.append(
            f"{sv.subject} v{sv.version} was edited after publication ({kind}): "
            f"{', '.join(changes)}; rule: a published version is never edited - restore "
            f"{sv.topic}/v{sv.version}.avsc and publish the change as a new version"
        )


def _check_changelog(paths: ContractPaths, report: GateReport) -> None:
    try:
        text = paths.changelog.read_text(encoding="utf-8")
    except OSError as exc:
        report.problems.append(f"{paths.changelog}: cannot read: {exc}")
        return
    entries = {
        (m["topic"], int(m["version"])): m["semver"] for m in _CHANGELOG_ENTRY.finditer(text)
    }
    for sub in report.subjects:
        topic = sub.subject.removesuffix("-value")
        for version, semver in sub.semvers.items():
            written = entries.get((topic, version))
            if written is None:
                report.problems.append(
                    f"{paths.changelog.name}: no entry '## {topic} {semver} (v{version})'"
                )
            elif written != semver:
                report.problems.append(
                    f"{paths.changelog.name}: {topic} v{version} is listed as {written}, but "
                    f"its compatibility with v{version - 1} makes it {semver}"
                )


def check_contracts(paths: ContractPaths) -> GateReport:
    """Check every subject's versions as contracts (see the module docstring).

    Raises:
        SchemaCatalogError: A schema file is unreadable or not valid Avro.
        ContractFileError: ``subjects.yaml`` or ``published.lock`` is malformed.

    """
    catalog = SchemaCatalog.from_directory(paths.schemas_dir)
    policies = load_policies(paths.subjects_file, catalog.subjects())
    lock = read_lock(paths.lock_file)
    report = GateReport()
    for topic in catalog.topics():
        history = list(catalog.history(topic))
        policy = policies[history[0].subject]
        fixtures = {sv.version: _fixtures(paths, sv, report.problems) for sv in history}
        required = pairs(policy.compatibility, len(history))
        for reader, writer in required:
            found = check_pair(history[reader - 1], history[writer - 1], fixtures[writer])
            report.problems += [str(problem) for problem in found]
        for sv in history:
            _check_lock(sv, lock.pop((sv.subject, sv.version), None), report)
        report.subjects.append(
            SubjectReport(
                policy.subject,
                policy.compatibility,
                semantic_versions(history),
                required,
                sum(len(f) for f in fixtures.values()),
            )
        )
    report.problems += [
        f"{subject} v{version} is in {paths.lock_file.name} but its schema file is gone; "
        "rule: a published version is never removed"
        for subject, version in sorted(lock)
    ]
    _check_changelog(paths, report)
    return report


def lock_new_versions(paths: ContractPaths) -> tuple[GateReport, list[SchemaVersion]]:
    """Append the fingerprints of versions not yet locked, if the gate passes otherwise.

    Existing entries are never rewritten. Nothing is written while any other
    problem stands (an incompatible version must not be published).

    Returns:
        The gate report and the versions that were locked now (empty if refused).

    """
    report = check_contracts(paths)
    if report.problems or not report.unlocked:
        return report, []
    entries = list(read_lock(paths.lock_file).values())
    entries += [fingerprint(sv) for sv in report.unlocked]
    write_lock(paths.lock_file, entries)
    locked, report.unlocked = report.unlocked, []
    return report, locked
