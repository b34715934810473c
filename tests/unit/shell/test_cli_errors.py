"""A command that fails says so in one line and a non-zero status, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import streams.demo.runner as demo_runner
from click.testing import CliRunner
from streams.adapters import kafka_io
from streams.adapters.local_broker import announce, find_local_broker, withdraw
from streams.cli import cli, main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A broker address where nothing listens, and a short wait for its metadata."""
    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setattr(kafka_io, "METADATA_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    monkeypatch.setenv("LEDGERSTREAM_DATA_DIR", str(tmp_path / "data"))
    return address


@pytest.mark.parametrize(
    "argv",
    [
        ["dlq", "list", "--idle", "0.5"],
        ["parked", "--idle", "0.5"],
        ["toggle", "list"],
        ["consume", "pm.time-entries", "--idle", "0.5"],
    ],
    ids=" ".join,
)
def test_an_unreachable_broker_is_one_line_naming_it(
    argv: list[str], unreachable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("ledgerstream:")]
    assert line.startswith(f"ledgerstream: no Kafka broker answers at {unreachable} (")
    assert "KAFKA_BOOTSTRAP_SERVERS" in line


def test_the_unreachable_broker_message_is_the_only_line_on_stderr(tmp_path: Path) -> None:
    """librdkafka's own "Connection refused" log line is not printed beside it."""
    address = f"127.0.0.1:{closed_port()}"
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": address,
        "LEDGERSTREAM_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams", "toggle", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        line for line in done.stderr.splitlines() if line.startswith("ledgerstream: no Kafka")
    ]
    assert len(done.stderr.splitlines()) == 1


def test_a_worker_announcement_is_found_and_named_when_it_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With KAFKA_BOOTSTRAP_SERVERS unset the commands use the local worker's broker."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("LEDGERSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(kafka_io, "METADATA_TIMEOUT_SECONDS", 1.0)
    address = f"127.0.0.1:{closed_port()}"
    announced = announce(tmp_path, address, "http://127.0.0.1:6066/metrics")
    assert find_local_broker(tmp_path) == announced
    code = main(["parked", "--idle", "0.5"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"using the embedded broker at {address}" in err
    assert f"no Kafka broker answers at {address}" in err
    assert f"is the worker that wrote {tmp_path / 'broker.json'} still running?" in err
    withdraw(announced)
    assert not (tmp_path / "broker.json").exists()


def test_an_announcement_of_a_dead_worker_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "broker.json").write_text(
        json.dumps(
            {
                "bootstrap_servers": "127.0.0.1:1",
                "pid": int(dead.stdout),
                "metrics_url": "http://127.0.0.1:1/metrics",
            }
        )
    )
    assert find_local_broker(tmp_path) is None
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("LEDGERSTREAM_DATA_DIR", str(tmp_path))
    assert main(["toggle", "list"]) == 2
    err = capsys.readouterr().err
    assert "KAFKA_BOOTSTRAP_SERVERS is not set and no worker in this directory" in err
    assert "ledgerstream worker" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["dry-run", "--reference", "{ref}", "{missing}"],
        ["dry-run", "--reference", "{missing}", "{events}"],
        ["dry-run", "--reference", "{ref}", "{directory}"],
        ["dry-run", "--reference", "{directory}", "{events}"],
        ["produce", "--topic", "pm.time-entries", "--dry-run", "{missing}"],
        ["produce", "--topic", "pm.time-entries", "--dry-run", "{directory}"],
    ],
    ids=lambda argv: " ".join(argv).replace("{", "").replace("}", ""),
)
def test_a_missing_or_directory_input_file_is_a_usage_error(
    argv: list[str], tmp_path: Path
) -> None:
    names = {
        "ref": str(EXAMPLES / "reference.jsonl"),
        "events": str(EXAMPLES / "events.jsonl"),
        "missing": str(tmp_path / "nope.jsonl"),
        "directory": str(tmp_path),
    }
    result = CliRunner().invoke(cli, [arg.format(**names) for arg in argv])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "does not exist" in result.output or "is a directory" in result.output


def test_demo_timeout_is_one_message_with_the_kept_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "worker.log"
    log.write_text("line 1\nline 2\n")

    class Worker:
        log_path = log

        def tail(self) -> str:
            return log.read_text()

    def timed_out(*_args: object, **_kwargs: object) -> None:
        raise demo_runner.DemoFailedError(
            "demo did not finish in 1s (--timeout)",
            how="timed out",
            worker=Worker(),  # type: ignore[arg-type]
        )

    monkeypatch.setattr(demo_runner, "run_demo", timed_out)
    assert main(["demo", "--once", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(
        f"ledgerstream: demo did not finish in 1s (--timeout); the worker's log is kept: {log}"
    )
    assert "  line 2" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--events", "-5"],
        ["demo", "--timeout", "0"],
        ["consume", "pm.payments", "--limit", "-1"],
        ["produce", "--topic", "pm.payments", "--max-errors", "-2", "x"],
        ["dlq", "list", "--limit", "-3"],
    ],
    ids=" ".join,
)
def test_negative_counts_are_refused(argv: list[str]) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_the_worker_banner_names_broker_metrics_and_how_to_stop() -> None:
    from streams.cli.worker import banner  # noqa: PLC0415
    from streams.settings import Settings  # noqa: PLC0415

    settings = Settings(kafka_bootstrap_servers="127.0.0.1:40123", web_port=6070)
    text = banner(settings, announced=".ledgerstream/broker.json", pid=4242)
    assert "broker   127.0.0.1:40123 (embedded" in text
    assert "metrics  http://127.0.0.1:6070/metrics" in text
    assert "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:40123" in text
    assert "kill -TERM 4242" in text
    assert os.linesep.join(text.splitlines()).count("=") > 20
