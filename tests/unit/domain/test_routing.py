"""Stage 2's key: the smallest unit whose state a rule reads, not the whole entity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from streams.domain.exceptions import MissingReferenceError
from streams.domain.posted import PostedLedger, PostedRecord
from streams.domain.reference import ReferenceBook
from streams.domain.routing import LedgerRoute, ledger_key, ledger_route, relocation_notice_needed
from tests.unit.domain.billing_builders import credit_memo, expense, invoice, payment
from tests.unit.domain.builders import (
    customer,
    employee,
    entity,
    project,
    standard_book,
    time_entry,
)

D = Decimal


def book() -> ReferenceBook:
    return standard_book(
        customer(customer_id="C-2", name="Globex"),
        project(project_id="P-200", customer_id="C-2"),
        project(project_id="P-OPS", customer_id=None, kind="INTERNAL_OPEX"),
        entity(entity_id="DE", base_currency="EUR", timezone="Europe/Berlin"),
        employee(employee_id="hans", entity_id="DE", cost_currency="EUR"),
    )


def test_client_work_invoices_credit_memos_and_payments_share_their_customers_key() -> None:
    b = book()
    keys = {
        ledger_key(e, b) for e in (time_entry(), expense(), invoice(), credit_memo(), payment())
    }
    assert keys == {"US/customer/C-1"}


def test_one_entity_spreads_over_a_key_per_customer_and_internal_project() -> None:
    b = book()
    assert ledger_key(time_entry(project_id="P-200"), b) == "US/customer/C-2"
    assert ledger_key(invoice(customer_id="C-2", project_id="P-200"), b) == "US/customer/C-2"
    assert ledger_key(time_entry(project_id="P-OPS"), b) == "US/project/P-OPS"
    assert ledger_key(expense(project_id=None, billable=False), b) == "US/shared"


def test_intercompany_time_is_keyed_by_its_project_and_posts_in_both_entities() -> None:
    route = ledger_route(time_entry(employee_id="hans"), book())
    assert route == LedgerRoute("US/customer/C-1", ("US", "DE"))
    assert route.paused_by(frozenset({"DE"})) == "DE"
    assert route.paused_by(frozenset({"FR"})) is None
    assert ledger_route(time_entry(), book()).entities == ("US",)


def test_an_unknown_project_cannot_be_routed_yet() -> None:
    with pytest.raises(MissingReferenceError):
        ledger_key(time_entry(project_id="P-404"), book())


def test_a_later_version_unknown_here_may_have_posted_elsewhere() -> None:
    empty = PostedLedger()
    assert not relocation_notice_needed(1, "time_entry", "TE-1", empty)
    assert relocation_notice_needed(2, "time_entry", "TE-1", empty)
    here = empty.with_record(PostedRecord(source_type="time_entry", source_id="TE-1", version=1))
    assert not relocation_notice_needed(2, "time_entry", "TE-1", here)
