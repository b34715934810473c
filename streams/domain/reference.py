"""Reference data the rules enrich events with, and the in-memory book that holds it.

The models mirror the compacted topics ``ref.entities``, ``pm.customers``,
``pm.projects``, ``pm.employees`` and ``ref.fx-rates`` field for field. The agents
fill a ``ReferenceBook`` from those topics (``put`` a value, ``delete`` on a
tombstone); the rules only read it, and a missing record raises a ``TransientError``
so the event can be parked until the record arrives.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from streams.domain.exceptions import (
    InvalidEventError,
    MissingFxRateError,
    MissingReferenceError,
)
from streams.domain.fields import FXRATE_SCALE, CurrencyCode, FxRateValue, RateValue
from streams.domain.money import MONEY_CONTEXT, RoundingMode

__all__ = [
    "Customer",
    "Employee",
    "FxRate",
    "FxRateType",
    "LegalEntity",
    "Project",
    "ProjectKind",
    "RefKind",
    "ReferenceBook",
    "ReferenceModel",
    "TaxRounding",
    "fx_key",
]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "unknown_timezone", "unknown IANA timezone {timezone}", {"timezone": value}
        ) from None
    return value


class _Reference(BaseModel):
    model_config = ConfigDict(frozen=True)


class TaxRounding(StrEnum):
    """Where an entity rounds invoice tax: each line, or once per tax code per invoice."""

    PER_LINE = "PER_LINE"
    PER_INVOICE = "PER_INVOICE"


class LegalEntity(_Reference):
    """A legal entity that books postings: base currency, timezone, policies."""

    entity_id: str
    name: str
    base_currency: CurrencyCode
    timezone: Annotated[str, AfterValidator(_timezone)]
    tax_regime: str
    approval_required: bool
    rounding_mode: RoundingMode = RoundingMode.HALF_UP
    account_overrides: dict[str, str] = Field(default_factory=dict)
    fx_max_staleness_days: int = Field(default=5, ge=0)
    tax_rounding: TaxRounding = TaxRounding.PER_INVOICE

    @property
    def zone(self) -> ZoneInfo:
        """The entity's timezone, which sets the business date of its events."""
        return ZoneInfo(self.timezone)


class Customer(_Reference):
    """A client billed by an entity, with an optional default hourly rate."""

    customer_id: str
    name: str
    entity_id: str
    currency: CurrencyCode
    tax_code: str | None = None
    default_rate: RateValue | None = None


class ProjectKind(StrEnum):
    """What a project earns: time and materials, fixed fee, retainer, or nothing."""

    CLIENT_TM = "CLIENT_TM"
    CLIENT_FIXED = "CLIENT_FIXED"
    RETAINER = "RETAINER"
    INTERNAL_OPEX = "INTERNAL_OPEX"
    INTERNAL_CAPEX = "INTERNAL_CAPEX"


class Project(_Reference):
    """A project: its entity, customer, billing currency, rates and rounding."""

    project_id: str
    name: str
    entity_id: str
    customer_id: str | None = None
    kind: ProjectKind
    billing_currency: CurrencyCode
    rate: RateValue | None = None
    task_rates: dict[str, RateValue] = Field(default_factory=dict)
    employee_rates: dict[str, RateValue] = Field(default_factory=dict)
    rounding_increment_minutes: int = Field(default=0, ge=0)
    contract_fx_rate: FxRateValue | None = None
    contract_id: str | None = None


class Employee(_Reference):
    """A person who records time: home entity and hourly cost."""

    employee_id: str
    name: str
    entity_id: str
    cost_rate: RateValue
    cost_currency: CurrencyCode


class FxRateType(StrEnum):
    """Market (SPOT) or contractually agreed (CONTRACT) rate."""

    SPOT = "SPOT"
    CONTRACT = "CONTRACT"


class FxRate(_Reference):
    """Units of ``to_currency`` per one ``from_currency`` on ``rate_date``."""

    from_currency: CurrencyCode
    to_currency: CurrencyCode
    rate_date: date
    rate: FxRateValue
    rate_type: FxRateType
    contract_id: str | None = None
    source: str
    quoted_at: AwareDatetime
    published_on: date | None = None
    fetched_at: AwareDatetime | None = None
    source_url: str | None = None


ReferenceModel = LegalEntity | Customer | Project | Employee | FxRate


class RefKind(StrEnum):
    """The kinds of reference record a book holds (``MissingReferenceError.kind``)."""

    ENTITY = "entity"
    CUSTOMER = "customer"
    PROJECT = "project"
    EMPLOYEE = "employee"
    FX_RATE = "fx_rate"


