"""The period-close reference data: allocation rules, consolidation groups, asset classes, assets.

One versioned document (``deploy/period-close.yaml``, read by ``streams/ops/close.py``);
each rule, group and asset carries its own ``version``, part of its command ids.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from streams.domain.close.allocation import AllocationRule
from streams.domain.close.capex import Asset, AssetClass
from streams.domain.close.consolidation import ConsolidationGroup
from streams.domain.exceptions import InvalidEventError

__all__ = ["CloseConfig"]


class CloseConfig(BaseModel):
    """Everything the period close reads besides the ledger and the reference topics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allocation_rules: tuple[AllocationRule, ...] = ()
    consolidation_groups: tuple[ConsolidationGroup, ...] = ()
    asset_classes: tuple[AssetClass, ...] = ()
    assets: tuple[Asset, ...] = ()

    def rules_for(self, entity_id: str) -> tuple[AllocationRule, ...]:
        """Return the entity's allocation rules."""
        return tuple(r for r in self.allocation_rules if r.entity_id == entity_id)

    def group(self, group_id: str) -> ConsolidationGroup:
        """Return a consolidation group.

        Raises:
            InvalidEventError: No such group.

        """
        for group in self.consolidation_groups:
            if group.group_id == group_id:
                return group
        known = ", ".join(g.group_id for g in self.consolidation_groups) or "none"
        raise InvalidEventError(
            f"group: no consolidation group {group_id} (known: {known})", field="group"
        )

    def asset_class(self, class_id: str) -> AssetClass:
        """Return an asset class.

        Raises:
            InvalidEventError: No such class.

        """
        for cls in self.asset_classes:
            if cls.class_id == class_id:
                return cls
        raise InvalidEventError(f"class_id: no asset class {class_id}", field="class_id")
