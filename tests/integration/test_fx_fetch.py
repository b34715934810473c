"""`fx fetch` end to end: a local ECB server -> ref.fx-rates -> a worker posts with the rate.

The server plays the ECB with the recorded 90-day file (and one 503 first, retried);
the rates land on ref.fx-rates with their provenance, and a EUR time entry of
2026-11-10 posts at that day's ECB rate (1.1562), not the older 2026-11-09 rate the
test organisation carries. By hand: 60 minutes at 120.00 EUR = 120.00 EUR,
x 1.1562 = 138.744 -> 138.74 USD.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from tests.integration.conftest import Stack
from tests.integration.records import entry, publish_reference
from tests.unit.adapters.ecb_server import HISTORY, Answer, ecb_server

pytestmark = pytest.mark.integration


def test_ecb_rates_are_published_with_provenance_and_used_for_posting(
    stack: Stack, tmp_path: Path
) -> None:
    publish_reference(stack)
    with ecb_server(Answer(503, b"busy", {"Retry-After": "0"}), Answer(200, HISTORY)) as (
        url,
        script,
    ):
        run = stack.cli(
            "fx",
            "fetch",
            "--date",
            "2026-11-10",
            LEDGERSTREAM_FX_ECB_HISTORY_URL=url,
            LEDGERSTREAM_DATA_DIR=str(tmp_path),
            LEDGERSTREAM_FX_BACKOFF_FIRST_SECONDS="0.05",
        )
    assert run.code == 0, run.err
    assert script.requests == 2  # the 503 was retried
    assert run.out.splitlines()[-1] == (
        f"fx fetch: 8 ECB rate(s) of 2026-11-10 published to ref.fx-rates (from {url})"
    )
    assert 'ledgerstream_fx_rates_published_total{source="ECB"} 8.0' in (
        (tmp_path / "fx-metrics.prom").read_text()
    )
    rates = {
        r.key.decode(): stack.codec.decode("ref.fx-rates", r.value).record
        for r in stack.read("ref.fx-rates")
        if r.key is not None and r.value is not None
    }
    usd = rates["EUR/USD/2026-11-10/SPOT"]
    assert (usd["rate"], usd["source"], usd["published_on"], usd["source_url"]) == (
        Decimal("1.156200000000"),
        "ECB",
        date(2026, 11, 10),
        url,
    )
    assert usd["fetched_at"] is not None
    assert len([k for k in rates if k.endswith("/2026-11-10/SPOT")]) == 8

    worker = stack.worker()
    worker.wait_ready()
    stack.publish("pm.time-entries", "TE-EUR", entry("TE-EUR", "P-2", 60))
    stack.flush()
    stack.wait_outcome(worker, "pm.time-entries", "posted", 1)
    commands = [c for c in stack.decoded("acct.ledger-commands") if c["source"]["id"] == "TE-EUR"]
    revenue = next(c for c in commands if c["transaction_currency"] == "EUR")
    assert (revenue["fx"]["source"], revenue["fx"]["rate_date"]) == ("ECB", date(2026, 11, 10))
    assert revenue["fx"]["rate"] == Decimal("1.156200000000")
    assert {(ln["amount"], ln["base_amount"]) for ln in revenue["lines"]} == {
        (Decimal("120.0000"), Decimal("138.7400"))
    }
