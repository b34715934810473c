"""The European Central Bank's euro foreign-exchange reference rates, fetched like a connector.

The ECB publishes, each TARGET business day around 16:00 CET, the rates of its daily
concertation (14:10 CET) as XML: ``eurofxref-daily.xml`` (the latest day) and
``eurofxref-hist-90d.xml`` (the last 90 days), in the format::

    <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                     xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
      <gesmes:subject>Reference rates</gesmes:subject>
      <Cube>
        <Cube time="2026-03-02">
          <Cube currency="USD" rate="1.0843"/> ...

Each rate is units of the currency per 1 EUR. :func:`parse_reference_rates` reads
that (with ``defusedxml``: no entity expansion, no external entities) and refuses
anything else precisely (:class:`FxSourceFormatError`).

:class:`EcbClient` fetches one URL the way a production connector must: a timeout on
connect and read; retries with exponential backoff and full jitter (``tenacity``) on
timeouts, connection errors, 429 and 5xx; a ``Retry-After`` (seconds or an HTTP date)
honoured as the least wait; and a circuit breaker (``pybreaker``) that opens after
``breaker_failures`` failed attempts in a row and refuses calls, without touching the
network, until ``breaker_reset_seconds`` have passed (then one trial call). The
breaker's state is kept in a JSON file, so the runs of a scheduled job share it.
Every attempt and the breaker's state are counted in a Prometheus registry the
caller exports (:class:`FxFeedMetrics`).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import ClassVar, Final
from xml.etree.ElementTree import Element

import pybreaker
import requests
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from prometheus_client import CollectorRegistry, Counter, Gauge
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from streams.domain.exceptions import PermanentError, TransientError

__all__ = [
    "ECB_NAMESPACE",
    "EcbClient",
    "FileBreakerStorage",
    "FxCircuitOpenError",
    "FxFeedMetrics",
    "FxSourceFormatError",
    "FxSourceUnavailableError",
    "RateDay",
    "parse_reference_rates",
]

_log = logging.getLogger(__name__)

ECB_NAMESPACE: Final = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_CUBE: Final = f"{{{ECB_NAMESPACE}}}Cube"


class FxSourceUnavailableError(TransientError):
    """The rate source did not answer usefully after every retry (timeouts, 429, 5xx)."""

    code: ClassVar[str] = "FX_SOURCE_UNAVAILABLE"


class FxSourceFormatError(PermanentError):
    """The rate source answered with something that is not its documented format."""

    code: ClassVar[str] = "FX_SOURCE_MALFORMED"


class FxCircuitOpenError(TransientError):
    """The circuit breaker is open: the source failed repeatedly; no call is made."""

    code: ClassVar[str] = "FX_CIRCUIT_OPEN"


@dataclass(frozen=True, slots=True)
class RateDay:
    """One publication: its date and each currency's rate per 1 EUR."""

    published_on: date
    rates: dict[str, Decimal]


def parse_reference_rates(data: bytes) -> list[RateDay]:
    """Read the ECB's reference-rate XML (daily or history): one :class:`RateDay` per date.

    Returns:
        The publications, newest first as the file lists them.

    Raises:
        FxSourceFormatError: Not well-formed XML, XML with entity declarations, no
            ``Cube`` of dates, a date or rate that does not parse, a non-positive
            rate, or a currency twice on one date (``field`` says where).

    """
    try:
        root: Element = ElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise FxSourceFormatError(f"refused XML: {exc}", field="body") from exc
    except Exception as exc:  # xml.etree.ElementTree.ParseError and kin
        raise FxSourceFormatError(f"not well-formed XML: {exc}", field="body") from exc
    outer = root.find(_CUBE)
    if outer is None:
        raise FxSourceFormatError(
            f"no <Cube> in the {ECB_NAMESPACE} namespace: not an ECB reference-rate file",
            field="Cube",
        )
    days: list[RateDay] = []
    for n, cube in enumerate(outer.findall(_CUBE)):
        when = cube.get("time", "")
        try:
            published = date.fromisoformat(when)
        except ValueError as exc:
            raise FxSourceFormatError(
                f"Cube[{n}]: time {when!r} is not YYYY-MM-DD", field=f"Cube[{n}].time"
            ) from exc
        rates: dict[str, Decimal] = {}
        for m, line in enumerate(cube.findall(_CUBE)):
            where = f"Cube[{when}].Cube[{m}]"
            currency, text = line.get("currency", ""), line.get("rate", "")
            if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
                raise FxSourceFormatError(
                    f"{where}: currency {currency!r} is not an ISO 4217 code",
                    field=f"{where}.currency",
                )
            try:
                rate = Decimal(text)
            except InvalidOperation as exc:
                raise FxSourceFormatError(
                    f"{where}: rate {text!r} of {currency} is not a number", field=f"{where}.rate"
                ) from exc
            if not rate.is_finite() or rate <= 0:
                raise FxSourceFormatError(
                    f"{where}: rate {text!r} of {currency} must be > 0", field=f"{where}.rate"
                )
            if currency in rates:
                raise FxSourceFormatError(
                    f"{where}: {currency} twice on {when}", field=f"{where}.currency"
                )
            rates[currency] = rate
        days.append(RateDay(published, rates))
    if not days:
        raise FxSourceFormatError("no dated <Cube time=...> of rates", field="Cube")
    return days


