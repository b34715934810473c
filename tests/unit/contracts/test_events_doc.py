"""docs/events.md is generated from the schemas and must be checked in up to date."""

from __future__ import annotations

from streams.adapters.avro import SchemaCatalog
from streams.adapters.contracts.eventdocs import render_events_doc
from streams.adapters.contracts.subjects import load_policies
from streams.adapters.topics import load_topic_specs
from tests.unit.adapters.avro_support import REPO, SCHEMAS_DIR

DOC = REPO / "docs" / "events.md"


def render() -> str:
    catalog = SchemaCatalog.from_directory(SCHEMAS_DIR)
    policies = load_policies(SCHEMAS_DIR / "subjects.yaml", catalog.subjects())
    return render_events_doc(catalog, policies, load_topic_specs(REPO / "deploy" / "topics.yaml"))


def test_events_doc_is_up_to_date() -> None:
    assert DOC.read_text() == render(), "docs/events.md is stale: run `ledgerstream schemas docs`"


def test_events_doc_lists_every_topic_field_and_version_change() -> None:
    text = render()
    catalog = SchemaCatalog.from_directory(SCHEMAS_DIR)
    for sv in catalog.all_versions():
        assert f"## {sv.topic}\n" in text
        for field in catalog.latest(sv.topic).raw["fields"]:
            assert f"| `{field['name']}` |" in text
    assert "key `entry_id`; 6 partitions; compatibility BACKWARD_TRANSITIVE" in text
    assert '| `business_purpose` | string | `""` | v1 (as `description`) |' in text
    assert "- v2 (1.1.0): renamed `description` to `business_purpose`;" in text
    assert "enum ExpenseCategory: added `TRAINING`" in text
    assert "removed `duration_minutes` (int: Actual minutes worked" in text
