"""W3C trace context for produced events: the ``traceparent`` header.

A producer that is inside an OpenTelemetry span passes that span on; otherwise a
fresh trace is started per event, so every record can be followed downstream.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from opentelemetry import trace

__all__ = ["TRACEPARENT", "is_traceparent", "new_traceparent"]

TRACEPARENT: Final = "traceparent"
_FORMAT: Final = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-[0-9a-f]{2}")


def is_traceparent(value: str) -> bool:
    """Return True for a valid version-00 ``traceparent`` (non-zero trace and span ids)."""
    match = _FORMAT.fullmatch(value)
    if match is None:
        return False
    return set(match["trace"]) != {"0"} and set(match["span"]) != {"0"}


def new_traceparent() -> str:
    """Return the current OpenTelemetry span's ``traceparent``, or one for a new trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
