"""acct.ledger-commands v2 and pm.sync-feedback v2: v1 records read into the new models.

v2 of the commands adds ``late_for_period`` and ``related_source_ids``; v2 of the
feedback adds ``BOOKED``/``REJECTED`` and ``late_for_period``. Records written with
v1 (by a worker before the upgrade) decode into the v2 domain models with the
defaults, and the new fields leave ``command_id`` alone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.avro.jsonform import from_json_form
from streams.domain.commands import (
    CommandDraft,
    FxProvenance,
    Leg,
    PostLedgerEntry,
    RateType,
    Side,
    build_command,
)
from streams.domain.feedback import FeedbackStatus, SyncFeedback
from tests.unit.adapters.avro_support import PinnedSource, fixture_cases
from tests.unit.domain.builders import entity, source_for, time_entry

COMMANDS = "acct.ledger-commands"
FEEDBACK = "pm.sync-feedback"


def _v1_bytes(catalog: SchemaCatalog, topic: str, index: int) -> bytes:
    case = next(c for c in fixture_cases() if (c.topic, c.version, c.index) == (topic, 1, index))
    record = from_json_form(catalog.version(topic, 1).parsed, case.record)
    assert isinstance(record, dict)
    return AvroCodec(PinnedSource(catalog, topic, 1)).encode(topic, record)


def test_a_v1_command_reads_into_the_v2_model_with_the_defaults(catalog: SchemaCatalog) -> None:
    decoded = AvroCodec(catalog).decode(COMMANDS, _v1_bytes(catalog, COMMANDS, 0))

    assert decoded.version == 1
    command = PostLedgerEntry.model_validate(decoded.record)
    assert command.late_for_period is None
    assert command.related_source_ids == ()


def test_a_v1_feedback_reads_into_the_v2_model_with_the_defaults(catalog: SchemaCatalog) -> None:
    decoded = AvroCodec(catalog).decode(FEEDBACK, _v1_bytes(catalog, FEEDBACK, 1))

    assert decoded.version == 1
    feedback = SyncFeedback.model_validate(decoded.record)
    assert feedback.status is FeedbackStatus.RELEASED
    assert feedback.late_for_period is None


def test_new_statuses_and_fields_round_trip_through_v2(catalog: SchemaCatalog) -> None:
    codec = AvroCodec(catalog)
    for case in (c for c in fixture_cases() if (c.topic, c.version) == (FEEDBACK, 2)):
        record = from_json_form(catalog.version(FEEDBACK, 2).parsed, case.record)
        assert isinstance(record, dict)
        data = codec.encode(FEEDBACK, record)
        back = SyncFeedback.model_validate(codec.decode(FEEDBACK, data).record)
        assert back.model_dump() == SyncFeedback.model_validate(record).model_dump()
    v2 = [c for c in fixture_cases() if (c.topic, c.version) == (FEEDBACK, 2)]
    statuses = {c.record["status"] for c in v2}
    assert {"BOOKED", "REJECTED"} <= statuses


def _draft(**extra: object) -> CommandDraft:
    return CommandDraft(
        effect="revenue",
        journal="TIME",
        effective_date=date(2026, 3, 31),
        transaction_currency="EUR",
        legs=(
            Leg("1150", Side.DEBIT, Decimal("10.00")),
            Leg("4000", Side.CREDIT, Decimal("10.00")),
        ),
        source=source_for(time_entry()),
        rule_version="r1",
        memo="m",
        **extra,  # type: ignore[arg-type]
    )


def test_the_new_fields_do_not_change_command_ids_and_encode_as_v2(catalog: SchemaCatalog) -> None:
    fx = FxProvenance(
        rate=Decimal("1.1"), rate_type=RateType.SPOT, rate_date=date(2026, 3, 31), source="ecb"
    )
    plain = build_command(entity(), _draft(), fx)
    late = build_command(
        entity(), _draft(late_for_period="2026-02", related_source_ids=("TE-1", "TE-2")), fx
    )

    assert plain.command_id == late.command_id
    assert (plain.late_for_period, plain.related_source_ids) == (None, ())
    assert (late.late_for_period, late.related_source_ids) == ("2026-02", ("TE-1", "TE-2"))
    codec = AvroCodec(catalog)
    decoded = codec.decode(COMMANDS, codec.encode(COMMANDS, late.model_dump()))
    assert decoded.version == 2
    assert PostLedgerEntry.model_validate(decoded.record) == late
