"""The ECB connector against a local server: recorded files, then slow, 429, 503, bad XML.

Backoff waits are recorded, not slept (``sleep=waits.append``), and the jitter is
pinned to its ceiling (``jitter=lambda lo, hi: hi``), so every wait is exact.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from streams.adapters.ecb import (
    EcbClient,
    FxCircuitOpenError,
    FxSourceFormatError,
    FxSourceUnavailableError,
    parse_reference_rates,
)
from tests.unit.adapters.ecb_server import DAILY, HISTORY, Answer, ecb_server

BAD_XML = b"<gesmes:Envelope><Cube><Cube time='2026-11-11'>"


def client(waits: list[float], **overrides: object) -> EcbClient:
    options: dict[str, object] = {
        "timeout_seconds": 0.5,
        "attempts": 4,
        "backoff_first_seconds": 1.0,
        "backoff_max_seconds": 8.0,
        "breaker_failures": 10,
        "breaker_reset_seconds": 60.0,
        "sleep": waits.append,
        "jitter": lambda lo, hi: hi,
    }
    return EcbClient(**(options | overrides))  # type: ignore[arg-type]


def sample(metric: EcbClient, name: str, **labels: str) -> float:
    value = metric.metrics.registry.get_sample_value(name, {"source": "ECB", **labels})
    assert value is not None, name
    return value


def test_the_recorded_files_parse_into_dated_rates_per_euro() -> None:
    (daily,) = parse_reference_rates(DAILY)
    assert daily.published_on == date(2026, 11, 11)
    assert daily.rates["USD"] == Decimal("1.1587")
    assert daily.rates["JPY"] == Decimal("178.42")
    assert len(daily.rates) == 30
    history = parse_reference_rates(HISTORY)
    assert [d.published_on for d in history] == [
        date(2026, 11, 11),
        date(2026, 11, 10),
        date(2026, 11, 9),
        date(2026, 11, 6),
    ]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (BAD_XML, "body", "not well-formed"),
        (b"<Envelope><Cube/></Envelope>", "Cube", "not an ECB reference-rate file"),
        (
            DAILY.replace(b"rate='1.1587'", b"rate='1,1587'"),
            "Cube[2026-11-11].Cube[0].rate",
            "not a number",
        ),
        (DAILY.replace(b"rate='1.1587'", b"rate='-1'"), "Cube[2026-11-11].Cube[0].rate", "> 0"),
        (DAILY.replace(b"time='2026-11-11'", b"time='11/11/2026'"), "Cube[0].time", "YYYY-MM-DD"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "body",
            "refused XML",
        ),
    ],
)
def test_anything_but_the_ecb_format_is_refused_precisely(
    body: bytes, field: str, words: str
) -> None:
    with pytest.raises(FxSourceFormatError) as raised:
        parse_reference_rates(body)
    assert raised.value.field == field
    assert words in raised.value.message


def test_a_healthy_source_answers_at_once() -> None:
    waits: list[float] = []
    with ecb_server(Answer()) as (url, script):
        (day,) = client(waits).fetch_rates(url)
    assert (day.published_on, script.requests, waits) == (date(2026, 11, 11), 1, [])


def test_503_is_retried_with_exponential_backoff_then_succeeds() -> None:
    waits: list[float] = []
    with ecb_server(Answer(503, b"busy"), Answer(503, b"busy"), Answer()) as (url, script):
        feed = client(waits)
        (day,) = feed.fetch_rates(url)
    assert day.rates["USD"] == Decimal("1.1587")
    assert script.requests == 3
    assert waits == [1.0, 2.0]  # ceilings 1, 2 (jitter pinned to the ceiling)
    assert sample(feed, "ledgerstream_fx_fetch_attempts_total", outcome="retried") == 2
    assert sample(feed, "ledgerstream_fx_consecutive_failures") == 0  # reset by the success


def test_429_retry_after_is_honoured_as_the_least_wait() -> None:
    waits: list[float] = []
    limited = Answer(429, b"slow down", {"Retry-After": "7"})
    with ecb_server(limited, Answer()) as (url, _):
        client(waits, jitter=lambda lo, hi: lo).fetch_rates(url)
    assert waits == [7.0]  # the jitter alone would have waited 0


def test_a_retry_after_date_is_read_too() -> None:
    waits: list[float] = []
    limited = Answer(429, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with ecb_server(limited, Answer()) as (url, _):
        client(waits).fetch_rates(url)
    assert waits == [1.0]  # a date in the past: no extra wait beyond the backoff


def test_a_slow_source_times_out_and_the_retry_gets_through() -> None:
    waits: list[float] = []
    with ecb_server(Answer(delay=2.0), Answer()) as (url, script):
        started = time.monotonic()
        feed = client(waits, timeout_seconds=0.3)
        (day,) = feed.fetch_rates(url)
        elapsed = time.monotonic() - started
    assert day.published_on == date(2026, 11, 11)
    assert script.requests == 2
    assert elapsed < 1.5  # the 2 s answer was not waited for
    assert sample(feed, "ledgerstream_fx_fetch_attempts_total", outcome="retried") == 1


def test_every_attempt_failing_gives_up_with_the_last_error() -> None:
    waits: list[float] = []
    with (
        ecb_server(Answer(503, b"down")) as (url, script),
        pytest.raises(FxSourceUnavailableError, match="HTTP 503") as raised,
    ):
        client(waits, attempts=3).fetch_rates(url)
    assert script.requests == 3
    assert "gave up after 3 attempts" in raised.value.message
    assert waits == [1.0, 2.0]


def test_malformed_xml_and_a_404_are_not_retried() -> None:
    waits: list[float] = []
    with ecb_server(Answer(200, BAD_XML)) as (url, script):
        feed = client(waits)
        with pytest.raises(FxSourceFormatError, match="not well-formed"):
            feed.fetch_rates(url)
    assert (script.requests, waits) == (1, [])
    assert sample(feed, "ledgerstream_fx_fetch_attempts_total", outcome="malformed") == 1
    assert sample(feed, "ledgerstream_fx_consecutive_failures") == 1  # the breaker counts it
    with (
        ecb_server(Answer(404, b"")) as (url, script),
        pytest.raises(FxSourceUnavailableError, match="HTTP 404"),
    ):
        client(waits).fetch_rates(url)
    assert script.requests == 1


def test_the_breaker_opens_after_repeated_failures_is_shared_and_recovers(tmp_path: Path) -> None:
    state = tmp_path / "breaker.json"
    waits: list[float] = []
    with ecb_server(Answer(503, b"down")) as (url, script):
        feed = client(waits, attempts=10, breaker_failures=3, breaker_state=state)
        with pytest.raises(FxCircuitOpenError, match="opened after 3 failures"):
            feed.fetch_rates(url)
        assert script.requests == 3  # not 10: the breaker stopped the retries
        assert sample(feed, "ledgerstream_fx_circuit_open") == 1
        # the next run (a new client, same state file) makes no call at all
        again = client(waits, breaker_failures=3, breaker_state=state)
        assert sample(again, "ledgerstream_fx_circuit_open") == 1
        with pytest.raises(FxCircuitOpenError, match="no call made"):
            again.fetch_rates(url)
        assert script.requests == 3
        assert sample(again, "ledgerstream_fx_fetch_attempts_total", outcome="refused") == 1
    with ecb_server(Answer()) as (url, script):
        recovering = client(
            waits, breaker_failures=3, breaker_reset_seconds=0.2, breaker_state=state
        )
        time.sleep(0.3)  # past the reset timeout: one trial call, which succeeds
        (day,) = recovering.fetch_rates(url)
    assert day.published_on == date(2026, 11, 11)
    assert sample(recovering, "ledgerstream_fx_circuit_open") == 0
    assert sample(recovering, "ledgerstream_fx_consecutive_failures") == 0
