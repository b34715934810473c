"""Find the embedded broker of a worker running on this machine: its announcement file.

A worker that starts the embedded broker writes ``broker.json`` into its data
directory (``LEDGERSTREAM_DATA_DIR``): the broker's address, the worker's process id
and its metrics URL. Other commands run from the same directory, with
``KAFKA_BOOTSTRAP_SERVERS`` unset, read it and talk to that broker. The worker
removes the file when it stops; a file whose process is gone (a killed worker) is
ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["ANNOUNCEMENT", "LocalBroker", "announce", "find_local_broker", "withdraw"]

ANNOUNCEMENT: Final = "broker.json"


@dataclass(frozen=True, slots=True)
class LocalBroker:
    """An embedded broker announced by a running worker."""

    bootstrap_servers: str
    pid: int
    metrics_url: str
    path: Path


def announce(data_dir: Path, bootstrap_servers: str, metrics_url: str) -> LocalBroker:
    """Write this process's broker address into ``data_dir`` (atomically) and return it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ANNOUNCEMENT
    broker = LocalBroker(bootstrap_servers, os.getpid(), metrics_url, path)
    body = {"bootstrap_servers": bootstrap_servers, "pid": broker.pid, "metrics_url": metrics_url}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(body) + "\n", encoding="utf-8")
    partial.replace(path)
    return broker


def withdraw(broker: LocalBroker) -> None:
    """Remove the announcement if it is still this worker's (not a newer worker's)."""
    found = _read(broker.path)
    if found is not None and found.pid == broker.pid:
        with contextlib.suppress(FileNotFoundError):
            broker.path.unlink()


def find_local_broker(data_dir: Path) -> LocalBroker | None:
    """Return the broker a live worker announced in ``data_dir``, if any."""
    found = _read(data_dir / ANNOUNCEMENT)
    if found is None or not _alive(found.pid):
        return None
    return found


def _read(path: Path) -> LocalBroker | None:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return LocalBroker(
            str(body["bootstrap_servers"]), int(body["pid"]), str(body["metrics_url"]), path
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
