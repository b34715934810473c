"""A copy-on-write mapping over a read-only base: the posted-records table seen by one step.

The worker keeps what was posted in a key-value store (a Faust table); the posting
rules work on an immutable ``PostedLedger`` whose copies must stay cheap whatever the
store's size. An ``Overlay`` reads through to its base and keeps its own writes and
deletions, so ``copy()`` costs only the changes made so far, and ``changes()`` says
exactly what to write back to the store afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TypeVar

__all__ = ["Overlay", "copy_mapping"]

V = TypeVar("V")

_DELETED = object()


class Overlay(MutableMapping[str, V]):
    """Reads fall through to ``lookup`` unless this overlay wrote or deleted the key.

    Only ``get``/``[]``/``in`` and writes are meant for use: iterating lists the
    overlay's own live writes, never the base (which may be huge).
    """

    __slots__ = ("_local", "_lookup")

    def __init__(self, lookup: Callable[[str], V | None], local: dict[str, object] | None = None):
        self._lookup = lookup
        self._local: dict[str, object] = {} if local is None else local

    def __getitem__(self, key: str) -> V:
        if key in self._local:
            value = self._local[key]
            if value is _DELETED:
                raise KeyError(key)
            return value  # type: ignore[return-value]
        found = self._lookup(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: str, value: V) -> None:
        self._local[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._local[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        return (key for key, value in self._local.items() if value is not _DELETED)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> Overlay[V]:
        """Return an overlay on the same base with a copy of this one's changes."""
        return Overlay(self._lookup, dict(self._local))

    def changes(self) -> dict[str, V | None]:
        """Return every key written (its value) or deleted (``None``) since the base."""
        return {
            key: None if value is _DELETED else value  # type: ignore[misc]
            for key, value in self._local.items()
        }


def copy_mapping(mapping: Mapping[str, V]) -> MutableMapping[str, V]:
    """Return a mutable copy: an overlay's cheap copy, or a plain dict's."""
    if isinstance(mapping, Overlay):
        return mapping.copy()
    return dict(mapping)
