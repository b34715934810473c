"""The books beside the demo's worker: a ``ledgerstream books run`` child process.

``make run`` shows the loop closed: the worker's commands are booked into a SQLite
file of their own (``LEDGERSTREAM_DATA_DIR/demo-books/``, kept after the demo so that
its reports can be run), every answer
goes to ``acct.ledger-acks``, and the worker turns it into sync feedback
(docs/books.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from streams.settings import Settings

__all__ = ["BooksProcess", "start_books"]


class BooksProcess:
    """A ``ledgerstream books run`` child process."""

    def __init__(self, env: dict[str, str], *, log_path: Path, database: Path) -> None:
        self._env = {**os.environ, **env}
        self.log_path = log_path
        self.database = database
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> BooksProcess:
        """Start the books (returns at once)."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "streams", "--log-level", "info", "books", "run"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # the demo stops it in order, after Ctrl-C
            )
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop after the batch in hand (SIGTERM), killing it if it does not end in time."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode


def start_books(settings: Settings, out: TextIO) -> BooksProcess:
    """Start the books on the demo's broker, into a fresh SQLite file that outlives the demo.

    The file is ``LEDGERSTREAM_DATA_DIR/demo-books/books.sqlite``, emptied at each start:
    the demo's embedded broker starts empty too, and a new run's commands would meet
    the last run's under the same ids.
    """
    directory = (settings.data_dir / "demo-books").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    database = directory / "books.sqlite"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "LEDGERSTREAM_PROFILE": "embedded" if settings.embedded_profile else "cluster",
        "LEDGERSTREAM_APP_ID": settings.app_id,
        "LEDGERSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "LEDGERSTREAM_DATA_DIR": str(directory),
        "LEDGERSTREAM_BOOKS_URL": f"sqlite:///{database}",
    }
    books = BooksProcess(env, log_path=directory / "books.log", database=database).start()
    out.write(
        f"books booking into {database} (log: {books.log_path}); afterwards: "
        f"LEDGERSTREAM_BOOKS_URL=sqlite:///{database} ledgerstream books trial-balance "
        "--entity US10 --period 2026-09\n"
    )
    return books
