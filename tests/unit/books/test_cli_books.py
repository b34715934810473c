"""The books' commands: period closing from the command line, one-line failures, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from streams.books.booking import book_batch
from streams.books.tables import database_url, open_books
from streams.cli import main
from tests.unit.books.builders import command, incoming, line


def test_close_and_reopen_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGERSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LEDGERSTREAM_BOOKS_URL", raising=False)
    argv = ["--entity", "US", "--period", "2026-09"]
    assert main(["books", "close-period", *argv, "--operator", "controller"]) == 0
    assert main(["books", "close-period", *argv]) == 0
    assert capsys.readouterr().out == "US 2026-09: closed\nUS 2026-09: was closed already\n"
    books = open_books(database_url(None, tmp_path))
    entry = command([line("1150", "DEBIT", "1.00"), line("4000", "CREDIT", "1.00")])
    (ack,) = book_batch(books, incoming(entry), now=entry["source"]["event_time"])  # type: ignore[index]
    assert ack.reason == "period 2026-09 of US is closed (by controller)"
    assert main(["books", "reopen-period", *argv]) == 0
    assert main(["books", "reopen-period", *argv]) == 0
    assert capsys.readouterr().out == "US 2026-09: reopened\nUS 2026-09: was not closed\n"
    books.dispose()


def test_an_unreachable_database_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGERSTREAM_BOOKS_URL", "postgresql://books:s3cret@127.0.0.1:1/books")
    code = main(["books", "trial-balance", "--entity", "US", "--period", "2026-09"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(
        "ledgerstream: books at postgresql+psycopg://books:***@127.0.0.1:1/books:"
    )
    assert "s3cret" not in err


def test_a_bad_period_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEDGERSTREAM_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        main(["books", "close-period", "--entity", "US", "--period", "2026-9"])
    assert exited.value.code == 2
