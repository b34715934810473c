"""A real, throwaway PostgreSQL server for the books' tests (Debian's `postgresql` package).

``make postgres`` installs the package (``make test`` depends on it). The server runs
from a temporary directory on a free port, as the ``postgres`` user when the tests
run as root (PostgreSQL refuses to run as root), with fsync off; every step is
bounded by a timeout, and the server is stopped when the session ends. Each test
gets a database of its own (``PostgresServer.new_database``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

STEP_TIMEOUT = 60


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: run `make postgres` (Debian's postgresql package)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: its port, and how to make a fresh database on it."""

    port: int
    directory: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; return its URL (``postgresql://``, as users give it)."""
        name = f"books_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_postgres() -> Iterator[PostgresServer]:
    """Start a server for the session (initdb + pg_ctl), yield it, stop it and remove its files."""
    bin_dir = _bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="ledgerstream-pg-"))
    data = directory / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    port = _free_port()
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=STEP_TIMEOUT,
        )
        options = (
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(directory / "server.log"),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=STEP_TIMEOUT,
        )
        yield PostgresServer(port, directory)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ]
                ),
                check=False,
                capture_output=True,
                timeout=STEP_TIMEOUT,
            )
        shutil.rmtree(directory, ignore_errors=True)
