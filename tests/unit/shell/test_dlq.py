from __future__ import annotations

from datetime import UTC, datetime

from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.adapters.dlq import SourceRecord, build_dead_letter
from streams.adapters.exceptions import BadMagicByteError
from streams.domain.exceptions import MissingReferenceError
from streams.settings import Settings

RECORD = SourceRecord(
    "pm.time-entries",
    3,
    42,
    b"TE-1",
    b"\x07garbage",
    [("traceparent", b"00-x")],
    timestamp_ms=1_790_000_000_000,
)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def raised(error: Exception) -> Exception:
    try:
        raise error
    except Exception as exc:
        return exc


def test_dead_letter_keeps_the_original_bytes_headers_and_source_position() -> None:
    letter = build_dead_letter(
        RECORD,
        raised(BadMagicByteError("first byte 0x07", schema_id=None)),
        processor="w1",
        now=NOW,
    )
    envelope = letter.envelope
    assert (envelope["key"], envelope["value"]) == (b"TE-1", b"\x07garbage")
    assert envelope["headers"] == [{"key": "traceparent", "value": b"00-x"}]
    assert (envelope["source_topic"], envelope["source_partition"], envelope["source_offset"]) == (
        "pm.time-entries",
        3,
        42,
    )
    assert envelope["error_code"] == letter.code == "BAD_MAGIC_BYTE"
    assert envelope["error_class"] == "streams.adapters.exceptions.BadMagicByteError"
    assert envelope["retryable"] is False
    assert "Traceback" in envelope["stack_trace"]
    assert envelope["first_failed_at"] == envelope["last_failed_at"] == NOW
    assert ("__dlq.errors.code", b"BAD_MAGIC_BYTE") in letter.headers
    assert ("__dlq.errors.offset", b"42") in letter.headers


def test_dead_letter_of_a_missing_reference_is_retryable_and_names_the_key() -> None:
    letter = build_dead_letter(
        RECORD, raised(MissingReferenceError("project", "P-404")), processor="w1", now=NOW
    )
    assert letter.envelope["retryable"] is True
    assert letter.code == "MISSING_REFERENCE"
    assert "P-404" in letter.envelope["error_message"]


def test_an_unexpected_exception_is_an_internal_error_not_a_crash() -> None:
    letter = build_dead_letter(RECORD, raised(ZeroDivisionError("boom")), processor="w1", now=NOW)
    assert letter.code == "INTERNAL_ERROR"
    assert letter.envelope["error_class"] == "builtins.ZeroDivisionError"


def test_every_dead_letter_encodes_with_the_envelope_schema() -> None:
    codec = AvroCodec(SchemaCatalog.from_directory(Settings().schemas_dir))
    letter = build_dead_letter(RECORD, raised(ValueError("x")), processor="w1", now=NOW)
    decoded = codec.decode("ledgerstream.dlq", codec.encode("ledgerstream.dlq", letter.envelope))
    assert decoded.record["value"] == b"\x07garbage"
    assert decoded.record["error_message"] == "x"
