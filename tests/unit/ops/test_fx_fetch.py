"""`fx fetch`: ECB publications into ref.fx-rates records with provenance (hand-checked)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from streams.adapters.ecb import EcbClient, FxSourceUnavailableError, RateDay
from streams.domain.reference import FxRateType, fx_key
from streams.ops.exceptions import InvalidArgumentError
from streams.ops.fx import pick_day, rates_of, run_fetch
from streams.settings import Settings
from tests.unit.adapters.ecb_server import Answer, ecb_server

FETCHED = datetime(2026, 11, 11, 16, 5, 3, tzinfo=UTC)
URL = "http://ecb.test/eurofxref-daily.xml"


def test_each_rate_is_eur_to_currency_spot_with_its_provenance() -> None:
    day = RateDay(date(2026, 11, 10), {"USD": Decimal("1.1562"), "JPY": Decimal("178.10")})
    rates, unknown = rates_of(day, url=URL, fetched_at=FETCHED)
    assert unknown == []
    assert [fx_key(r) for r in rates] == ["EUR/JPY/2026-11-10/SPOT", "EUR/USD/2026-11-10/SPOT"]
    usd = rates[1]
    assert (usd.from_currency, usd.to_currency, usd.rate, usd.rate_type) == (
        "EUR",
        "USD",
        Decimal("1.1562"),
        FxRateType.SPOT,
    )
    assert (usd.source, usd.published_on, usd.fetched_at, usd.source_url) == (
        "ECB",
        date(2026, 11, 10),
        FETCHED,
        URL,
    )
    # 14:10 in Frankfurt: CET (UTC+1) in November, CEST (UTC+2) in July
    assert usd.quoted_at == datetime(2026, 11, 10, 13, 10, tzinfo=UTC)
    summer, _ = rates_of(
        RateDay(date(2026, 7, 1), {"USD": Decimal("1.1")}), url=URL, fetched_at=FETCHED
    )
    assert summer[0].quoted_at == datetime(2026, 7, 1, 12, 10, tzinfo=UTC)


def test_a_currency_ledgerstream_does_not_know_is_left_out_and_named() -> None:
    day = RateDay(date(2026, 11, 10), {"USD": Decimal("1.1562"), "XQQ": Decimal("2")})
    rates, unknown = rates_of(day, url=URL, fetched_at=FETCHED)
    assert ([r.to_currency for r in rates], unknown) == (["USD"], ["XQQ"])


def test_a_date_without_publication_names_the_latest_before_it() -> None:
    days = [RateDay(date(2026, 11, 9), {}), RateDay(date(2026, 11, 6), {})]
    assert pick_day(days, None).published_on == date(2026, 11, 9)
    assert pick_day(days, date(2026, 11, 6)).published_on == date(2026, 11, 6)
    with pytest.raises(FxSourceUnavailableError, match="latest before it is 2026-11-06"):
        pick_day(days, date(2026, 11, 7))


def test_a_dry_run_prints_the_rates_and_writes_the_metrics_file(tmp_path: Path) -> None:
    out = io.StringIO()
    metrics = tmp_path / "fx.prom"
    with ecb_server(Answer(503, b""), Answer()) as (url, _):
        settings = Settings(data_dir=tmp_path, fx_ecb_daily_url=url)
        feed = EcbClient(sleep=lambda _: None, breaker_state=tmp_path / "b.json")
        code = run_fetch(
            settings,
            None,
            source="ecb",
            on=None,
            dry_run=True,
            metrics_file=metrics,
            out=out,
            client=feed,
            clock=lambda: FETCHED,
        )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert "EUR/USD/2026-11-11/SPOT      1.1587" in lines
    assert lines[-1] == (f"fx fetch: 30 ECB rate(s) of 2026-11-11 would publish (from {url})")
    text = metrics.read_text()
    assert 'ledgerstream_fx_fetch_attempts_total{outcome="retried",source="ECB"} 1.0' in text
    assert 'ledgerstream_fx_circuit_open{source="ECB"} 0.0' in text


def test_only_the_ecb_is_a_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        run_fetch(
            Settings(data_dir=tmp_path),
            None,
            source="fed",
            on=None,
            dry_run=True,
            metrics_file=tmp_path / "m.prom",
            out=io.StringIO(),
        )
    assert raised.value.field == "--source"
