"""The period close on the mixed month, offline: the committed YAML's rules and the dry run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.demo.month import mixed_month
from streams.domain.commands import CommandAction
from streams.dryrun import dry_run
from streams.ops import close
from streams.ops.exceptions import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "deploy" / "period-close.yaml"
RV = "2026.12.1"


@pytest.fixture(scope="module")
def ledger() -> close.Ledger:
    catalog = SchemaCatalog.from_directory(ROOT / "schemas")
    codec = AvroCodec(catalog)
    run = dry_run(
        ROOT / "examples/month/reference.jsonl",
        ROOT / "examples/month/events.jsonl",
        catalog=catalog,
        rule_version=RV,
    )
    month = mixed_month()

    def decoded(topic: str, value: Any, version: int | None) -> Any:
        if value is None:
            return None
        return codec.decode(topic, codec.encode(topic, value, version=version)).record

    return close.ledger_of(
        run.commands,
        [(r.topic, r.key, r.value) for r in month.reference],
        [
            (r.topic, r.key, decoded(r.topic, r.value, r.schema_version))
            for r in month.events
            if r.topic in {"pm.time-entries", "pm.expenses"}
        ],
    )


def test_the_month_allocates_its_shared_expense_to_the_penny(ledger: close.Ledger) -> None:
    plan = close.plan_allocation(
        close.load_config(CONFIG), ledger, "GB10", "2026-09", rule_version=RV
    )
    assert [c.action for c in plan.send] == [CommandAction.POST] * 3
    assert [(c.lines[0].dimensions.project_id, c.lines[0].amount) for c in plan.send] == [
        ("P-2010", Decimal("14.74")),
        ("P-2020", Decimal("20.82")),
        ("P-2030", Decimal("8.80")),
    ]
    assert plan.report[0].startswith(
        "allocation GB10-SHARED v1 GB10 2026-09: pool 6100 44.36 GBP from 1 record(s) by hours"
    )
    assert "  P-2010          1426.65 +      14.74 =      1441.39" in plan.report
    # the pool's commands re-run with the allocation already sent: nothing new
    ledger_after = close.Ledger(
        commands=[*ledger.commands, *plan.send],
        book=ledger.book,
        entries=ledger.entries,
        expenses=ledger.expenses,
    )
    again = close.plan_allocation(
        close.load_config(CONFIG), ledger_after, "GB10", "2026-09", rule_version=RV
    )
    assert (again.send, again.unchanged) == ((), 3)


def test_the_month_eliminates_the_intercompany_recharge_without_exceptions(
    ledger: close.Ledger,
) -> None:
    plan = close.plan_consolidation(
        close.load_config(CONFIG), ledger, "HARBOR", "2026-09", rule_version=RV
    )
    assert plan.exceptions == ()
    (command,) = plan.send
    assert command.entity_id == "HARBOR-CONS"
    rows = [(ln.account, ln.side, ln.amount) for ln in command.lines]
    assert rows == [
        ("2400", "DEBIT", Decimal("1478.60")),
        ("1200", "CREDIT", Decimal("1465.42")),
        ("3900", "CREDIT", Decimal("13.18")),
    ]


def test_bad_arguments_and_config_are_one_precise_line(
    ledger: close.Ledger, tmp_path: Path
) -> None:
    config = close.load_config(CONFIG)
    with pytest.raises(InvalidArgumentError, match="--period: expected YYYY-MM, got '2026-13'"):
        close.plan_allocation(config, ledger, "GB10", "2026-13", rule_version=RV)
    with pytest.raises(InvalidArgumentError, match="no allocation rule for entity XX"):
        close.plan_allocation(config, ledger, "XX", "2026-09", rule_version=RV)
    with pytest.raises(InvalidArgumentError, match="no consolidation group NOPE"):
        close.plan_consolidation(config, ledger, "NOPE", "2026-09", rule_version=RV)
    bad = tmp_path / "close.yaml"
    bad.write_text("allocation_rules:\n  - rule_id: R\n    version: 0\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"allocation_rules\.0\.version"):
        close.load_config(bad)
