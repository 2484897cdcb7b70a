"""Fundings and payouts through the card processor (H6 fills this in)."""

from __future__ import annotations

from collections.abc import Sequence

from projections.read_model.documents import ReadStore
from projections.read_model.runner import Projector


def projectors() -> Sequence[Projector]:
    return []


class FundingQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store
