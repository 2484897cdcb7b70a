"""Shared machinery that feeds events to projectors and records how far each has got."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from projections.documents import ReadStore, Upsert
from projections.events import PositionedEvent

log = logging.getLogger(__name__)


class Projector(Protocol):
    name: str
    context: str

    def changes(self, event: Any, position: int) -> list[Upsert]: ...


class Cache(Protocol):
    """A shared cache of documents keyed `collection:doc_id`."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...

    def delete(self, keys: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def cache_key(collection: str, doc_id: str) -> str:
    return f"{collection}:{doc_id}"


class ProjectionWriter:
    """Turns a run of events into document changes and applies them with the position reached."""

    def __init__(self, store: ReadStore, cache: Cache,
                 on_applied: Callable[[Sequence[Upsert], int], None] | None = None) -> None:
        self._store = store
        self._cache = cache
        self._on_applied = on_applied

    def project(self, projector: Projector, events: Sequence[PositionedEvent], upto: int) -> None:
        changes = [c for e in events for c in projector.changes(e.event, e.position)]
        self._store.apply(changes, projector.name, upto)
        if changes:
            self._cache.delete(sorted({cache_key(c.collection, c.doc_id) for c in changes}))
            if self._on_applied is not None:
                self._on_applied(changes, upto)


class LogTailingRunner:
    """The embedded event bus: projectors read the log itself, woken after each commit."""

    def __init__(
        self,
        read_log: Any,
        writer: ProjectionWriter,
        store: ReadStore,
        projectors: Sequence[Projector],
        batch_size: int = 500,
    ) -> None:
        self._read_log = read_log
        self._writer = writer
        self._store = store
        self._projectors = projectors
        self._batch_size = batch_size
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projectors", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def wake(self, _position: int = 0) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Project the next batch of the log; returns how many events it held."""
        start = min(self._store.position(p.name) for p in self._projectors) + 1
        events = self._read_log(start, self._batch_size)
        if not events:
            return 0
        upto = events[-1].position
        for projector in self._projectors:
            done = self._store.position(projector.name)
            pending = [e for e in events if e.position > done]
            if pending:
                self._writer.project(projector, pending, upto)
        return len(events)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                processed = self.run_once()
            except Exception:
                log.exception("projection batch failed; retrying")
                self._stopping.wait(1.0)
                continue
            if not processed:
                self._wake.wait(timeout=0.5)
                self._wake.clear()
