"""How operator commands print values: bytes, instants and JSON."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["bytes_text", "instant", "json_default", "plural"]


def bytes_text(raw: bytes | None) -> str:
    """Show a key or header value: its UTF-8 text when printable, else ``0x`` + hex."""
    if raw is None:
        return "(none)"
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return "0x" + raw.hex()
    return text if text.isprintable() else "0x" + raw.hex()


def instant(value: datetime | None) -> str:
    """Show an aware instant in UTC to the second, ``2026-11-26T01:47:35Z``."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_default(value: Any) -> Any:
    """JSON for what Avro decodes to: Decimal and instants as text, bytes as base64."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def plural(count: int, noun: str) -> str:
    """Count a noun: ``1 dead letter``, ``3 dead letters``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
