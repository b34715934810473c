"""The posting command: balanced by construction, deterministic ids, Avro-shaped dump."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streams.domain.accounts import Account, resolve_account
from streams.domain.commands import (
    CommandDraft,
    Dimensions,
    FxProvenance,
    Leg,
    PostLedgerEntry,
    RateType,
    Side,
    build_command,
    command_id,
)
from streams.domain.exceptions import UnbalancedCommandError
from tests.unit.domain.builders import entity, source_for, time_entry

D = Decimal
ON = date(2026, 3, 31)


def fx(rate: str) -> FxProvenance:
    return FxProvenance(rate=D(rate), rate_type=RateType.SPOT, rate_date=ON, source="ecb")


def draft(*legs: Leg, currency: str = "EUR") -> CommandDraft:
    return CommandDraft(
        effect="test",
        journal="TEST",
        effective_date=ON,
        transaction_currency=currency,
        legs=legs,
        source=source_for(time_entry()),
        rule_version="r1",
        memo="test",
    )


def test_command_id_is_uuid5_of_the_documented_name() -> None:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://ledgerstream.io/commands")
    expected = str(uuid.uuid5(namespace, "time_entry:TE-1:3:r1:revenue"))
    assert command_id("time_entry", "TE-1", 3, "r1", "revenue") == expected


def test_accounts_resolve_through_overrides() -> None:
    assert Account.UNBILLED_RECEIVABLES.value == "1150"
    assert Account.ROUNDING.value == "7950"
    assert resolve_account(Account.ACCOUNTS_RECEIVABLE, {}) == "1100"
    assert resolve_account(Account.ACCOUNTS_RECEIVABLE, {"1100": "11000"}) == "11000"


def test_base_residual_goes_to_rounding_on_the_balancing_side() -> None:
    # EUR at 1.5: 0.05 -> 0.075 -> 0.08 (HALF_UP) twice = 0.16 debit; 0.10 -> 0.15 credit
    # residual 0.01 more debit -> 7950 CREDIT amount 0.00, base 0.01
    cmd = build_command(
        entity(),
        draft(
            Leg("1100", Side.DEBIT, D("0.05")),
            Leg("1100", Side.DEBIT, D("0.05")),
            Leg("4000", Side.CREDIT, D("0.10")),
        ),
        fx("1.5"),
    )
    assert [(ln.line_no, ln.account, ln.side, ln.amount, ln.base_amount) for ln in cmd.lines] == [
        (1, "1100", Side.DEBIT, D("0.05"), D("0.08")),
        (2, "1100", Side.DEBIT, D("0.05"), D("0.08")),
        (3, "4000", Side.CREDIT, D("0.10"), D("0.15")),
        (4, "7950", Side.CREDIT, D("0.00"), D("0.01")),
    ]


def test_residual_on_the_debit_side_and_through_overrides() -> None:
    # mirror image: credits 0.08 + 0.08, debit 0.15 -> 7950 (overridden to 7999) DEBIT 0.01
    cmd = build_command(
        entity(account_overrides={"7950": "7999"}),
        draft(
            Leg("4000", Side.CREDIT, D("0.05")),
            Leg("4000", Side.CREDIT, D("0.05")),
            Leg("1100", Side.DEBIT, D("0.10"), Dimensions(project_id="P-1")),
        ),
        fx("1.5"),
    )
    last = cmd.lines[-1]
    assert (last.account, last.side, last.amount, last.base_amount) == (
        "7999",
        Side.DEBIT,
        D("0.00"),
        D("0.01"),
    )
    assert last.dimensions == Dimensions()  # the first leg's (empty) dimensions


def test_negative_leg_is_posted_on_the_other_side() -> None:
    cmd = build_command(
        entity(),
        draft(Leg("4000", Side.DEBIT, D("-10.00")), Leg("1100", Side.DEBIT, D("10.00"))),
        fx("2"),
    )
    assert [(ln.side, ln.amount, ln.base_amount) for ln in cmd.lines] == [
        (Side.CREDIT, D("10.00"), D("20.00")),
        (Side.DEBIT, D("10.00"), D("20.00")),
    ]


def valid_record() -> dict[str, Any]:
    cmd = build_command(
        entity(),
        draft(Leg("1150", Side.DEBIT, D("10.00")), Leg("4000", Side.CREDIT, D("10.00"))),
        fx("1.1"),
    )
    return cmd.model_dump()


def with_line(record: dict[str, Any], i: int, **changes: Any) -> dict[str, Any]:
    lines = [dict(line) for line in record["lines"]]
    lines[i] |= changes
    return record | {"lines": lines}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: with_line(r, 0, amount=D("10.01")), "lines"),
        (lambda r: with_line(r, 0, base_amount=D("11.01")), "lines"),
        (lambda r: r | {"lines": r["lines"][:1]}, "lines"),
        (lambda r: with_line(r, 1, line_no=3), "lines.1.line_no"),
        (
            lambda r: with_line(with_line(r, 0, amount=D("-10.00")), 1, amount=D("-10.00")),
            "lines.0.amount",
        ),
        (
            lambda r: with_line(with_line(r, 0, amount=D("10.001")), 1, amount=D("10.001")),
            "lines.0.amount",
        ),
        (
            lambda r: with_line(
                with_line(r | {"transaction_currency": "JPY"}, 0, amount=D("10.50")),
                1,
                amount=D("10.50"),
            ),
            "lines.0.amount",
        ),
    ],
)
def test_unbalanced_or_malformed_commands_cannot_be_built(mutate: Any, field: str) -> None:
    with pytest.raises(UnbalancedCommandError) as info:
        PostLedgerEntry.model_validate(mutate(valid_record()))
    assert info.value.field == field
    assert (info.value.code, info.value.retryable) == ("UNBALANCED_COMMAND", False)


def test_amounts_are_checked_against_the_exponent_by_value() -> None:
    # 10.00 is a whole number of yen, so the same lines are valid in JPY
    record = valid_record() | {"transaction_currency": "JPY"}
    assert PostLedgerEntry.model_validate(record).transaction_currency == "JPY"


def test_unbalanced_legs_are_refused_by_the_builder() -> None:
    with pytest.raises(UnbalancedCommandError):
        build_command(
            entity(),
            draft(Leg("1150", Side.DEBIT, D("10.00")), Leg("4000", Side.CREDIT, D("9.99"))),
            fx("1"),
        )


def test_model_dump_has_the_avro_record_shape_and_round_trips() -> None:
    record = valid_record()
    assert list(record) == [
        "command_id", "action", "reverses", "entity_id", "journal", "effective_date",
        "period", "transaction_currency", "base_currency", "fx", "lines", "source",
        "approval", "rule_version", "memo", "trace_id", "span_id", "late_for_period",
        "related_source_ids",
    ]  # fmt: skip
    assert set(record["fx"]) == {
        "rate", "rate_type", "rate_date", "source", "quoted_at", "contract_id"
    }  # fmt: skip
    assert set(record["lines"][0]) == {
        "line_no", "account", "side", "amount", "base_amount", "memo", "dimensions"
    }  # fmt: skip
    assert set(record["lines"][0]["dimensions"]) == {
        "project_id", "customer_id", "task_id", "employee_id", "tax_code",
        "counterparty_entity_id", "cost_class",
    }  # fmt: skip
    assert set(record["source"]) == {
        "system", "type", "id", "version", "topic", "partition", "offset", "event_time"
    }  # fmt: skip
    assert record["action"] == "POST"
    assert isinstance(record["lines"][0]["amount"], Decimal)
    assert PostLedgerEntry.model_validate(record).model_dump() == record


parts = st.text(
    alphabet=st.characters(exclude_characters=":", exclude_categories=["Cs"]), max_size=12
)


@given(parts, parts, st.integers(min_value=1, max_value=10**6), parts, parts)
def test_command_id_is_stable_and_differs_when_any_part_differs(
    source_type: str, source_id: str, version: int, rule_version: str, effect: str
) -> None:
    args = (source_type, source_id, version, rule_version, effect)
    first = command_id(*args)
    assert first == command_id(*args)
    assert uuid.UUID(first).version == 5
    for i in range(5):
        changed: list[Any] = list(args)
        changed[i] = changed[i] + 1 if i == 2 else changed[i] + "x"
        assert command_id(*changed) != first