class FxFeedMetrics:
    """The connector's metrics, in a registry of their own (a batch job writes them out)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Create every series at 0 (alerts see them from the first export)."""
        r = self.registry = registry or CollectorRegistry()
        self.attempts = Counter(
            "ledgerstream_fx_fetch_attempts",
            "HTTP attempts of `fx fetch` by outcome: ok, retried (429, 5xx, timeout, "
            "connection), failed (not retried: other HTTP errors), malformed, refused "
            "(circuit open).",
            ["source", "outcome"],
            registry=r,
        )
        self.circuit_open = Gauge(
            "ledgerstream_fx_circuit_open",
            "1 while the FX source's circuit breaker is open (calls refused), else 0.",
            ["source"],
            registry=r,
        )
        self.consecutive_failures = Gauge(
            "ledgerstream_fx_consecutive_failures",
            "Failed attempts in a row that the circuit breaker has counted.",
            ["source"],
            registry=r,
        )
        self.rates_published = Counter(
            "ledgerstream_fx_rates_published",
            "Rates `fx fetch` published to ref.fx-rates.",
            ["source"],
            registry=r,
        )
        self.last_success = Gauge(
            "ledgerstream_fx_last_success_timestamp_seconds",
            "Unix time of the last fetch that published rates (0: none yet in this file).",
            ["source"],
            registry=r,
        )

    def declare(self, source: str) -> None:
        """Create a source's series at 0."""
        for outcome in ("ok", "retried", "failed", "malformed", "refused"):
            self.attempts.labels(source=source, outcome=outcome)
        self.circuit_open.labels(source=source).set(0)
        self.consecutive_failures.labels(source=source).set(0)
        self.rates_published.labels(source=source)
        self.last_success.labels(source=source)


class FileBreakerStorage(pybreaker.CircuitBreakerStorage):
    """A circuit breaker's state in a small JSON file: scheduled runs share one breaker.

    Written on every change (a few times per run at most); an unreadable file is
    taken as a closed breaker, and said so in the log.
    """

    def __init__(self, path: Path) -> None:
        """Load the state kept at ``path`` (closed when there is none)."""
        super().__init__("file")
        self._path = path
        self._data: dict[str, object] = {"state": pybreaker.STATE_CLOSED, "failures": 0}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._data.update(loaded)
            except (OSError, ValueError) as exc:
                _log.warning("circuit breaker state %s unreadable (%s): taken as closed", path, exc)

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data))
        tmp.replace(self._path)

    @property
    def state(self) -> str:
        """Return the breaker's state: closed, open or half-open."""
        return str(self._data["state"])

    @state.setter
    def state(self, state: str) -> None:
        self._data["state"] = state
        self._save()

    def increment_counter(self) -> None:
        """Count one more failure in a row."""
        self._data["failures"] = self.counter + 1
        self._save()

    def reset_counter(self) -> None:
        """Forget the failures (a success)."""
        if self.counter:
            self._data["failures"] = 0
            self._save()

    def increment_success_counter(self) -> None:
        """Count one success in the half-open state."""
        self._data["successes"] = self.success_counter + 1
        self._save()

    def reset_success_counter(self) -> None:
        """Forget the half-open successes."""
        if self.success_counter:
            self._data["successes"] = 0
            self._save()

    @property
    def counter(self) -> int:
        """Return the failures in a row."""
        return int(str(self._data.get("failures", 0)))

    @property
    def success_counter(self) -> int:
        """Return the successes in the half-open state."""
        return int(str(self._data.get("successes", 0)))

    @property
    def opened_at(self) -> datetime | None:
        """Return when the breaker last opened."""
        value = self._data.get("opened_at")
        return datetime.fromisoformat(str(value)) if value else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self._data["opened_at"] = when.isoformat()
        self._save()