#: The compacted topics (docs/design.md §2) each kind of reference record arrives on.
REFERENCE_TOPICS: Final[dict[str, tuple[RefKind, type[ReferenceModel]]]] = {
    "ref.entities": (RefKind.ENTITY, LegalEntity),
    "ref.fx-rates": (RefKind.FX_RATE, FxRate),
    "pm.customers": (RefKind.CUSTOMER, Customer),
    "pm.projects": (RefKind.PROJECT, Project),
    "pm.employees": (RefKind.EMPLOYEE, Employee),
}


def fx_key(rate: FxRate) -> str:
    """Return the ``ref.fx-rates`` key of a rate: ``FROM/TO/YYYY-MM-DD/TYPE``."""
    return f"{rate.from_currency}/{rate.to_currency}/{rate.rate_date.isoformat()}/{rate.rate_type}"


_FX_QUANTUM: Final = Decimal(1).scaleb(-FXRATE_SCALE)


class _PairIndex:
    """SPOT rates of one currency pair sorted by date, for bisecting."""

    __slots__ = ("dates", "rates")

    def __init__(self) -> None:
        self.dates: list[date] = []
        self.rates: list[FxRate] = []

    def upsert(self, rate: FxRate) -> None:
        i = bisect_left(self.dates, rate.rate_date)
        if i < len(self.dates) and self.dates[i] == rate.rate_date:
            self.rates[i] = rate
        else:
            self.dates.insert(i, rate.rate_date)
            self.rates.insert(i, rate)

    def remove(self, on: date) -> None:
        i = bisect_left(self.dates, on)
        if i < len(self.dates) and self.dates[i] == on:
            del self.dates[i]
            del self.rates[i]

    def latest(self, on: date, earliest: date) -> FxRate | None:
        i = bisect_right(self.dates, on) - 1
        if i >= 0 and self.dates[i] >= earliest:
            return self.rates[i]
        return None


