"""Run a worker as a child process and watch it through its HTTP endpoints.

Used by the demo and the integration tests: the worker is the real thing
(``python -m streams worker``), stopped with SIGTERM or killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from streams.adapters.broker import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class WorkerProcess:
    """A ``ledgerstream worker`` child process on its own web port."""

    def __init__(self, env: Mapping[str, str], *, log_path: Path) -> None:
        self.port = free_port()
        self._env = {**os.environ, **env, "LEDGERSTREAM_WEB_PORT": str(self.port)}
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start the worker process (returns at once; see ``wait_ready``)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "streams", "worker"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the parent, which stops us in order
            )
        return self

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def _get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self, timeout: float = 60.0) -> dict[str, object]:
        """Block until reference data is loaded (``/ready`` says 200)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"worker exited early; see {self.log_path}:\n{self.tail()}")
            try:
                status, body = self._get("/ready")
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
                continue
            if status == 200:
                result: dict[str, object] = json.loads(body)
                return result
            time.sleep(0.2)
        raise TimeoutError(
            f"worker not ready after {timeout}s; see {self.log_path}:\n{self.tail()}"
        )

    def metrics_text(self) -> str:
        """Scrape ``/metrics`` and return the exposition as it came."""
        _status, body = self._get("/metrics")
        return body.decode()

    def metrics(self) -> Samples:
        """Scrape ``/metrics`` and return {(sample name, labels): value}."""
        samples: Samples = {}
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def events_consumed(self, topic: str) -> dict[str, float]:
        """Return the real records of ``topic`` consumed so far, by outcome.

        Outcomes still at 0 and heartbeat canaries (outcome ``synthetic``) are left out.
        """
        outcomes: dict[str, float] = {}
        for (name, labels), value in self.metrics().items():
            if name == "ledgerstream_events_consumed_total" and ("topic", topic) in labels:
                outcome = dict(labels)["outcome"]
                if value and outcome != "synthetic":
                    outcomes[outcome] = value
        return outcomes

    def tail(self, lines: int = 30) -> str:
        """Return the last lines of the worker's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop gracefully (SIGTERM: Faust commits and leaves the group)."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """Kill without warning (SIGKILL), as a crash would."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode
