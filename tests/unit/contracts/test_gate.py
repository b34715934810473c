"""The schema gate: every required pair of versions is compatible; breaking changes are named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streams.adapters.avro import SchemaCatalog
from streams.adapters.contracts.compatibility import check_pair
from streams.adapters.contracts.gate import ContractPaths, check_contracts, lock_new_versions
from streams.adapters.contracts.lock import read_lock
from streams.adapters.contracts.subjects import Compatibility, load_policies, pairs
from streams.cli import main
from tests.unit.adapters.avro_support import FIXTURES_DIR, REPO, SCHEMAS_DIR

CATALOG = SchemaCatalog.from_directory(SCHEMAS_DIR)
POLICIES = load_policies(SCHEMAS_DIR / "subjects.yaml", CATALOG.subjects())
INCOMPATIBLE = REPO / "tests" / "fixtures" / "contracts"


def fixtures(topic: str, version: int) -> list[dict[str, object]]:
    records = json.loads((FIXTURES_DIR / topic / f"v{version}.json").read_text())
    assert isinstance(records, list)
    return records


def required_pairs() -> list[tuple[str, int, int]]:
    """Every (topic, reader, writer) the declared modes require, for every subject."""
    found = []
    for topic in CATALOG.topics():
        mode = POLICIES[f"{topic}-value"].compatibility
        found += [(topic, r, w) for r, w in pairs(mode, len(CATALOG.versions(topic)))]
    return found


@pytest.mark.parametrize(
    ("topic", "reader", "writer"), required_pairs(), ids=lambda v: str(v).replace("pm.", "")
)
def test_every_required_pair_of_versions_is_compatible(
    topic: str, reader: int, writer: int
) -> None:
    found = check_pair(
        CATALOG.version(topic, reader), CATALOG.version(topic, writer), fixtures(topic, writer)
    )
    assert [str(problem) for problem in found] == []


def test_pairs_cover_both_directions_of_expenses_and_backward_of_time_entries() -> None:
    assert ("pm.expenses", 2, 1) in required_pairs()
    assert ("pm.expenses", 1, 2) in required_pairs()
    assert ("pm.time-entries", 2, 1) in required_pairs()
    assert ("pm.time-entries", 1, 2) not in required_pairs()  # BACKWARD_TRANSITIVE, by design


def test_time_entries_v1_readers_cannot_read_v2_which_is_why_the_mode_is_backward() -> None:
    found = check_pair(
        CATALOG.version("pm.time-entries", 1),
        CATALOG.version("pm.time-entries", 2),
        fixtures("pm.time-entries", 2),
    )
    assert any(p.field == "duration_minutes" for p in found)
    assert "forward: v1 readers cannot read v2 records: field duration_minutes: rule " in str(
        found[0]
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (Compatibility.NONE, []),
        (Compatibility.BACKWARD, [(2, 1), (3, 2)]),
        (Compatibility.BACKWARD_TRANSITIVE, [(2, 1), (3, 1), (3, 2)]),
        (Compatibility.FORWARD, [(1, 2), (2, 3)]),
        (Compatibility.FULL, [(2, 1), (1, 2), (3, 2), (2, 3)]),
        (Compatibility.FULL_TRANSITIVE, [(2, 1), (1, 2), (3, 1), (3, 2), (1, 3), (2, 3)]),
    ],
)
def test_pairs_follow_the_registry_modes(
    mode: Compatibility, expected: list[tuple[int, int]]
) -> None:
    assert pairs(mode, 3) == expected


def test_the_repository_contracts_pass_the_gate() -> None:
    report = check_contracts(ContractPaths(SCHEMAS_DIR, FIXTURES_DIR))
    assert report.problems == []
    assert report.unlocked == []
    semvers = {s.subject: s.semvers for s in report.subjects}
    assert semvers["pm.time-entries-value"] == {1: "1.0.0", 2: "2.0.0"}  # major: v1 readers break
    assert semvers["pm.expenses-value"] == {1: "1.0.0", 2: "1.1.0"}  # minor: both ways


@pytest.fixture
def tree(tmp_path: Path) -> ContractPaths:
    """A copy of schemas/ and the fixtures that a test may break."""
    shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")
    shutil.copytree(FIXTURES_DIR, tmp_path / "fixtures")
    return ContractPaths(tmp_path / "schemas", tmp_path / "fixtures")


def add_incompatible_v3(tree: ContractPaths) -> None:
    shutil.copy(
        INCOMPATIBLE / "pm.expenses.v3.incompatible.avsc",
        tree.schemas_dir / "pm.expenses" / "v3.avsc",
    )
    shutil.copy(
        INCOMPATIBLE / "pm.expenses.v3.incompatible.json",
        tree.fixtures_dir / "pm.expenses" / "v3.json",
    )
    with tree.changelog.open("a") as changelog:
        changelog.write("\n## pm.expenses 2.0.0 (v3)\n\n- Deliberately incompatible.\n")


def test_an_incompatible_new_version_is_rejected_naming_the_field_and_the_rule(
    tree: ContractPaths,
) -> None:
    add_incompatible_v3(tree)

    problems = check_contracts(tree).problems

    assert (
        "pm.expenses-value backward: v3 cannot read records written with v1: field cost_center: "
        "rule reader_field_missing_default_value: field added without a default"
    ) in "\n".join(problems)
    assert any(
        "v3 cannot read records written with v2: field receipt_ref: rule missing_union_branch" in p
        for p in problems
    )
    assert not any("forward" in p for p in problems)  # v1 and v2 readers can read v3
    _, locked = lock_new_versions(tree)
    assert locked == []  # an incompatible version is never published


def test_the_cli_gate_fails_with_the_message(
    tree: ContractPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    add_incompatible_v3(tree)
    code = main(
        [
            "schemas",
            "check",
            "--schemas",
            str(tree.schemas_dir),
            "--fixtures",
            str(tree.fixtures_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "PROBLEM pm.expenses-value backward: v3 cannot read records written with v1" in out
    assert "field cost_center: rule reader_field_missing_default_value" in out
    assert "v3 is not published" in out


def test_an_edited_published_version_is_named_with_its_field(tree: ContractPaths) -> None:
    path = tree.schemas_dir / "pm.time-entries" / "v1.avsc"
    schema = json.loads(path.read_text())
    schema["fields"][6]["type"] = "long"  # duration_minutes: int -> long
    path.write_text(json.dumps(schema, indent=2) + "\n")

    problems = check_contracts(tree).problems

    assert problems == [
        "pm.time-entries-value v1 was edited after publication (the wire format changed): "
        "duration_minutes changed; rule: a published version is never edited - restore "
        "pm.time-entries/v1.avsc and publish the change as a new version"
    ]


def test_a_doc_only_edit_of_a_published_version_is_caught_too(tree: ContractPaths) -> None:
    path = tree.schemas_dir / "ref.entities" / "v1.avsc"
    schema = json.loads(path.read_text())
    schema["fields"][0]["doc"] = "Better words."
    schema["fields"].append({"name": "x", "type": "int", "default": 0, "doc": "Sneaked in."})
    path.write_text(json.dumps(schema, indent=2) + "\n")

    (problem,) = check_contracts(tree).problems

    assert "ref.entities-value v1 was edited after publication (the wire format changed)" in problem
    assert "entity_id changed, x added" in problem


def test_a_removed_published_version_is_an_error(tree: ContractPaths) -> None:
    (tree.schemas_dir / "pm.expenses" / "v2.avsc").unlink()
    problems = check_contracts(tree).problems
    assert any(
        "pm.expenses-value v2 is in published.lock but its schema file is gone" in p
        for p in problems
    )


def test_a_new_compatible_version_is_locked_by_appending(tree: ContractPaths) -> None:
    # the next version of ref.fx-rates, whichever it is (real versions get added over time)
    topic_dir = tree.schemas_dir / "ref.fx-rates"
    newest = max(int(p.stem[1:]) for p in topic_dir.glob("v*.avsc"))
    nxt = newest + 1
    schema = json.loads((topic_dir / f"v{newest}.avsc").read_text())
    schema["fields"].append(
        {"name": "vat_id", "type": ["null", "string"], "default": None, "doc": "VAT id."}
    )
    (topic_dir / f"v{nxt}.avsc").write_text(json.dumps(schema, indent=2) + "\n")
    fixture = json.loads((tree.fixtures_dir / "ref.fx-rates" / f"v{newest}.json").read_text())
    (tree.fixtures_dir / "ref.fx-rates" / f"v{nxt}.json").write_text(json.dumps(fixture))
    before = read_lock(tree.lock_file)
    assert not check_contracts(tree).ok  # not locked, and no changelog entry yet

    with tree.changelog.open("a") as changelog:
        changelog.write(f"\n## ref.fx-rates 1.{nxt - 1}.0 (v{nxt})\n\n- Added vat_id.\n")
    _, locked = lock_new_versions(tree)

    assert [(sv.subject, sv.version) for sv in locked] == [("ref.fx-rates-value", nxt)]
    after = read_lock(tree.lock_file)
    assert {k: after[k] for k in before} == before  # existing entries untouched
    assert check_contracts(tree).ok


def test_a_changelog_semver_that_contradicts_compatibility_is_reported(tree: ContractPaths) -> None:
    text = tree.changelog.read_text().replace(
        "## pm.expenses 1.1.0 (v2)", "## pm.expenses 2.0.0 (v2)"
    )
    tree.changelog.write_text(text)
    assert check_contracts(tree).problems == [
        "CHANGELOG.md: pm.expenses v2 is listed as 2.0.0, "
        "but its compatibility with v1 makes it 1.1.0"
    ]


def test_a_decimal_scale_change_the_avro_checker_ignores_is_caught(tree: ContractPaths) -> None:
    v3 = json.loads((tree.schemas_dir / "pm.expenses" / "v2.avsc").read_text())
    amount = next(f for f in v3["fields"] if f["name"] == "amount")
    amount["type"]["scale"] = 2
    v3["fields"].append({"name": "note", "type": "string", "default": "", "doc": "A note."})
    (tree.schemas_dir / "pm.expenses" / "v3.avsc").write_text(json.dumps(v3, indent=2) + "\n")
    records = json.loads((tree.fixtures_dir / "pm.expenses" / "v2.json").read_text())
    for record, amount_2dp in zip(records, ["890.00", "0.45"], strict=True):
        record["amount"] = amount_2dp
    (tree.fixtures_dir / "pm.expenses" / "v3.json").write_text(json.dumps(records))

    problems = check_contracts(tree).problems

    assert any(
        "backward: v3 cannot read records written with v1: field amount: rule logical_type_changed"
        in p
        and "v1 has logicalType=decimal, precision=20, scale=4" in p
        for p in problems
    )
    assert any("forward: v2 readers cannot read v3 records: field amount" in p for p in problems)
