"""Which FX rate converts a transaction into an entity's base currency.

Precedence: same currency -> IDENTITY (rate 1); the project's contract rate, for
its billing currency into the project entity's base -> CONTRACT; otherwise the
newest SPOT rate in the reference book no older than the entity's
``fx_max_staleness_days`` (a missing one parks the event).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from streams.domain.commands import FxProvenance, RateType
from streams.domain.reference import LegalEntity, Project, ReferenceBook
from streams.domain.trusted import trusted

__all__ = ["CONTRACT_SOURCE", "IDENTITY_SOURCE", "resolve_rate"]

IDENTITY_SOURCE: Final = "identity"
CONTRACT_SOURCE: Final = "project-contract"


def resolve_rate(  # noqa: PLR0913, RUF100 - keyword-only; PLR0913 is off in pyproject
    book: ReferenceBook,
    *,
    from_ccy: str,
    to_ccy: str,
    on: date,
    entity: LegalEntity,
    project: Project | None = None,
) -> FxProvenance:
    """Choose the rate that books ``from_ccy`` amounts in ``to_ccy`` on a business date.

    Args:
        book: Reference data holding the SPOT rates.
        from_ccy: Transaction currency.
        to_ccy: The posting entity's base currency.
        on: The business date in the posting entity's timezone (the rate date).
        entity: The posting entity (its staleness limit applies to SPOT rates).
        project: Pass the project only where its contract rate may apply (revenue);
            it applies when the project belongs to ``entity``, has a
            ``contract_fx_rate``, ``from_ccy`` is its billing currency and ``to_ccy``
            the entity's base currency.

    Returns:
        The rate and its provenance: IDENTITY (``rate_date=on``, source
        ``"identity"``), CONTRACT (``rate_date=on``, source ``"project-contract"``,
        the project's ``contract_id``) or SPOT (the book's rate, date, source and
        ``quoted_at``; an inverse-pair rate says so in ``source``).

    Raises:
        MissingFxRateError: No SPOT rate in the staleness window.

    """
    if from_ccy == to_ccy:
        return _provenance(Decimal(1), RateType.IDENTITY, on, IDENTITY_SOURCE)
    if (
        project is not None
        and project.contract_fx_rate is not None
        and project.entity_id == entity.entity_id
        and from_ccy == project.billing_currency
        and to_ccy == entity.base_currency
    ):
        return _provenance(
            project.contract_fx_rate,
            RateType.CONTRACT,
            on,
            CONTRACT_SOURCE,
            contract_id=project.contract_id,
        )
    spot = book.fx_rate(from_ccy, to_ccy, on, entity.fx_max_staleness_days)
    return _provenance(
        spot.rate, RateType.SPOT, spot.rate_date, spot.source, quoted_at=spot.quoted_at
    )


def _provenance(
    rate: Decimal,
    rate_type: RateType,
    rate_date: date,
    source: str,
    *,
    quoted_at: datetime | None = None,
    contract_id: str | None = None,
) -> FxProvenance:
    """Build the provenance of a rate from validated reference data (no re-validation)."""
    return trusted(
        FxProvenance,
        {
            "rate": rate,
            "rate_type": rate_type,
            "rate_date": rate_date,
            "source": source,
            "quoted_at": quoted_at,
            "contract_id": contract_id,
        },
    )
