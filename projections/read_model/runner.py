"""Shared machinery that feeds events to projectors and records how far each has got."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from projections.read_model.documents import DocumentChange, ReadStore, Upsert
from projections.read_model.events import PositionedEvent
from projections.read_model.health import (
    FailurePolicy,
    NoLocks,
    ProjectionHalted,
    ProjectionHealth,
    ProjectionLocks,
    Recovery,
    describe,
)
from projections.read_model.retries import RetryWithBackoff

log = logging.getLogger(__name__)


class Projector(Protocol):
    name: str
    context: str

    def changes(self, event: Any, position: int) -> Sequence[DocumentChange]: ...


class Cache(Protocol):
    """A shared cache of documents keyed `collection:doc_id`."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...

    def delete(self, keys: Sequence[str]) -> None: ...

    def close(self) -> None: ...


# The hot-path cache entries (beyond each document's own) a batch of upserts makes stale: a
# context's rule, given by the composition root (messaging's `hot_path_keys`).
HotPathKeys = Callable[[Sequence[Upsert], ReadStore], set[str]]


def no_hot_paths(_changes: Sequence[Upsert], _store: ReadStore) -> set[str]:
    return set()


def cache_key(collection: str, doc_id: str) -> str:
    return f"{collection}:{doc_id}"


def stale_keys(changes: Sequence[DocumentChange], store: ReadStore,
               hot_paths: HotPathKeys = no_hot_paths) -> list[str]:
    """The cache entries a batch of changes makes stale. A patch of matching documents has no
    key of its own: it only scrubs feed changes, which are queried, never cached by id."""
    upserts = [c for c in changes if isinstance(c, Upsert)]
    return sorted({cache_key(c.collection, c.doc_id) for c in upserts}
                  | hot_paths(upserts, store))


class ProjectionWriter:
    """Turns a run of events into document changes and applies them with the position reached.

    An event the projector fails on is parked (recorded with its error) and skipped, or, under
    the `halt` policy, stops the projector there. The write itself happens under the
    projection's lock, so a replay can switch read models between two batches, never in one.
    After a write, the cache drops each changed document and the entries `hot_paths` names.
    """

    def __init__(self, store: ReadStore, cache: Cache,
                 on_applied: Callable[[Sequence[DocumentChange], int], None] | None = None, *,
                 locks: ProjectionLocks | None = None, health: ProjectionHealth | None = None,
                 policy: FailurePolicy = "park", hot_paths: HotPathKeys = no_hot_paths) -> None:
        self._store = store
        self._cache = cache
        self._hot_paths = hot_paths
        self._on_applied = on_applied
        self._locks = locks or NoLocks()
        self._health = health
        self._recovery = Recovery(health)
        self._policy = policy
        self._applied: list[tuple[list[DocumentChange], int]] | None = None
        self._held: frozenset[str] = frozenset()

    @contextlib.contextmanager
    def batch(self, projections: Sequence[str] = ()) -> Iterator[None]:
        """Projections within it are written together at its end, holding all their locks
        (where the store supports deferring: one read, one bulk write, one refresh); caches
        and live sockets hear of them after that."""
        deferred = getattr(self._store, "deferred", None)
        self._applied = []
        self._held = frozenset(projections)
        try:
            with self._locks.hold_all(sorted(self._held)), \
                    deferred() if deferred is not None else contextlib.nullcontext():
                yield
            applied, held = self._applied, self._held
        except Exception as error:
            for name in sorted(self._held):
                self._recovery.failed(name, describe(error))
            raise
        finally:
            self._applied, self._held = None, frozenset()
        self._recovery.wrote(sorted(held))
        for changes, upto in applied:
            self._announce(changes, upto)

    def project(self, projector: Projector, events: Sequence[PositionedEvent], upto: int,
                *, progress_key: str | None = None) -> list[DocumentChange]:
        """Applies the batch; `progress_key` names the position record (default: projection)."""
        changes = self.changes_of(projector, events)
        held = projector.name in self._held  # the batch holds it already
        try:
            with contextlib.nullcontext() if held else self._locks.hold(projector.name):
                self._store.apply(changes, progress_key or projector.name, upto)
        except Exception as error:
            self._recovery.failed(projector.name, describe(error))
            raise
        if not held:
            self._recovery.wrote([projector.name])
        if self._applied is not None:
            self._applied.append((changes, upto))
        else:
            self._announce(changes, upto)
        return changes

    def _announce(self, changes: list[DocumentChange], upto: int) -> None:
        """After changes are visible: invalidate what caches hold of them, wake sockets."""
        if changes:
            self._cache.delete(stale_keys(changes, self._store, self._hot_paths))
            if self._on_applied is not None:
                self._on_applied(changes, upto)

    def changes_of(self, projector: Projector,
                   events: Sequence[PositionedEvent]) -> list[DocumentChange]:
        changes: list[DocumentChange] = []
        # looked up once per batch: a singledispatchmethod builds its wrapper on every access
        # (functools.update_wrapper; half of the mapping's cost for the events it ignores)
        changes_for = projector.changes
        for positioned in events:
            try:
                changes.extend(changes_for(positioned.event, positioned.position))
            except Exception as error:  # noqa: BLE001 - any projector error parks (or halts)
                self._fail(projector, positioned, error)
        return changes

    def _fail(self, projector: Projector, positioned: PositionedEvent,
              error: Exception) -> None:
        reason = describe(error)
        if self._health is not None:
            self._health.record_error(projector.name, reason)
        if self._policy == "halt" or self._health is None:
            raise ProjectionHalted(projector.name, positioned.position, reason) from error
        log.warning("projection %s parked the event at position %d (%s)", projector.name,
                    positioned.position, type(error).__name__)
        self._health.park(projector.name, positioned.position,
                          type(positioned.event).__qualname__, reason)


class LogTailingRunner:
    """The embedded event bus: projectors read the log itself, woken after each commit."""

    def __init__(
        self,
        read_log: Any,
        writer: ProjectionWriter,
        store: ReadStore,
        projectors: Sequence[Projector],
        batch_size: int = 500,
        on_read: Callable[[Sequence[PositionedEvent], int, int], None] | None = None,
    ) -> None:
        self._read_log = read_log
        self._on_read = on_read
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
        if self._on_read is not None:  # live sockets may have them before the read models
            self._on_read(events, start - 1, upto)
        for projector in self._projectors:
            done = self._store.position(projector.name)
            pending = [e for e in events if e.position > done]
            if pending:
                self._writer.project(projector, pending, upto)
        return len(events)

    def _run(self) -> None:
        retrying = RetryWithBackoff(self._stopping, self._failed, first_delay=1.0,
                                    longest_delay=1.0)
        retrying.run(lambda: self.run_once() > 0, self._idle)

    @staticmethod
    def _failed(_error: Exception) -> None:
        log.exception("projection batch failed; retrying")

    def _idle(self) -> None:
        self._wake.wait(timeout=0.5)
        self._wake.clear()
