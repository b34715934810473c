"""Read JSON-lines input files (``produce``, ``dry-run``) and say precisely what is wrong.

Every problem with a line is a :class:`LineError`, printed in one format, the one
compilers use, so editors and terminals can jump to it::

    FILE:LINE:COLUMN: field: message [CODE]

JSON syntax errors keep the parser's whole reason and the column it stopped at;
values in messages are written as JSON (``null``, ``true``, ``"text"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from streams.adapters.avro.jsonform import json_text
from streams.domain.exceptions import LedgerstreamError

__all__ = [
    "ENVELOPE_KEYS",
    "INVALID_JSON",
    "INVALID_LINE",
    "JsonLine",
    "LineError",
    "field_column",
    "json_text",
    "json_type",
    "read_json_lines",
]

INVALID_JSON: Final = "INVALID_JSON"
INVALID_LINE: Final = "INVALID_LINE"
#: The keys of a ``{"topic", "key", "value", "schema_version"}`` line (dry-run, produce).
ENVELOPE_KEYS: Final = frozenset({"topic", "key", "value", "schema_version"})


@dataclass(frozen=True, slots=True)
class LineError:
    """One input line that was not taken: where, which field, why, and the stable code."""

    file: str
    line: int
    column: int
    field: str | None
    reason: str
    code: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.reason} [{self.code}]"

    @classmethod
    def of(
        cls, file: str, line: int, text: str, error: LedgerstreamError, prefix: str = ""
    ) -> LineError:
        """Describe a line by the error it raised: its field (and column), reason, code."""
        where = f"{error.field}: " if error.field else ""
        reason = error.message.removeprefix(where)
        column = field_column(text, error.field)
        return cls(file, line, column, error.field, f"{prefix}{reason}", error.code)


@dataclass(frozen=True, slots=True)
class JsonLine:
    """A non-blank line that parsed as JSON."""

    number: int
    text: str
    data: Any


def read_json_lines(
    path: Path, *, file: str | None = None, on_bytes: Callable[[int], None] | None = None
) -> Iterator[JsonLine | LineError]:
    """Yield each non-blank line of ``path`` parsed, or the error that stopped it.

    ``file`` names the file in errors (default: the path as given); ``on_bytes`` is
    told how many bytes were read so far, line by line (for a progress bar).
    """
    name = str(path) if file is None else file
    done = 0
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            done += len(raw)
            if on_bytes is not None:
                on_bytes(done)
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield _json_error(name, number, text, exc)
                continue
            yield JsonLine(number, text, data)


def _json_error(file: str, number: int, text: str, exc: json.JSONDecodeError) -> LineError:
    """Keep the parser's whole reason: ``Invalid control character "\\t" at column 12``."""  # noqa: D301
    reason = exc.msg
    if exc.pos < len(text) and reason.startswith("Invalid control character"):
        reason = f"{reason.removesuffix(' at')} {json.dumps(text[exc.pos])}"
    reason = f"not valid JSON: {reason} at column {exc.colno}"
    return LineError(file, number, exc.colno, None, reason, INVALID_JSON)


def field_column(text: str, field: str | None) -> int:
    """Return the 1-based column of a field's name in a JSON line (1 when not found).

    ``lines.0.amount`` or ``lines[0].amount``: the last name is looked for after the
    earlier ones, so the right ``amount`` is found among several.
    """
    if not field:
        return 1
    position = 0
    for name in re.split(r"[.\[\]]+", field):
        if not name or name.isdigit():
            continue
        found = text.find(json.dumps(name), position)
        if found < 0:
            break
        position = found
    return position + 1 if position else 1


def json_type(value: Any) -> str:
    """Name a parsed JSON value's type as JSON does: object, array, string, number..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
