"""The mixed month's month-end close, shown by the demo: one allocation, one consolidation.

Once the worker has posted the month, the demo allocates GB10's shared costs of
September 2026 by hours and eliminates the Harbor group's intercompany balances,
from the commands it read back, the month's reference data and its work, with the
rules of ``deploy/period-close.yaml``: printed as a dry run (nothing is published,
so the demo's counts stay those of the stream; ``ledgerstream allocate`` and
``consolidate`` publish).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TextIO

from streams.adapters.avro import AvroCodec, SchemaCatalog
from streams.demo.month import Month
from streams.demo.month.organisation import ENTITIES
from streams.domain.commands import PostLedgerEntry
from streams.domain.exceptions import LedgerstreamError
from streams.dryrun import dry_run
from streams.ops import close
from streams.settings import Settings

__all__ = ["MonthEndClose"]

PERIOD: Final = "2026-09"
ALLOCATE_ENTITY: Final = "GB10"
GROUP: Final = "HARBOR"
_WORK_TOPICS: Final = ("pm.time-entries", "pm.expenses")


class MonthEndClose:
    """Collect the month's commands as the demo reads them; show the close once."""

    def __init__(
        self, month: Month, codec: AvroCodec, settings: Settings, *, expected: int | None = None
    ) -> None:
        """Keep what the close needs besides the commands (read later, as they come).

        ``expected``: how many commands the month posts (default: a dry run of it says).
        """
        self._month = month
        self.expected = expected if expected is not None else _expected(month, settings)
        self._codec = codec
        self._config = settings.close_config
        self._rule_version = settings.rule_version
        self._commands: list[PostLedgerEntry] = []
        self.shown = False

    def see(self, command: Mapping[str, Any]) -> None:
        """Keep a decoded command of one of the month's entities."""
        if command.get("entity_id") in ENTITIES:
            self._commands.append(PostLedgerEntry.model_validate(command))

    @property
    def complete(self) -> bool:
        """Return True once every command of the month has been read back."""
        return len(self._commands) >= self.expected

    def show(self, out: TextIO) -> None:
        """Print the allocation and the consolidation (dry run), once."""
        if self.shown:
            return
        self.shown = True
        month, codec = self._month, self._codec

        def decoded(topic: str, value: Any, version: int | None) -> Any:
            if value is None:
                return None
            return codec.decode(topic, codec.encode(topic, value, version=version)).record

        try:
            ledger = close.ledger_of(
                self._commands,
                [(r.topic, r.key, r.value) for r in month.reference],
                [
                    (r.topic, r.key, decoded(r.topic, r.value, r.schema_version))
                    for r in month.events
                    if r.topic in _WORK_TOPICS
                ],
            )
            config = close.load_config(self._config)
            plans = (
                close.plan_allocation(
                    config, ledger, ALLOCATE_ENTITY, PERIOD, rule_version=self._rule_version
                ),
                close.plan_consolidation(
                    config, ledger, GROUP, PERIOD, rule_version=self._rule_version
                ),
            )
        except LedgerstreamError as exc:
            out.write(f"\nmonth-end close {PERIOD}: not shown: {exc}\n")
            return
        out.write(f"\nmonth-end close {PERIOD} of the mixed month (dry run, nothing published):\n")
        for plan in plans:
            for line in (*plan.report, *plan.exceptions):
                out.write(f"  {line}\n")
        out.flush()


def _expected(month: Month, settings: Settings) -> int:
    """Count the commands the worker will post for the month: a dry run of it, same rules."""
    catalog = SchemaCatalog.from_directory(settings.schemas_dir)
    with tempfile.TemporaryDirectory(prefix="ledgerstream-month-") as directory:
        reference, events = month.write_jsonl(Path(directory), catalog)
        run = dry_run(reference, events, catalog=catalog, rule_version=settings.rule_version)
    return len(run.commands)
