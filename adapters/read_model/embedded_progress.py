"""Progress of projections in the embedded default: they read the one log in order."""

from __future__ import annotations

from collections.abc import Sequence

from projections.read_model.documents import ReadStore


class EmbeddedProgress:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def reached(self, position: int, projections: Sequence[str]) -> bool:
        return all(self._store.position(name) >= position for name in projections)
