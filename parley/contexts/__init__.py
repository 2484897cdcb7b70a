"""Parley's bounded contexts, each declared by its manifest; everything else loops over them.

Adding a context: its packages in domain/, commands/, projections/, api/ (and adapters/ if it
has any), a manifest module here, and one entry in `CONTEXTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from commands.processes.issuing import Effect
from commands.processes.reactions import ProcessManager
from commands.processes.schedules import Schedule
from event_log.moved_topics import CORE_EVENT_MODULES, CORE_MOVED_MODULES, current_module
from event_log.outcomes import Handler
from parley.contexts import audit, identity, messaging, notifications, payments
from parley.contexts.manifest import (
    BoundedContext,
    EffectParts,
    LiveFrames,
    PlacedRouter,
    ScheduleParts,
)
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement

CONTEXTS: tuple[BoundedContext, ...] = (identity.CONTEXT, messaging.CONTEXT, audit.CONTEXT,
                                         notifications.CONTEXT, payments.CONTEXT)


def handlers(contexts: Sequence[BoundedContext] = CONTEXTS) -> dict[type, Handler]:
    """Every command's one handler; a command claimed by two contexts is a mistake."""
    table: dict[type, Handler] = {}
    for context in contexts:
        twice = sorted(c.__name__ for c in table.keys() & context.handlers.keys())
        if twice:
            raise ValueError(f"commands handled twice ({context.name}): {twice}")
        table.update(context.handlers)
    return table


def store_queries(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[type]:
    """Every context's query classes built from the read store alone."""
    return [cls for context in contexts for cls in context.store_queries]


def projectors(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[Projector]:
    return [p for context in contexts for p in context.projectors()]


def live_frames(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[LiveFrames]:
    """What makes each context's frames for particular people's live sockets."""
    return [context.live_frames for context in contexts]


def process_managers(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[ProcessManager]:
    """Every context's process managers; each name is unique (it names a position and a lock)."""
    managers = [m for context in contexts for m in context.process_managers]
    names = [m.name for m in managers]
    if len(names) != len(set(names)):
        raise ValueError(f"process managers named twice: {sorted(names)}")
    return managers


def effects(parts: EffectParts,
            contexts: Sequence[BoundedContext] = CONTEXTS) -> dict[type, Effect]:
    """Every context's effect ports; an effect type with two ports is a mistake."""
    table: dict[type, Effect] = {}
    for context in contexts:
        ports = context.effects(parts)
        twice = sorted(t.__name__ for t in table.keys() & ports.keys())
        if twice:
            raise ValueError(f"effects with two ports ({context.name}): {twice}")
        table.update(ports)
    return table


def schedules(parts: ScheduleParts,
              contexts: Sequence[BoundedContext] = CONTEXTS) -> list[Schedule]:
    """Every context's schedules this process can run; each name is unique (it names a
    thread)."""
    declared = [s for context in contexts for s in context.schedules(parts)]
    names = [s.name for s in declared]
    if len(names) != len(set(names)):
        raise ValueError(f"schedules named twice: {sorted(names)}")
    return declared


def topic_of_projectors(contexts: Sequence[BoundedContext] = CONTEXTS) -> dict[str, str]:
    """Projection name -> the topic (suffix) of its context, which it consumes."""
    return {p.name: context.topic for context in contexts for p in context.projectors()}


def routers(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[PlacedRouter]:
    """Every context's routers, in their places (the order /openapi.json lists them in)."""
    return sorted((r for context in contexts for r in context.routers()),
                  key=lambda placed: placed.place)


def problems(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[ProblemRefinement[Any]]:
    """Every context's own answers to its errors; one error refined twice is a mistake."""
    refinements = [r for context in contexts for r in context.problems()]
    errors = [r.error.__name__ for r in refinements]
    if len(errors) != len(set(errors)):
        raise ValueError(f"errors refined twice: {sorted(errors)}")
    return refinements


def moved_event_modules(contexts: Sequence[BoundedContext] = CONTEXTS) -> dict[str, str]:
    """Every former event module -> where its classes live now (the cores' and contexts')."""
    return {**CORE_MOVED_MODULES,
            **{old: new for context in contexts
               for old, new in context.former_event_modules.items()}}


def topic_of_event_module(contexts: Sequence[BoundedContext] = CONTEXTS) -> dict[str, str]:
    """Event module -> the topic (suffix) its events are relayed to; a module not listed is
    kept in the event log only."""
    return {module: context.topic for context in contexts
            for module in context.relayed_event_modules}


def log_only_event_modules(contexts: Sequence[BoundedContext] = CONTEXTS) -> list[str]:
    return [*CORE_EVENT_MODULES, *(m for c in contexts for m in c.log_only_event_modules)]


def relay_map(contexts: Sequence[BoundedContext] = CONTEXTS) -> Callable[[str], str | None]:
    """What the relay is given: a stored event topic (old or new) -> its topic suffix."""
    by_module: Mapping[str, str] = topic_of_event_module(contexts)
    moves = moved_event_modules(contexts)

    def topic_of(event_topic: str) -> str | None:
        return by_module.get(current_module(event_topic.split(":", 1)[0], moves))

    return topic_of


context_of = relay_map()