class ReferenceBook:
    """The latest reference records, by key, as read from the compacted topics.

    Not thread-safe; one book per worker, filled by one reader.
    """

    def __init__(self, account_map: Mapping[str, str] | None = None) -> None:
        """Start empty; the agents fill the book from the compacted topics.

        Args:
            account_map: The posting rules' own account changes (default code ->
                code), applied to every entity under its own ``account_overrides``.
                A change here is a new rule version: replayed records whose
                commands change are reversed and posted anew.

        """
        self._account_map = dict(account_map or {})
        self._entities: dict[str, LegalEntity] = {}
        self._customers: dict[str, Customer] = {}
        self._projects: dict[str, Project] = {}
        self._employees: dict[str, Employee] = {}
        self._fx: dict[str, FxRate] = {}
        self._spot: dict[tuple[str, str], _PairIndex] = {}

    def put(self, key: str, model: ReferenceModel) -> None:
        """Record the latest value of a reference key (the kind follows from the model).

        Args:
            key: The Kafka key: the model's id, or ``fx_key(rate)`` for FX rates.
            model: The validated record.

        Raises:
            InvalidEventError: The key does not match the model (``field="key"``).

        """
        check_key(key, model)
        if isinstance(model, LegalEntity):
            if self._account_map:
                overrides = {**self._account_map, **model.account_overrides}
                model = model.model_copy(update={"account_overrides": overrides})
            self._entities[key] = model
        elif isinstance(model, Customer):
            self._customers[key] = model
        elif isinstance(model, Project):
            self._projects[key] = model
        elif isinstance(model, Employee):
            self._employees[key] = model
        else:
            self.delete(RefKind.FX_RATE, key)
            self._fx[key] = model
            if model.rate_type is FxRateType.SPOT:
                pair = (model.from_currency, model.to_currency)
                self._spot.setdefault(pair, _PairIndex()).upsert(model)

    def delete(self, kind: RefKind | str, key: str) -> None:
        """Forget a reference key (a tombstone); unknown keys are ignored."""
        old = self._store(RefKind(kind)).pop(key, None)
        if isinstance(old, FxRate) and old.rate_type is FxRateType.SPOT:
            index = self._spot.get((old.from_currency, old.to_currency))
            if index is not None:
                index.remove(old.rate_date)

    def _store(self, kind: RefKind) -> dict[str, Any]:
        stores: dict[RefKind, dict[str, Any]] = {
            RefKind.ENTITY: self._entities,
            RefKind.CUSTOMER: self._customers,
            RefKind.PROJECT: self._projects,
            RefKind.EMPLOYEE: self._employees,
            RefKind.FX_RATE: self._fx,
        }
        return stores[kind]

    def entity(self, entity_id: str) -> LegalEntity:
        """Return the legal entity, or raise ``MissingReferenceError("entity", id)``."""
        try:
            return self._entities[entity_id]
        except KeyError:
            raise MissingReferenceError(RefKind.ENTITY, entity_id) from None

    def customer(self, customer_id: str) -> Customer:
        """Return the customer, or raise ``MissingReferenceError("customer", id)``."""
        try:
            return self._customers[customer_id]
        except KeyError:
            raise MissingReferenceError(RefKind.CUSTOMER, customer_id) from None

    def project(self, project_id: str) -> Project:
        """Return the project, or raise ``MissingReferenceError("project", id)``."""
        try:
            return self._projects[project_id]
        except KeyError:
            raise MissingReferenceError(RefKind.PROJECT, project_id) from None

    def employee(self, employee_id: str) -> Employee:
        """Return the employee, or raise ``MissingReferenceError("employee", id)``."""
        try:
            return self._employees[employee_id]
        except KeyError:
            raise MissingReferenceError(RefKind.EMPLOYEE, employee_id) from None

    def sizes(self) -> dict[str, int]:
        """Count the records held per kind (for readiness logs and gauges)."""
        return {str(kind): len(self._store(kind)) for kind in RefKind}

    def fx_rate(self, from_ccy: str, to_ccy: str, on: date, max_staleness_days: int) -> FxRate:
        """Find the SPOT rate that converts ``from_ccy`` into ``to_ccy`` on a business date.

        The newest SPOT rate dated within ``[on - max_staleness_days, on]`` wins. A
        rate for the inverse pair counts too: its reciprocal, quantized to 12
        places (half-even), with ``source`` ``"inverse:<source>"``. When both pairs
        have a rate, the newer date wins and the direct pair wins a tie.

        Args:
            from_ccy: Currency converted from.
            to_ccy: Currency converted to.
            on: The business date (entity-local).
            max_staleness_days: How many days older than ``on`` a rate may be.

        Returns:
            The rate, with ``from_currency == from_ccy`` and ``to_currency == to_ccy``.

        Raises:
            MissingFxRateError: No rate in the window (park until one arrives).

        """
        earliest = on - timedelta(days=max_staleness_days)
        direct = self._latest(from_ccy, to_ccy, on, earliest)
        inverse = self._latest(to_ccy, from_ccy, on, earliest)
        if direct is not None and (inverse is None or direct.rate_date >= inverse.rate_date):
            return direct
        if inverse is not None:
            reciprocal = MONEY_CONTEXT.divide(Decimal(1), inverse.rate).quantize(
                _FX_QUANTUM, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT
            )
            return inverse.model_copy(
                update={
                    "from_currency": from_ccy,
                    "to_currency": to_ccy,
                    "rate": reciprocal,
                    "source": f"inverse:{inverse.source}",
                }
            )
        raise MissingFxRateError(from_ccy, to_ccy, on, max_staleness_days)

    def _latest(self, from_ccy: str, to_ccy: str, on: date, earliest: date) -> FxRate | None:
        index = self._spot.get((from_ccy, to_ccy))
        return None if index is None else index.latest(on, earliest)


def check_key(key: str, model: ReferenceModel) -> None:
    """Refuse a reference record whose Kafka key is not its own id (compaction would mix them).

    Raises:
        InvalidEventError: The key does not match the model (``field="key"``).

    """
    kind, expected = _identity(model)
    if key != expected:
        raise InvalidEventError(
            f"{kind} key {key!r} does not match its record ({expected!r})", field="key"
        )


def reference_key(model: ReferenceModel) -> str:
    """Return the Kafka key a reference record belongs under (its id, or ``fx_key``)."""
    return _identity(model)[1]


def _identity(model: ReferenceModel) -> tuple[RefKind, str]:
    if isinstance(model, LegalEntity):
        return RefKind.ENTITY, model.entity_id
    if isinstance(model, Customer):
        return RefKind.CUSTOMER, model.customer_id
    if isinstance(model, Project):
        return RefKind.PROJECT, model.project_id
    if isinstance(model, Employee):
        return RefKind.EMPLOYEE, model.employee_id
    return RefKind.FX_RATE, fx_key(model)
