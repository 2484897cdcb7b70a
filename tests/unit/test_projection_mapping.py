"""The projection writer maps a run of events with the projector's mapping looked up once per
run: a `functools.singledispatchmethod` builds a new wrapper on every attribute access, and
every projector of the process sees every event (most only to ignore it)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from adapters.read_model.memory_cache import MemoryCache
from projections.read_model.documents import DocumentChange, Upsert
from projections.read_model.events import PositionedEvent
from projections.read_model.runner import ProjectionWriter


class Greetings:
    """Maps str events to a document each, ignores every other event, and counts how often
    its mapping is looked up."""

    name = "greetings"
    context = "tests"

    def __init__(self) -> None:
        self.lookups = 0

    def __getattribute__(self, attribute: str) -> Any:
        if attribute == "changes":
            object.__setattr__(self, "lookups", object.__getattribute__(self, "lookups") + 1)
        return object.__getattribute__(self, attribute)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[DocumentChange]:
        return []

    @changes.register
    def _greeting(self, event: str, position: int) -> list[DocumentChange]:
        return [Upsert("greetings", event, position, {"text": event})]


def test_a_run_of_events_is_mapped_with_one_lookup_of_the_mapping_and_each_event_dispatched():
    projector = Greetings()
    events = [PositionedEvent(n + 1, event) for n, event in
              enumerate(["hello", 7, "hi", None, 3.5, "hey"])]
    changes = ProjectionWriter(None, MemoryCache(ttl_seconds=60)).changes_of(  # type: ignore[arg-type]
        projector, events)
    assert [(c.doc_id, c.version) for c in changes if isinstance(c, Upsert)] \
        == [("hello", 1), ("hi", 3), ("hey", 6)]
    assert projector.lookups == 1
