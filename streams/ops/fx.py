"""``fx fetch``: the ECB's euro reference rates onto ``ref.fx-rates``, with provenance.

One run fetches one publication (the newest, or ``--date``'s) through the connector
of :mod:`streams.adapters.ecb` (timeouts, retries with backoff and jitter,
``Retry-After``, a circuit breaker shared by every run through a state file), turns
each currency's rate into an ``FxRate`` EUR -> currency, SPOT, and publishes it keyed
``EUR/<CCY>/<date>/SPOT`` on the compacted topic: a re-run for the same date
replaces the same keys. Each rate says where it came from (schema ``ref.fx-rates``
v2): ``source`` ``ECB``, ``published_on`` the ECB's date, ``quoted_at`` the ECB's
concertation time (14:10 Frankfurt time) on that date, ``fetched_at`` and
``source_url``. Stage 2 uses a EUR pair either way round (``streams.domain.fx``).

A currency ledgerstream does not know (no ISO 4217 exponent) is left out and listed.
The connector's metrics are written after every run, failed or not, in Prometheus'
text format to a file (for node-exporter's textfile collector, as batch jobs do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Final, TextIO
from zoneinfo import ZoneInfo

from prometheus_client import write_to_textfile

from streams.adapters.avro import AvroCodec
from streams.adapters.ecb import EcbClient, FxSourceUnavailableError, RateDay
from streams.adapters.kafka_io import RecordProducer
from streams.domain.money import is_known_currency
from streams.domain.reference import FxRate, FxRateType, fx_key
from streams.ops.exceptions import InvalidArgumentError
from streams.settings import Settings

__all__ = ["ECB_SOURCE", "FX_TOPIC", "client_from_settings", "pick_day", "rates_of", "run_fetch"]

FX_TOPIC: Final = "ref.fx-rates"
ECB_SOURCE: Final = "ECB"
#: The ECB's daily concertation: 14:10 Frankfurt time (its rates' quoted instant).
_CONCERTATION: Final = time(14, 10)
_FRANKFURT: Final = ZoneInfo("Europe/Berlin")


def pick_day(days: Sequence[RateDay], on: date | None) -> RateDay:
    """Return the newest publication, or the one of ``on``.

    Raises:
        FxSourceUnavailableError: The source has no publication for ``on`` (a weekend,
            a TARGET holiday, or older than the file): the message names the nearest
            earlier one.

    """
    if on is None:
        return max(days, key=lambda d: d.published_on)
    for day in days:
        if day.published_on == on:
            return day
    earlier = [d.published_on for d in days if d.published_on < on]
    hint = f"; the latest before it is {max(earlier)}" if earlier else ""
    raise FxSourceUnavailableError(
        f"the ECB published no reference rates for {on} (a weekend or TARGET holiday, or "
        f"outside the file's dates){hint}",
        field="--date",
    )


def rates_of(day: RateDay, *, url: str, fetched_at: datetime) -> tuple[list[FxRate], list[str]]:
    """Turn one publication into ``FxRate`` records EUR -> currency, and the codes left out."""
    quoted = datetime.combine(day.published_on, _CONCERTATION, tzinfo=_FRANKFURT).astimezone(UTC)
    rates, unknown = [], []
    for currency, rate in sorted(day.rates.items()):
        if not is_known_currency(currency):
            unknown.append(currency)
            continue
        rates.append(
            FxRate(
                from_currency="EUR",
                to_currency=currency,
                rate_date=day.published_on,
                rate=rate,
                rate_type=FxRateType.SPOT,
                source=ECB_SOURCE,
                quoted_at=quoted,
                published_on=day.published_on,
                fetched_at=fetched_at,
                source_url=url,
            )
        )
    return rates, unknown


def client_from_settings(settings: Settings) -> EcbClient:
    """Return the ECB connector of ``LEDGERSTREAM_FX_*`` (breaker state in the data dir)."""
    return EcbClient(
        source=ECB_SOURCE,
        timeout_seconds=settings.fx_timeout_seconds,
        attempts=settings.fx_attempts,
        backoff_first_seconds=settings.fx_backoff_first_seconds,
        backoff_max_seconds=settings.fx_backoff_max_seconds,
        breaker_failures=settings.fx_breaker_failures,
        breaker_reset_seconds=settings.fx_breaker_reset_seconds,
        breaker_state=settings.data_dir / "fx-ecb-breaker.json",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def run_fetch(
    settings: Settings,
    codec: AvroCodec | None,
    *,
    source: str,
    on: date | None,
    dry_run: bool,
    metrics_file: Path,
    out: TextIO,
    client: EcbClient | None = None,
    clock: Callable[[], datetime] = _now,
) -> int:
    """Fetch one ECB publication and publish its rates (``dry_run``: print them only).

    Returns:
        0 when every known rate was published (or printed).

    Raises:
        InvalidArgumentError: A source other than ``ecb``.
        FxCircuitOpenError, FxSourceUnavailableError, FxSourceFormatError: See
            :meth:`EcbClient.fetch_rates`; the metrics file is written all the same.
        ProduceError: A rate was not delivered.

    """
    if source.lower() != "ecb":
        raise InvalidArgumentError(
            f"--source: only ecb is supported, got {source!r}", field="--source"
        )
    client = client or client_from_settings(settings)
    url = settings.fx_ecb_daily_url if on is None else settings.fx_ecb_history_url
    try:
        day = pick_day(client.fetch_rates(url), on)
        rates, unknown = rates_of(day, url=url, fetched_at=clock())
        if not dry_run:
            assert codec is not None  # noqa: S101 - the CLI passes one unless dry-run
            producer = RecordProducer(settings.kafka_client_config(), linger_ms=5)
            for rate in rates:
                value = codec.encode(FX_TOPIC, rate.model_dump())
                producer.send(settings.topic(FX_TOPIC), fx_key(rate).encode(), value)
            producer.flush()
            client.metrics.rates_published.labels(source=ECB_SOURCE).inc(len(rates))
            client.metrics.last_success.labels(source=ECB_SOURCE).set(clock().timestamp())
    finally:
        metrics_file.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(metrics_file), client.metrics.registry)
    for rate in rates:
        out.write(f"{fx_key(rate):<28} {rate.rate}\n")
    verb = "would publish" if dry_run else f"published to {FX_TOPIC}"
    left = f"; left out (currency unknown to ledgerstream): {', '.join(unknown)}" if unknown else ""
    out.write(
        f"fx fetch: {len(rates)} ECB rate(s) of {day.published_on} {verb} (from {url}){left}\n"
    )
    return 0
