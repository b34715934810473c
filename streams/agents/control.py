"""The control toggles every worker follows: ``ledgerstream.control`` into the runtime.

Every worker reads the whole compacted control topic with its own group-less
:class:`~streams.adapters.reference_loader.ReferenceLoader` (as for reference
data), so each one obeys the latest setting of every toggle, from start-up on
and live. Processing waits until the topic has been read to its end.

A record that cannot be decoded is logged and skipped (the previous setting of
that toggle stays); a tombstone turns its toggle off.
"""

from __future__ import annotations

import logging

from streams.agents.runtime import Runtime
from streams.domain.events import parse_event
from streams.domain.toggles import CONTROL_TOPIC, Toggle

__all__ = ["CONTROL_TOPIC", "apply_control"]

_log = logging.getLogger(__name__)


def apply_control(rt: Runtime, key: bytes | None, value: bytes | None) -> bool:
    """Apply one control record to the runtime's toggles; False if it is unusable."""
    name = (key or b"").decode(errors="replace")
    toggle: Toggle | None = None
    if value is not None:
        try:
            toggle = parse_event(Toggle, rt.codec.decode(CONTROL_TOPIC, value).record)
        except Exception as exc:
            _log.warning("control record for %r skipped: %s", name, exc)
            return False
        if toggle.name != name:
            _log.warning("control record keyed %r names toggle %r: skipped", name, toggle.name)
            return False
    rt.set_toggles(rt.toggles.applied(name, toggle))
    _log.warning(
        "control: %s is %s (%s)",
        name,
        "on" if toggle is not None and toggle.enabled else "off",
        "deleted" if toggle is None else f"{toggle.changed_by}: {toggle.reason}",
    )
    return True
