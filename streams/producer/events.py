"""Build an event for a topic and validate it against the topic's current contract.

An event is accepted only if it is a valid *current* record: no field unknown to the
topic's newest schema version (a field of an older version is named as such), every
value valid for the canonical domain model (ranges, currencies, required fields),
and the result encodable with the newest schema. Errors name the field and the rule.
Input is a pydantic model of the topic, a dict of Python values (``Decimal``,
aware ``datetime``...; strings are accepted where pydantic accepts them), or a dict in
JSON form (``json_form=True``: decimals as strings, ISO timestamps with an offset).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from streams.adapters.avro import (
    AvroCodec,
    SchemaCatalog,
    SchemaVersion,
    from_json_form,
    to_json_form,
)
from streams.adapters.avro.jsonform import json_text
from streams.adapters.exceptions import JsonFormError
from streams.adapters.jsonlines import json_type
from streams.domain.events import ExpenseRecorded, TimeEntryRecorded, parse_event
from streams.domain.exceptions import InvalidEventError
from streams.domain.invoices import InvoiceIssued
from streams.domain.payments import PaymentReceived
from streams.domain.reference import Customer, Employee, FxRate, LegalEntity, Project, fx_key
from streams.producer.exceptions import EventRejectedError

__all__ = ["EVENT_TOPICS", "Event", "EventBuilder", "EventSpec", "build_event", "default_catalog"]

DEFAULT_SCHEMAS_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What can be produced to a topic: its canonical model and how its key is formed."""

    topic: str
    model: type[BaseModel]
    key: Callable[[Any], str]


def _field(name: str) -> Callable[[Any], str]:
    return lambda model: str(getattr(model, name))


EVENT_TOPICS: Final[Mapping[str, EventSpec]] = {
    spec.topic: spec
    for spec in (
        EventSpec("pm.time-entries", TimeEntryRecorded, _field("entry_id")),
        EventSpec("pm.expenses", ExpenseRecorded, _field("expense_id")),
        EventSpec("pm.invoices", InvoiceIssued, _field("invoice_id")),
        EventSpec("pm.payments", PaymentReceived, _field("payment_id")),
        EventSpec("pm.customers", Customer, _field("customer_id")),
        EventSpec("pm.projects", Project, _field("project_id")),
        EventSpec("pm.employees", Employee, _field("employee_id")),
        EventSpec("ref.entities", LegalEntity, _field("entity_id")),
        EventSpec("ref.fx-rates", FxRate, fx_key),
    )
}
"""Every topic an upstream producer writes, with its model and key."""


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event, ready to serialise: key, model, Avro-ready record, version."""

    topic: str
    key: str
    model: BaseModel
    record: dict[str, Any]
    version: int


@cache
def default_catalog() -> SchemaCatalog:
    """Return the schemas shipped with ledgerstream (``schemas/``), loaded once."""
    return SchemaCatalog.from_directory(DEFAULT_SCHEMAS_DIR)


class EventBuilder:
    """Validates events against the newest schema version of their topic."""

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        """Use ``catalog`` for the current schemas (default: :func:`default_catalog`)."""
        self._catalog = catalog or default_catalog()

    def build(
        self, topic: str, data: BaseModel | Mapping[str, Any], *, json_form: bool = False
    ) -> Event:
        """Validate ``data`` as a current event of ``topic``.

        Raises:
            EventRejectedError: Unknown topic or field, invalid value, or a record
                that does not fit the schema; ``field`` names the culprit.

        """
        spec = EVENT_TOPICS.get(topic)
        if spec is None:
            raise EventRejectedError(
                topic, f"not a topic producers write (known: {', '.join(sorted(EVENT_TOPICS))})"
            )
        latest = self._catalog.latest(topic)
        if isinstance(data, BaseModel):
            if not isinstance(data, spec.model):
                raise EventRejectedError(
                    topic, f"expected a {spec.model.__name__}, got a {type(data).__name__}"
                )
            values: Mapping[str, Any] = data.model_dump()
        else:
            self._check_names(topic, data, latest)
            values = self._from_json(topic, latest, data) if json_form else data
        try:
            model = parse_event(spec.model, values)
        except InvalidEventError as exc:
            reason = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
            raise EventRejectedError(topic, reason, field=exc.field) from exc
        record = model.model_dump()
        try:
            to_json_form(latest.parsed, record)  # what the model allows but Avro cannot carry
        except JsonFormError as exc:
            raise _rejected(topic, exc) from exc
        return Event(topic, spec.key(model), model, record, latest.version)

    def build_version(self, topic: str, data: Mapping[str, Any], version: int) -> Event:
        """Validate ``data`` (JSON form) as schema version ``version`` of ``topic``.

        The value is read with that version's schema and checked as a worker reads it
        (translated to the current model); it is published in that version, as an
        upstream system still on it would. The newest version is :meth:`build`.

        Raises:
            EventRejectedError: An unknown version, or a value that does not fit it.

        """
        spec = EVENT_TOPICS.get(topic)
        versions = self._catalog.versions(topic) if spec is not None else []
        if spec is None or version == versions[-1]:
            return self.build(topic, data, json_form=True)
        if type(version) is not int or version not in versions:
            raise EventRejectedError(
                topic,
                f"expected a schema version of {topic} ({versions[0]}..{versions[-1]}), "
                f"got {json_text(version)}",
                field="schema_version",
            )
        try:
            record = from_json_form(self._catalog.version(topic, version).parsed, data)
        except JsonFormError as exc:
            raise _rejected(topic, exc) from exc
        codec = AvroCodec(self._catalog)
        current = codec.decode(topic, codec.encode(topic, record, version=version)).record
        try:
            model = parse_event(spec.model, current)
        except InvalidEventError as exc:
            reason = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
            raise EventRejectedError(topic, reason, field=exc.field) from exc
        return Event(topic, spec.key(model), model, record, version)

    def _check_names(self, topic: str, data: Mapping[str, Any], latest: SchemaVersion) -> None:
        if not isinstance(data, Mapping):
            raise EventRejectedError(topic, f"expected an object, got {json_type(data)}")
        known = [f["name"] for f in latest.raw["fields"]]
        for name in data:
            if name in known:
                continue
            older = [
                sv.version
                for sv in self._catalog.history(topic)
                if any(f["name"] == name for f in sv.raw["fields"])
            ]
            if older:
                hint = (
                    f"it was a field of v{older[-1]} only; the current version is v{latest.version}"
                )
            else:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "not in the schema"
            raise EventRejectedError(topic, f"unknown field ({hint})", field=str(name))

    @staticmethod
    def _from_json(topic: str, latest: SchemaVersion, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            values: dict[str, Any] = from_json_form(latest.parsed, data)
        except JsonFormError as exc:
            raise _rejected(topic, exc) from exc
        return values


def _rejected(topic: str, exc: JsonFormError) -> EventRejectedError:
    reason = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
    return EventRejectedError(topic, reason, field=exc.field)


def build_event(
    topic: str,
    data: BaseModel | Mapping[str, Any],
    *,
    json_form: bool = False,
    catalog: SchemaCatalog | None = None,
) -> Event:
    """Validate ``data`` as a current event of ``topic`` (see :class:`EventBuilder`).

    Args:
        topic: Logical topic, e.g. ``pm.time-entries``.
        data: The topic's pydantic model, or a dict of its fields.
        json_form: ``data`` is in JSON form (decimals as strings, ISO timestamps).
        catalog: Schemas to validate against (default: the ones shipped).

    Raises:
        EventRejectedError: The event is not valid; ``field`` names the culprit.

    """
    return EventBuilder(catalog).build(topic, data, json_form=json_form)
