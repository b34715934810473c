"""What ``ledgerstream schemas check|lock|docs|register`` do, printed for a terminal.

Each function prints its report to ``out`` and returns the process exit code
(0 ok, 1 a problem was found); the command line only parses options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, TextIO

from confluent_kafka.schema_registry import SchemaRegistryClient

from streams.adapters.avro.catalog import SchemaCatalog
from streams.adapters.contracts.eventdocs import render_events_doc
from streams.adapters.contracts.gate import (
    ContractPaths,
    GateReport,
    check_contracts,
    lock_new_versions,
)
from streams.adapters.contracts.publish import register_subjects
from streams.adapters.contracts.subjects import load_policies
from streams.adapters.topics import load_topic_specs

__all__ = ["run_check", "run_docs", "run_lock", "run_register"]

OK: Final = 0
FAILED: Final = 1


def _print_report(report: GateReport, out: TextIO) -> None:
    for subject in report.subjects:
        print(f"  {subject.summary()}", file=out)
    for problem in report.problems:
        print(f"  PROBLEM {problem}", file=out)
    for sv in report.unlocked:
        print(
            f"  PROBLEM {sv.subject} v{sv.version} is not published: review it, then run "
            "`ledgerstream schemas lock` to add it to schemas/published.lock",
            file=out,
        )


def run_check(paths: ContractPaths, out: TextIO) -> int:
    """Run the gate; print each subject and every problem."""
    report = check_contracts(paths)
    print(f"schemas check: {len(report.subjects)} subjects in {paths.schemas_dir}", file=out)
    _print_report(report, out)
    problems = len(report.problems) + len(report.unlocked)
    print("schemas check: ok" if report.ok else f"schemas check: {problems} problem(s)", file=out)
    return OK if report.ok else FAILED


def run_lock(paths: ContractPaths, out: TextIO) -> int:
    """Publish (lock) every version not yet locked, unless the gate finds a problem."""
    report, locked = lock_new_versions(paths)
    if report.problems:
        _print_report(report, out)
        print("schemas lock: nothing locked while problems stand", file=out)
        return FAILED
    for sv in locked:
        print(f"  locked {sv.subject} v{sv.version}", file=out)
    print(f"schemas lock: {len(locked)} new version(s) locked in {paths.lock_file}", file=out)
    return OK


def run_docs(
    paths: ContractPaths, topics_file: Path, output: Path, out: TextIO, *, check: bool
) -> int:
    """Write ``docs/events.md`` (or, with ``check``, fail if it is stale)."""
    catalog = SchemaCatalog.from_directory(paths.schemas_dir)
    policies = load_policies(paths.subjects_file, catalog.subjects())
    text = render_events_doc(catalog, policies, load_topic_specs(topics_file))
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if check:
        fresh = current == text
        print(
            f"{output}: {'up to date' if fresh else 'stale: run `ledgerstream schemas docs`'}",
            file=out,
        )
        return OK if fresh else FAILED
    if current != text:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    print(f"{output}: {'unchanged' if current == text else 'written'}", file=out)
    return OK


def run_register(paths: ContractPaths, client: SchemaRegistryClient, out: TextIO) -> int:
    """Set every subject's mode and register every version on a registry (idempotent).

    Raises:
        SchemaNotRegisteredError: The registry rejected a version.
        RegistryUnavailableError: The registry could not be asked.

    """
    catalog = SchemaCatalog.from_directory(paths.schemas_dir)
    policies = load_policies(paths.subjects_file, catalog.subjects())
    registrations = register_subjects(client, catalog, policies)
    for registration in registrations:
        print(f"  {registration}", file=out)
    created = sum(r.created for r in registrations)
    print(
        f"schemas register: {len(registrations)} version(s) of {len(policies)} subject(s), "
        f"{created} newly registered",
        file=out,
    )
    return OK
