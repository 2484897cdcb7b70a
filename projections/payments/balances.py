"""Wallet and system account balances (H4 fills this in)."""

from __future__ import annotations

from collections.abc import Sequence

from projections.read_model.documents import ReadStore
from projections.read_model.runner import Projector


def projectors() -> Sequence[Projector]:
    return []


class BalanceQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store
