"""Which ledger a source event belongs to: the key its postings are processed under.

Everything a posting rule reads from the posted-records table (a time entry's WIP,
an invoice's receivable, a customer's deposits) belongs to one legal entity: the
project's entity for time and expenses (the billing side of intercompany time),
the issuing entity for invoices and payments. Keying the worker's second stage by
that entity keeps all of an entity's records in one partition, in order, so the
table of what was posted can live next to them.
"""

from __future__ import annotations

from streams.domain.events import ExpenseRecorded, TimeEntryRecorded
from streams.domain.invoices import InvoiceIssued
from streams.domain.payments import PaymentReceived
from streams.domain.reference import ReferenceBook

__all__ = ["ledger_key"]


def ledger_key(
    event: TimeEntryRecorded | ExpenseRecorded | InvoiceIssued | PaymentReceived,
    book: ReferenceBook,
) -> str:
    """Return the entity whose ledger posts ``event``.

    Raises:
        MissingReferenceError: The project (or, for an expense without one, the
            employee) is not in the book yet.

    """
    if isinstance(event, InvoiceIssued | PaymentReceived):
        return event.entity_id
    if event.project_id is not None:
        return book.project(event.project_id).entity_id
    return book.employee(event.employee_id).entity_id
