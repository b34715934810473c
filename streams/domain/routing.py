"""Which ledger a source event belongs to: the key its postings are processed under.

Stage 2 keeps the table of what was posted next to the records that read it, one
partition of ``ledgerstream.ledger-events`` per slice of the table. The key is the
smallest unit whose state a rule reads, so that a firm with one legal entity still
spreads its ledger over many partitions (and workers):

- **client work** (time, expenses on a project with a customer), **invoices**,
  **credit memos**, **retainers** and **payments**: ``<entity>/customer/<customer>``.
  An invoice relieves the WIP of that customer's entries and expenses, applies that
  customer's deposits; a credit memo reads the invoice it credits and a payment
  the invoices it settles, all issued by the same entity to the same customer
  (the rules refuse another entity or customer);
- **internal projects** (no customer: opex, capex): ``<entity>/project/<project>``;
  nothing bills them, only their own earlier versions are read;
- **a shared expense** (no project): ``<entity>/shared``, the employee's entity;
- **intercompany time** posts in two entities, but the rules read only the
  project side's state (its WIP, billed by the project's customer): it is keyed
  like client work of the project's entity; the employee's entity receives its
  recharge command without reading anything back. Both entities' kill switches
  hold it (``LedgerRoute.entities``).

A record's versions can change key (its project moved to another entity or
customer, or an edit put it on another project). A ledger that posts such a
version without knowing the earlier one (``relocation_notice_needed``) sends a
notice to every other partition, and the ledger that holds the earlier version
reverses it (``streams.domain.posting.post_relocation``).
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain.events import ExpenseRecorded, TimeEntryRecorded
from streams.domain.invoices import InvoiceIssued
from streams.domain.payments import PaymentReceived
from streams.domain.posted import PostedLedger
from streams.domain.reference import ReferenceBook

__all__ = ["LedgerRoute", "ledger_key", "ledger_route", "relocation_notice_needed"]

_Event = TimeEntryRecorded | ExpenseRecorded | InvoiceIssued | PaymentReceived


@dataclass(frozen=True, slots=True)
class LedgerRoute:
    """Where an event posts: its stage-2 key and every entity it posts in."""

    key: str
    #: The entity whose ledger state the event reads first, then any other it posts in.
    entities: tuple[str, ...]

    def paused_by(self, paused: frozenset[str]) -> str | None:
        """Return the first entity of this route whose kill switch is on, if any."""
        return next((e for e in self.entities if e in paused), None)


def ledger_route(event: _Event, book: ReferenceBook) -> LedgerRoute:
    """Return the stage-2 key of ``event`` and the entities it posts in.

    Raises:
        MissingReferenceError: The project (or, for an expense without one, the
            employee; for intercompany time, the employee) is not in the book yet.

    """
    if isinstance(event, InvoiceIssued | PaymentReceived):
        return LedgerRoute(_customer_key(event.entity_id, event.customer_id), (event.entity_id,))
    if event.project_id is None:  # a shared expense: the employee's entity's pool
        entity_id = book.employee(event.employee_id).entity_id
        return LedgerRoute(f"{entity_id}/shared", (entity_id,))
    project = book.project(event.project_id)
    entity_id = project.entity_id
    if project.customer_id is not None:
        key = _customer_key(entity_id, project.customer_id)
    else:
        key = f"{entity_id}/project/{project.project_id}"
    entities: tuple[str, ...] = (entity_id,)
    if isinstance(event, TimeEntryRecorded):
        home = book.employee(event.employee_id).entity_id
        if home != entity_id:
            entities = (entity_id, home)
    return LedgerRoute(key, entities)


def ledger_key(event: _Event, book: ReferenceBook) -> str:
    """Return the stage-2 key of ``event`` (``ledger_route(event, book).key``)."""
    return ledger_route(event, book).key


def relocation_notice_needed(version: int, kind: str, source_id: str, ledger: PostedLedger) -> bool:
    """Say whether posting this version must tell the other ledgers it moved here.

    A version above 1 that finds nothing live of its record in this ledger may have
    been posted, in an earlier version, under another key: its project moved, or an
    edit put it on another project. A first version needs none: no ledger can
    hold an earlier one.
    """
    return version > 1 and ledger.live(kind, source_id) is None


def _customer_key(entity_id: str, customer_id: str) -> str:
    return f"{entity_id}/customer/{customer_id}"
