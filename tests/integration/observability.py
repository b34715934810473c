"""Real observability back ends for the integration tests.

* :class:`PrometheusServer` runs Debian's ``prometheus`` binary (the Makefile
  installs it) against a scrape config of our own and answers PromQL through
  the HTTP query API.
* :class:`OtlpReceiver` is a small OTLP/HTTP server: it decodes each
  ``ExportTraceServiceRequest`` (protobuf) into plain :class:`ReceivedSpan` values.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from streams.adapters.broker import free_port

PROMETHEUS = "prometheus"

Labels = frozenset[tuple[str, str]]


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(
            f"{name} is not installed: `make test` installs Debian's prometheus package"
        )
    return path


class PrometheusServer:
    """A throwaway Prometheus scraping the given targets every second."""

    def __init__(
        self, work_dir: Path, targets: Sequence[str], rule_files: Sequence[Path] = ()
    ) -> None:
        self.port = free_port()
        self._dir = work_dir
        self._targets = list(targets)
        self._rules = [str(path.resolve()) for path in rule_files]
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> PrometheusServer:
        self._dir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": self._rules,
            "scrape_configs": [
                {
                    "job_name": "ledgerstream",
                    "static_configs": [{"targets": self._targets}],
                }
            ],
        }
        config_path = self._dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    require_binary(PROMETHEUS),
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self._dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log_path.read_text()}")
            try:
                ready = f"{self.url}/-/ready"
                with urllib.request.urlopen(ready, timeout=1) as response:  # noqa: S310 - http
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready:\n{self.log_path.read_text()}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{url}: {exc.code} {exc.read().decode()}") from exc
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[Labels, float]:
        """Evaluate an instant PromQL query: {labels (without job/instance): value}."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return {frozenset(): float(data["result"][1])}
        return {
            frozenset(
                (k, v) for k, v in item["metric"].items() if k not in ("job", "instance")
            ): float(item["value"][1])
            for item in data["result"]
        }

    def wait_scraping(self, scrapes: int = 2, timeout: float = 45.0) -> None:
        """Wait until every target was scraped successfully ``scrapes`` times.

        Prometheus hands static targets to the scraper a few seconds after start.
        """
        self.wait_for(
            "min(sum_over_time(up[1m]))",
            lambda v: v is not None and v >= scrapes,
            timeout=timeout,
        )

    def value(self, expr: str) -> float | None:
        """The single value of a query, or None when it returns nothing."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return next(iter(result.values()), None)

    def wait_for(
        self, expr: str, ok: Callable[[float | None], bool], timeout: float = 45.0
    ) -> float | None:
        deadline = time.monotonic() + timeout
        seen: float | None = None
        while time.monotonic() < deadline:
            seen = self.value(expr)
            if ok(seen):
                return seen
            time.sleep(0.5)
        raise AssertionError(f"{expr} never satisfied the condition; last value {seen}")


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as an OTLP exporter sent it."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    service: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    status_message: str


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP trace endpoint (``POST /v1/traces``, protobuf) keeping what it gets."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._accept(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the SDK adds /v1/traces)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _accept(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            service=str(resource.get("service.name")),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            events=[
                                (e.name, {a.key: _value(a.value) for a in e.attributes})
                                for e in span.events
                            ],
                            status_code=span.status.code,
                            status_message=span.status.message,
                        )
                    )
        with self._lock:
            self.spans.extend(received)
            self.requests += 1

    def in_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def wait_for(self, ok: Callable[[OtlpReceiver], bool], timeout: float = 30.0) -> OtlpReceiver:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ok(self):
                return self
            time.sleep(0.2)
        raise AssertionError(f"spans never arrived; got {[s.name for s in self.spans]}")

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
