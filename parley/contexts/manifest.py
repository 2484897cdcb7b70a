"""What one bounded context contributes to Parley, declared in one place (its manifest).

The composition root (parley/bootstrap.py, parley/production.py), the relay's topic map and
the FastAPI app loop over `parley.contexts.CONTEXTS`; none of them names a context's modules.
Adding a context is one package per layer, one manifest module here and one line in
`parley/contexts/__init__.py` (docs/architecture.md, "Adding a bounded context").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from commands.audit.integrity import ChainRecords
from commands.processes.issuing import Effect, KeyedSubmit
from commands.processes.reactions import ProcessManager
from commands.processes.schedules import Schedule
from event_log.aggregate import Cause
from event_log.outcomes import Handler
from parley.settings import Settings
from projections.messaging.live import OpenSockets
from projections.read_model.documents import DocumentChange, ReadStore
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from fastapi import APIRouter

    from api.http.problems import ProblemRefinement


class PlacedRouter(NamedTuple):
    """A router and its place among every context's routers. /openapi.json lists paths in
    the order routers are included, so the places keep that order across contexts (the order
    of before the contexts move); a new context takes places after the last one in use."""

    place: int
    router: APIRouter


@dataclass(frozen=True)
class ScheduleParts:
    """What a process offers the contexts' schedules (built by the composition root). A part
    is None in a process that does not run the schedules needing it; a context declares no
    schedule whose parts are missing."""

    settings: Settings
    clock: Callable[[], datetime]
    # a process holding the writer: its commands (submit and wait) and its read store
    execute: Callable[[Any, Cause], object] | None = None
    store: ReadStore | None = None
    # the one process per event log that signs its chain (embedded: the process; production:
    # the relay), and the key it signs with
    chain: ChainRecords | None = None
    audit_key: bytes | None = None


def no_schedules(_parts: ScheduleParts) -> Sequence[Schedule]:
    return ()


@dataclass(frozen=True)
class EffectParts:
    """What a process holding the writer offers the ports behind its process managers'
    effects (commands/processes/issuing.py): the settings, the clock, and the writer's keyed
    submit with how long to wait for its answer."""

    settings: Settings
    clock: Callable[[], datetime]
    submit: KeyedSubmit
    timeout: float


def no_effects(_parts: EffectParts) -> Mapping[type, Effect]:
    return {}


def no_routers() -> Sequence[PlacedRouter]:
    return ()


def no_projectors() -> Sequence[Projector]:
    return ()


def no_problems() -> Sequence[ProblemRefinement[Any]]:
    return ()


# A batch of one projection's changes, once written, the read store they were written to, and
# who has a live socket open -> frames for those people's sockets, (user id, frame) in order
LiveFrames = Callable[[Sequence[DocumentChange], ReadStore, OpenSockets],
                      Sequence[tuple[str, dict[str, Any]]]]


def no_live_frames(_changes: Sequence[DocumentChange], _store: ReadStore,
                   _open_sockets: OpenSockets) -> Sequence[tuple[str, dict[str, Any]]]:
    return ()


@dataclass(frozen=True)
class BoundedContext:
    """One context's contributions. Event modules are module paths (`domain.identity.users`):
    the modules whose events the relay publishes on the context's Kafka topic, and those
    deliberately kept in the event log only (secrets, write-side bookkeeping)."""

    name: str
    # command type -> its one handler (commands/<context>/)
    handlers: Mapping[type, Handler] = field(default_factory=dict)
    # a fresh instance of each of its projectors, in the order they run
    projectors: Callable[[], Sequence[Projector]] = no_projectors
    # Kafka topic `<namespace>.<topic>` its relayed events go to, and its projectors read
    topic: str = ""
    relayed_event_modules: tuple[str, ...] = ()
    log_only_event_modules: tuple[str, ...] = ()
    # module an event class was stored under before it moved -> the module it lives in now
    former_event_modules: Mapping[str, str] = field(default_factory=dict)
    # the query objects over its read models (built by the composition root, parley/assembly.py,
    # and given to its routes by api/<context>/dependencies.py); another context may use them
    queries: tuple[type, ...] = ()
    # query objects built from the read store alone (`cls(store)`), one each per process,
    # held by the composition root and given to routes by `api.http.dependencies.read_model`
    store_queries: tuple[type, ...] = ()
    # imported only when an app is made, so relay and projector processes need no FastAPI
    routers: Callable[[], Sequence[PlacedRouter]] = no_routers
    # its own answers to its errors, in place of their bases' (api/<context>/problems.py);
    # imported only when an app is made, like its routers
    problems: Callable[[], Sequence[ProblemRefinement[Any]]] = no_problems
    # process managers: events that cause commands (commands/processes/, ADR 0012)
    process_managers: tuple[ProcessManager, ...] = ()
    # the ports behind effects its process managers answer: effect type -> its port
    effects: Callable[[EffectParts], Mapping[type, Effect]] = no_effects
    # its periodic work, from what the process offers (each wrapped in a ScheduledJob)
    schedules: Callable[[ScheduleParts], Sequence[Schedule]] = no_schedules
    # frames its projections' changes make for particular people's live sockets (sent as
    # they are, beside the messenger's own frames: projections/messaging/live.py, ADDRESSED)
    live_frames: LiveFrames = no_live_frames
    # the Settings fields (flat PARLEY_* variables) this context reads
    settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.topic:
            object.__setattr__(self, "topic", self.name)
        unknown = [name for name in self.settings if name not in Settings.model_fields]
        if unknown:
            raise ValueError(f"context {self.name!r} names unknown settings: {unknown}")
