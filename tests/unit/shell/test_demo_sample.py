from __future__ import annotations

from decimal import Decimal

from streams.demo import sample
from streams.demo.runner import is_balanced


def test_the_sample_stream_is_deterministic_and_marks_its_broken_records() -> None:
    first = list(sample.time_entries(1000))
    assert first == list(sample.time_entries(1000))
    broken = [r for r in first if r.expect_dead_letter]
    assert [r.key for r in broken] == ["TE-0000500", "TE-0001000"]
    assert {r.corruption for r in broken} <= {None, "bad_magic", "truncate"}


def test_the_sample_organisation_spans_three_currencies_and_intercompany_work() -> None:
    assert {e["base_currency"] for e in sample.ENTITIES} == {"USD", "EUR", "JPY"}
    entries = [r.value for r in sample.time_entries(2000) if r.value]
    employees = {e["employee_id"]: e["entity_id"] for e in sample.EMPLOYEES}
    projects = {p["project_id"]: p["entity_id"] for p in sample.PROJECTS}
    assert any(employees[e["employee_id"]] != projects.get(e["project_id"]) for e in entries)
    assert any(not e["billable"] for e in entries)


def test_is_balanced_checks_both_currencies_independently() -> None:
    line = {"side": "DEBIT", "amount": Decimal("1.00"), "base_amount": Decimal("1.08")}
    credit = {"side": "CREDIT", "amount": Decimal("1.00"), "base_amount": Decimal("1.08")}
    assert is_balanced({"lines": [line, credit]})
    assert not is_balanced({"lines": [line, credit | {"base_amount": Decimal("1.07")}]})
    assert not is_balanced({"lines": [line, credit | {"amount": Decimal("0.99")}]})
