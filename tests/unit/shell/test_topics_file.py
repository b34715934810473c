from __future__ import annotations

from pathlib import Path

import pytest
from streams.adapters.exceptions import TopicsFileError
from streams.adapters.topics import load_topic_specs
from streams.app import state_topics
from streams.settings import Settings

DESIGN_TOPICS = {
    "ref.entities",
    "ref.fx-rates",
    "pm.customers",
    "pm.projects",
    "pm.employees",
    "pm.time-entries",
    "pm.expenses",
    "pm.invoices",
    "pm.payments",
    "ledgerstream.control",
    "acct.ledger-commands",
    "acct.ledger-commands.shadow",
    "acct.ledger-acks",
    "pm.sync-feedback",
    "ledgerstream.dlq",
    # issue 4: operator actions (replay, redrive); not in the table of docs/design.md §2 yet
    "ledgerstream.audit",
    # issues 3/4: project events keyed by ledger unit for the worker's stage 2
    "ledgerstream.ledger-events",
}


def test_the_declaration_lists_every_topic_of_the_design_with_compaction_where_due() -> None:
    specs = {spec.name: spec for spec in load_topic_specs(Settings().topics_file)}
    assert set(specs) == DESIGN_TOPICS
    compacted = {
        name for name, spec in specs.items() if spec.configs.get("cleanup.policy") == "compact"
    }
    assert compacted == {
        "ref.entities",
        "ref.fx-rates",
        "pm.customers",
        "pm.projects",
        "pm.employees",
        "ledgerstream.control",
    }
    assert all(spec.replication_factor == 3 for spec in specs.values())
    audit = specs["ledgerstream.audit"].configs
    assert audit["cleanup.policy"] == "delete"
    assert int(audit["retention.ms"]) >= 365 * 24 * 3600 * 1000  # kept for years
    assert specs["pm.time-entries"].configs["min.insync.replicas"] == "2"


def test_stage_two_scales_past_the_source_topics_and_its_changelog_matches() -> None:
    # issue 11: keyed by entity + customer (not by entity), stage 2 can use many workers
    settings = Settings()
    specs = {spec.name: spec for spec in load_topic_specs(settings.topics_file)}
    stage_two = specs["ledgerstream.ledger-events"].partitions
    assert stage_two >= 2 * max(specs[t].partitions for t in DESIGN_TOPICS if t.startswith("pm."))
    (changelog,) = state_topics(settings)
    assert changelog.partitions == stage_two


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topics: [{name: a, partitions: 0}]", r"topics\.0\.partitions"),
        ("topics: [{name: a, partitions: 1, colour: red}]", r"topics\.0\.colour"),
        ("topics: [{name: a, partitions: 1}, {name: a, partitions: 2}]", "declared twice: a"),
        ("topics: [unclosed", "not valid YAML"),
    ],
)
def test_a_malformed_declaration_names_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(text)
    with pytest.raises(TopicsFileError, match=message):
        load_topic_specs(path)