class _RetryableError(Exception):
    """An attempt that may succeed later; ``retry_after`` is the server's least wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Read a ``Retry-After`` header: delta-seconds or an HTTP date (None if absent/bad)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class EcbClient:
    """Fetch one URL with timeouts, retries (backoff, jitter, Retry-After) and a breaker."""

    def __init__(
        self,
        *,
        source: str = "ECB",
        timeout_seconds: float = 10.0,
        attempts: int = 5,
        backoff_first_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 300.0,
        breaker_state: Path | None = None,
        metrics: FxFeedMetrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
        session: requests.Session | None = None,
    ) -> None:
        """Configure the connector (see the module docstring for what each knob does)."""
        self.source = source
        self._timeout = timeout_seconds
        self._attempts = attempts
        self._first = backoff_first_seconds
        self._max = backoff_max_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._session = session or requests.Session()
        self._last_error: Exception | None = None
        self.metrics = metrics or FxFeedMetrics()
        self.metrics.declare(source)
        storage = (
            FileBreakerStorage(breaker_state)
            if breaker_state is not None
            else pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        )
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=breaker_failures,
            reset_timeout=breaker_reset_seconds,
            state_storage=storage,
            name=f"fx-{source}",
        )
        self._show_breaker()

    def _show_breaker(self) -> None:
        self.metrics.circuit_open.labels(source=self.source).set(
            1 if self.breaker.current_state == pybreaker.STATE_OPEN else 0
        )
        self.metrics.consecutive_failures.labels(source=self.source).set(self.breaker.fail_counter)

    def _wait(self, state: RetryCallState) -> float:
        """Full-jitter exponential backoff, but never less than the server's Retry-After."""
        ceiling = min(self._max, self._first * 2 ** (state.attempt_number - 1))
        wait = self._jitter(0, ceiling)
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RetryableError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait

    def _attempt(self, url: str) -> list[RateDay]:
        count = self.metrics.attempts
        try:
            response = self._session.get(url, timeout=self._timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            count.labels(source=self.source, outcome="retried").inc()
            raise _RetryableError(f"{url}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            count.labels(source=self.source, outcome="retried").inc()
            after = _retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            raise _RetryableError(f"{url}: HTTP {status} {response.reason}", after)
        if status != 200:
            count.labels(source=self.source, outcome="failed").inc()
            raise FxSourceUnavailableError(f"{url}: HTTP {status} {response.reason}", field="url")
        try:
            days = parse_reference_rates(response.content)
        except FxSourceFormatError as exc:
            count.labels(source=self.source, outcome="malformed").inc()
            exc.message = f"{url}: {exc.message}"
            raise
        count.labels(source=self.source, outcome="ok").inc()
        return days

    def _guarded(self, url: str) -> list[RateDay]:
        called = False

        def attempt() -> list[RateDay]:
            nonlocal called
            called = True
            try:
                return self._attempt(url)
            except Exception as exc:
                self._last_error = exc
                raise

        try:
            return self.breaker.call(attempt)
        except pybreaker.CircuitBreakerError as exc:
            if not called:
                self.metrics.attempts.labels(source=self.source, outcome="refused").inc()
                why = "is open: no call made"
            else:
                why = f"opened after {self.breaker.fail_max} failures in a row"
            raise FxCircuitOpenError(
                f"{self.source} circuit breaker {why} (last failure: {self._last_error}); "
                f"calls resume {self.breaker.reset_timeout:g} s after it opened",
                field="url",
            ) from exc
        finally:
            self._show_breaker()

    def fetch_rates(self, url: str) -> list[RateDay]:
        """GET ``url`` and parse the ECB reference rates it answers with.

        Timeouts, connection errors, 429 and 5xx are retried (backoff with jitter, at
        least the ``Retry-After``); every failed attempt, a malformed body included,
        counts towards the circuit breaker.

        Raises:
            FxCircuitOpenError: The breaker is (or became) open; nothing more is tried.
            FxSourceUnavailableError: Every attempt failed, or an HTTP error that
                retrying cannot fix (4xx other than 429).
            FxSourceFormatError: The body is not the ECB's format (not retried).

        """
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_RetryableError),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._guarded, url)
        except _RetryableError as exc:
            raise FxSourceUnavailableError(
                f"{exc} (gave up after {self._attempts} attempts)", field="url"
            ) from exc
