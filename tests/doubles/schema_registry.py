"""A TEST DOUBLE of a Confluent Schema Registry: a small threaded HTTP server.

No real registry can run on these machines (Confluent's is a JVM service not on any
registry we can reach, and Karapace is not on PyPI), so `ledgerstream schemas
register` is tested against this double. It speaks the subset of the REST API that
confluent-kafka's ``SchemaRegistryClient`` uses for registering, looking up and
fetching schemas and for compatibility configuration, with the registry's status
and error codes, and it enforces the subject's compatibility mode with Apache
Avro's own checker, as the real registry does.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

MODES = {
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
}
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class RegistryState:
    """Schemas by global id, subjects as lists of ids, modes; every request is logged."""

    schemas: list[str] = field(default_factory=list)  # id N is schemas[N - 1]
    subjects: dict[str, list[int]] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    global_mode: str = "BACKWARD"
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _id_of(self, text: str) -> int:
        wanted = json.loads(text)
        for i, known in enumerate(self.schemas, start=1):
            if json.loads(known) == wanted:
                return i
        self.schemas.append(text)
        return len(self.schemas)

    def _versions(self, subject: str) -> list[int]:
        if subject not in self.subjects:
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        return self.subjects[subject]

    def _compatible(self, subject: str, text: str) -> list[str]:
        mode = self.modes.get(subject, self.global_mode)
        existing = self.subjects.get(subject, [])
        if mode == "NONE" or not existing:
            return []
        olds = existing if mode.endswith("TRANSITIVE") else existing[-1:]
        new = avro.schema.parse(text)
        problems = []
        for old_id in olds:
            old = avro.schema.parse(self.schemas[old_id - 1])
            checks = []
            if mode.startswith(("BACKWARD", "FULL")):
                checks.append((new, old, "new reader, old writer"))
            if mode.startswith(("FORWARD", "FULL")):
                checks.append((old, new, "old reader, new writer"))
            for reader, writer, label in checks:
                result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
                if result.compatibility is SchemaCompatibilityType.incompatible:
                    problems.append(f"{label} (id {old_id}): {sorted(result.messages)}")
        return problems

    def register(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        text = self._valid(body)
        existing = self.subjects.get(subject, [])
        wanted = json.loads(text)
        for schema_id in existing:
            if json.loads(self.schemas[schema_id - 1]) == wanted:
                return {"id": schema_id}
        problems = self._compatible(subject, text)
        if problems:
            raise RegistryError(
                409,
                409,
                "Schema being registered is incompatible with an earlier schema for subject "
                f'"{subject}", details: {problems}',
            )
        schema_id = self._id_of(text)
        self.subjects.setdefault(subject, []).append(schema_id)
        return {"id": schema_id}

    def lookup(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        wanted = json.loads(self._valid(body))
        for version, schema_id in enumerate(self._versions(subject), start=1):
            if json.loads(self.schemas[schema_id - 1]) == wanted:
                text = self.schemas[schema_id - 1]
                return {"subject": subject, "id": schema_id, "version": version, "schema": text}
        raise RegistryError(404, 40403, "Schema not found")

    def version(self, subject: str, label: str) -> dict[str, Any]:
        versions = self._versions(subject)
        index = len(versions) if label == "latest" else int(label)
        if not 1 <= index <= len(versions):
            raise RegistryError(404, 40402, f"Version {label} not found.")
        schema_id = versions[index - 1]
        text = self.schemas[schema_id - 1]
        return {"subject": subject, "version": index, "id": schema_id, "schema": text}

    def schema(self, schema_id: int) -> dict[str, Any]:
        if not 1 <= schema_id <= len(self.schemas):
            raise RegistryError(404, 40403, "Schema not found")
        return {"schema": self.schemas[schema_id - 1]}

    @staticmethod
    def _valid(body: dict[str, Any]) -> str:
        if body.get("schemaType", "AVRO") != "AVRO":
            raise RegistryError(422, 42201, "Only AVRO is supported by this double")
        text = body.get("schema")
        try:
            avro.schema.parse(text)
        except Exception as exc:
            raise RegistryError(422, 42201, f"Invalid schema: {exc}") from exc
        return str(text)


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/subjects"), "subjects"),
    ("GET", re.compile(r"/subjects/(?P<s>[^/]+)/versions"), "versions"),
    ("GET", re.compile(r"/subjects/(?P<s>[^/]+)/versions/(?P<v>latest|\d+)"), "version"),
    ("POST", re.compile(r"/subjects/(?P<s>[^/]+)/versions"), "register"),
    ("POST", re.compile(r"/subjects/(?P<s>[^/]+)"), "lookup"),
    ("GET", re.compile(r"/schemas/ids/(?P<id>\d+)"), "schema"),
    ("GET", re.compile(r"/config"), "get_global"),
    ("PUT", re.compile(r"/config"), "put_global"),
    ("GET", re.compile(r"/config/(?P<s>[^/]+)"), "get_config"),
    ("PUT", re.compile(r"/config/(?P<s>[^/]+)"), "put_config"),
]


def _dispatch(state: RegistryState, method: str, path: str, body: Any) -> Any:  # noqa: PLR0911, PLR0912
    for verb, pattern, name in _ROUTES:
        match = pattern.fullmatch(path)
        if verb != method or match is None:
            continue
        args = {k: unquote(v) for k, v in match.groupdict().items()}
        subject = args.get("s", "")
        if name == "subjects":
            return sorted(state.subjects)
        if name == "versions":
            return list(range(1, len(state._versions(subject)) + 1))
        if name == "version":
            return state.version(subject, args["v"])
        if name == "register":
            return state.register(subject, body)
        if name == "lookup":
            return state.lookup(subject, body)
        if name == "schema":
            return state.schema(int(args["id"]))
        if name == "get_global":
            return {"compatibilityLevel": state.global_mode}
        if name == "get_config":
            if subject not in state.modes:
                raise RegistryError(404, 40408, f"Subject '{subject}' has no compatibility level")
            return {"compatibilityLevel": state.modes[subject]}
        level = str(body.get("compatibility", "")).upper()
        if level not in MODES:
            raise RegistryError(422, 42203, f"Invalid compatibility level {level!r}")
        if name == "put_global":
            state.global_mode = level
        else:
            state.modes[subject] = level
        return {"compatibility": level}
    raise RegistryError(404, 404, f"HTTP 404 Not Found: {method} {path}")


class _Handler(BaseHTTPRequestHandler):
    state: RegistryState

    def _serve(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        with self.state.lock:
            self.state.requests.append((method, path))
            try:
                status, payload = 200, _dispatch(self.state, method, path, body)
            except RegistryError as exc:
                status, payload = exc.status, {"error_code": exc.code, "message": exc.message}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@contextmanager
def registry_double() -> Iterator[tuple[str, RegistryState]]:
    """Run the double on a free localhost port; yield its URL and its state."""
    state = RegistryState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
