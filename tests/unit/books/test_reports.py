"""Golden tests of the books' reports: hand-computed figures, on SQLite and PostgreSQL.

Every expected number below is worked out by hand in the comments beside it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streams.books.booking import book_batch
from streams.books.reports import (
    ar_aging,
    project_profitability,
    render_aging,
    render_profitability,
)
from streams.books.tables import database_url, open_books
from streams.cli import main
from streams.domain.acks import AckStatus
from tests.unit.books.builders import command, incoming, line, reversal

NOW = datetime(2027, 1, 2, tzinfo=UTC)
SEPT = date(2026, 9, 15)


def _book(books: Engine, *commands: dict[str, object]) -> None:
    acks = book_batch(books, incoming(*commands), now=NOW)
    assert {a.status for a in acks} == {AckStatus.BOOKED}, [a.reason for a in acks]


def _profitability_month(books: Engine) -> None:
    _book(
        books,
        # P-1: time (revenue 1000, labour 400), an expense (50), an allocation (120)
        command(
            [
                line("1150", "DEBIT", "1000", project="P-1"),
                line("4000", "CREDIT", "1000", project="P-1"),
            ],
            on=SEPT,
        ),
        command(
            [
                line("5000", "DEBIT", "400", project="P-1"),
                line("2150", "CREDIT", "400", project="P-1"),
            ],
            on=SEPT,
        ),
        command(
            [line("5100", "DEBIT", "50", project="P-1"), line("2100", "CREDIT", "50")],
            on=SEPT,
            source_type="expense",
        ),
        command(
            [line("5200", "DEBIT", "120", project="P-1"), line("6100", "CREDIT", "120")],
            on=SEPT,
            source_type="allocation",
        ),
        # P-2: revenue 500 less a 25 discount, labour 300
        command(
            [
                line("1100", "DEBIT", "475", project="P-2"),
                line("4900", "DEBIT", "25", project="P-2"),
                line("4000", "CREDIT", "500", project="P-2"),
            ],
            on=SEPT,
            source_type="invoice",
        ),
        command(
            [
                line("5000", "DEBIT", "300", project="P-2"),
                line("2150", "CREDIT", "300", project="P-2"),
            ],
            on=SEPT,
        ),
        # P-3, internal: 80 of internal project expense, no revenue
        command(
            [
                line("6000", "DEBIT", "80", project="P-3"),
                line("2150", "CREDIT", "80", project="P-3"),
            ],
            on=SEPT,
        ),
        # P-1 in October: not in September's figures
        command(
            [
                line("1150", "DEBIT", "999", project="P-1"),
                line("4000", "CREDIT", "999", project="P-1"),
            ],
            on=date(2026, 10, 1),
        ),
    )
    # a reversed P-2 entry nets to nothing
    wrong = command(
        [line("5000", "DEBIT", "7", project="P-2"), line("2150", "CREDIT", "7", project="P-2")],
        on=SEPT,
    )
    _book(books, wrong)
    _book(books, reversal(wrong))


def test_project_profitability_golden(books: Engine) -> None:
    _profitability_month(books)
    rows = [r.record() for r in project_profitability(books, "2026-09")]
    assert rows == [
        # revenue 1000; direct 400 + 50 = 450; allocated 120; margin 430 = 43.0 %
        {
            "entity": "US",
            "project": "P-1",
            "currency": "USD",
            "revenue": "1000.00",
            "direct_cost": "450.00",
            "allocated_cost": "120.00",
            "margin": "430.00",
            "margin_percent": "43.0",
        },
        # revenue 500 - 25 = 475; direct 300 (+7 -7); margin 175 = 36.842 % -> 36.8
        {
            "entity": "US",
            "project": "P-2",
            "currency": "USD",
            "revenue": "475.00",
            "direct_cost": "300.00",
            "allocated_cost": "0.00",
            "margin": "175.00",
            "margin_percent": "36.8",
        },
        # no revenue: margin -80, no percentage
        {
            "entity": "US",
            "project": "P-3",
            "currency": "USD",
            "revenue": "0.00",
            "direct_cost": "80.00",
            "allocated_cost": "0.00",
            "margin": "-80.00",
            "margin_percent": "-",
        },
    ]


def _invoice(inv: str, customer: str, on: date, amount: str) -> dict[str, object]:
    return command(
        [
            line("1100", "DEBIT", amount, customer=customer, memo="receivable"),
            line("4000", "CREDIT", amount, customer=customer),
        ],
        on=on,
        source_type="invoice",
        source_id=inv,
    )


def _payment(pay: str, customer: str, on: date, amount: str, invoice: str) -> dict[str, object]:
    return command(
        [
            line("1000", "DEBIT", amount, customer=customer),
            line("1100", "CREDIT", amount, customer=customer, memo=invoice),
        ],
        on=on,
        source_type="payment",
        source_id=pay,
    )


def _credit_memo(cm: str, customer: str, on: date, amount: str) -> dict[str, object]:
    return command(
        [
            line("4000", "DEBIT", amount, customer=customer),
            line("1100", "CREDIT", amount, customer=customer, memo="credited"),
        ],
        on=on,
        source_type="invoice",
        source_id=cm,
    )


def _receivables(books: Engine) -> None:
    withdrawn = _invoice("INV-6", "C-3", date(2026, 9, 5), "100")
    _book(
        books,
        _invoice("INV-1", "C-1", date(2026, 9, 1), "1000"),
        _payment("PAY-1", "C-1", date(2026, 9, 20), "400", "INV-1"),
        _invoice("INV-2", "C-1", date(2026, 11, 10), "500"),
        _invoice("INV-4", "C-2", date(2026, 10, 1), "200"),
        _invoice("INV-3", "C-2", date(2026, 10, 15), "300"),
        _credit_memo("CM-1", "C-2", date(2026, 12, 5), "250"),
        _invoice("INV-5", "C-3", date(2026, 12, 20), "700"),
        withdrawn,
        _credit_memo("CM-2", "C-4", date(2026, 12, 2), "60"),
        _invoice("INV-7", "C-1", date(2027, 1, 5), "999"),  # after the as-of date
    )
    _book(books, reversal(withdrawn, source={**withdrawn["source"], "version": 2}))  # type: ignore[dict-item]


def test_ar_aging_and_dso_golden(books: Engine) -> None:
    _receivables(books)
    report = ar_aging(books, "US", date(2026, 12, 31), terms_days=30, dso_days=90)
    got = {r.customer_id: (r.buckets, r.unapplied, r.total) for r in report.rows}
    d = Decimal
    assert got == {
        # INV-1 1000 - PAY-1 400 = 600, due 10-01: 91 days past due -> 90+;
        # INV-2 500 due 12-10: 21 days -> 0-30
        "C-1": ((0, 0 + d(500), 0, 0, d(600)), 0, d(1100)),
        # CM-1 (250, names no invoice) settles the oldest first: INV-4 (200) to 0,
        # INV-3 300 -> 250, due 11-14: 47 days -> 31-60
        "C-2": ((0, 0, d(250), 0, 0), 0, d(250)),
        # INV-5 700 due 2027-01-19: not due; INV-6 reversed: nothing
        "C-3": ((d(700), 0, 0, 0, 0), 0, d(700)),
        # CM-2 60 with nothing open: unapplied, lowers the total
        "C-4": ((0, 0, 0, 0, 0), d(60), d(-60)),
    }
    # 1100 + 250 + 700 - 60
    assert report.receivables == d(1990)
    # invoice-source 1100 lines dated after 10-02: 500 + 300 - 250 + 700 - 60 = 1190
    # (INV-4 on 10-01 and INV-1, INV-6 in September are outside the 90 days)
    assert report.credit_sales == d(1190)
    # 1990 / 1190 x 90 = 150.504...
    assert report.dso == d("150.5")


def test_ar_aging_renders_totals_and_dso(books: Engine) -> None:
    _receivables(books)
    report = ar_aging(books, "US", date(2026, 12, 31))
    rows = list(csv.DictReader(io.StringIO(render_aging(report, "csv"))))
    assert rows[-1] == {
        "customer": "total",
        "currency": "USD",
        "current": "700.00",
        "0-30": "500.00",
        "31-60": "250.00",
        "61-90": "0.00",
        "90+": "600.00",
        "unapplied": "60.00",
        "total": "1990.00",
    }
    *lines, summary = render_aging(report, "json").splitlines()
    assert json.loads(summary)["summary"]["dso_days"] == "150.5"
    assert len(lines) == 5
    table = render_aging(report, "table")
    assert "DSO 150.5 days = receivables 1990.00 / credit sales 1190.00" in table


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_the_cli_prints_each_report_in_each_format(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGERSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LEDGERSTREAM_BOOKS_URL", raising=False)
    books = open_books(database_url(None, tmp_path))
    _profitability_month(books)
    _receivables(books)
    books.dispose()
    assert main(["books", "project-profitability", "--period", "2026-09", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "430.00" in out
    assert "36.8" in out
    assert (
        main(["books", "trial-balance", "--entity", "US", "--period", "2026-09", "--format", fmt])
        == 0
    )
    out = capsys.readouterr().out
    assert "Service revenue" in out
    assert (
        main(["books", "ar-aging", "--entity", "US", "--as-of", "2026-12-31", "--format", fmt]) == 0
    )
    # 1990 of the receivables above + P-2's 475 invoice (customer "(none)")
    assert "2465.00" in capsys.readouterr().out
    if fmt == "json":
        rows = [json.loads(x) for x in render_profitability([], "json").splitlines()]
        assert rows == []
