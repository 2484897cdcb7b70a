"""Each bounded context's manifest declares its contributions, and together they cover
everything: every command handler, projector, event module and router exactly once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, cast

from eventsourcing.domain import DomainEvent
from fastapi import APIRouter

import api
import commands
import domain
import event_log
import projections
from api.operations import health, maintenance
from commands.processes.schedules import Schedule
from parley import contexts
from parley.bootstrap import HANDLERS
from parley.contexts import CONTEXTS
from parley.contexts.manifest import BoundedContext, ScheduleParts
from parley.settings import Settings


def modules_of(package: ModuleType) -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        yield importlib.import_module(info.name)


def test_every_handler_table_belongs_to_exactly_one_context() -> None:
    tables = [(module.__name__, name, table) for module in modules_of(commands)
              for name, table in vars(module).items()
              if name.endswith("_HANDLERS") and isinstance(table, dict)]
    assert tables, "no handler tables found"
    for module, name, table in tables:
        for command, handler in table.items():
            owners = [c.name for c in CONTEXTS if c.handlers.get(command) is handler]
            assert len(owners) == 1, f"{module}.{name}[{command.__name__}]: {owners}"


def test_every_command_has_one_handler_which_the_writer_uses() -> None:
    declared = Counter(command for c in CONTEXTS for command in c.handlers)
    assert [c for c, n in declared.items() if n > 1] == []
    assert contexts.handlers() == HANDLERS
    assert set(HANDLERS) == set(declared)


def test_contexts_refuse_a_command_claimed_twice() -> None:
    twice = BoundedContext("again", handlers=dict(CONTEXTS[0].handlers))
    try:
        contexts.handlers((CONTEXTS[0], twice))
    except ValueError as error:
        assert "handled twice" in str(error)
    else:
        raise AssertionError("a command handled by two contexts was accepted")


def projector_classes() -> set[type]:
    return {kind for module in modules_of(projections)
            for kind in vars(module).values()
            if inspect.isclass(kind) and kind.__module__ == module.__name__
            and isinstance(getattr(kind, "name", None), str)
            and isinstance(getattr(kind, "context", None), str)
            and callable(getattr(kind, "changes", None))}


def test_every_projector_runs_in_exactly_the_context_it_names() -> None:
    declared = [(c.name, type(p)) for c in CONTEXTS for p in c.projectors()]
    assert Counter(kind for _, kind in declared).most_common(1)[0][1] == 1
    assert {kind for _, kind in declared} == projector_classes()
    for context, kind in declared:
        assert kind.context == context, kind  # type: ignore[attr-defined]


def event_modules() -> set[str]:
    """Modules that define concrete events (an aggregate's nested event classes)."""
    return {event.__module__ for package in (domain, event_log) for module in modules_of(package)
            for owner in vars(module).values()
            if inspect.isclass(owner) and owner.__module__ == module.__name__
            for event in vars(owner).values()
            if inspect.isclass(event) and issubclass(event, DomainEvent)
            and event.__module__ == module.__name__ and not event.__subclasses__()}


def test_every_event_module_is_relayed_by_one_context_or_kept_in_the_log() -> None:
    relayed = [m for c in CONTEXTS for m in c.relayed_event_modules]
    kept = contexts.log_only_event_modules()
    assert Counter(relayed + kept).most_common(1)[0][1] == 1, "a module is declared twice"
    assert set(relayed) | set(kept) == event_modules()


def test_every_former_event_module_names_a_module_that_holds_events() -> None:
    moves = contexts.moved_event_modules()
    formers = [old for c in CONTEXTS for old in c.former_event_modules]
    assert len(formers) == len(set(formers))
    assert set(moves.values()) <= event_modules() | {"event_log.aggregate"}
    for context in CONTEXTS:
        mine = set(context.relayed_event_modules) | set(context.log_only_event_modules)
        assert set(context.former_event_modules.values()) <= mine, context.name


def test_every_router_of_a_context_package_is_placed_once() -> None:
    placed = contexts.routers()
    assert len({p.place for p in placed}) == len(placed)
    routers = [id(p.router) for p in placed]
    shared = {id(health.router), id(maintenance.router)}
    found = {id(router) for module in modules_of(api)
             for router in vars(module).values() if isinstance(router, APIRouter)}
    assert len(routers) == len(set(routers))
    assert set(routers) == found - shared


def test_each_settings_field_belongs_to_at_most_one_context() -> None:
    claimed = Counter(name for c in CONTEXTS for name in c.settings)
    assert [name for name, n in claimed.items() if n > 1] == []
    assert set(claimed) <= set(Settings.model_fields)


def test_every_process_manager_of_a_command_module_runs_in_one_context() -> None:
    declared = [type(m) for m in contexts.process_managers()]
    found = {kind for module in modules_of(commands) for kind in vars(module).values()
             if inspect.isclass(kind) and kind.__module__ == module.__name__
             and callable(getattr(kind, "react", None))
             and isinstance(getattr(kind, "reacts_to", None), tuple)}
    assert found, "no process manager found"
    assert sorted(declared, key=str) == sorted(found, key=str)


def test_every_query_object_over_a_read_model_is_declared_by_its_context() -> None:
    declared = [(c.name, kind) for c in CONTEXTS for kind in (*c.queries, *c.store_queries)]
    found = {kind for module in modules_of(projections) for kind in vars(module).values()
             if inspect.isclass(kind) and kind.__module__ == module.__name__
             and kind.__name__.endswith(("Queries", "Query")) and kind.__name__ != "Query"}
    assert found, "no query objects found"
    assert len(declared) == len({kind for _, kind in declared})
    assert {kind for _, kind in declared} == found
    for context, kind in declared:
        assert kind.__module__.startswith(f"projections.{context}."), kind


def every_part() -> ScheduleParts:
    """What a process running every schedule offers (never called: the schedules are only
    declared, not run)."""
    never = cast(Any, object())
    return ScheduleParts(Settings(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
                         execute=lambda command, cause: None, store=never, chain=never,
                         audit_key=b"key")


def schedule_classes() -> set[type]:
    """The classes in commands/ whose work a schedule is: they declare it (`-> Schedule`)."""
    return {kind for module in modules_of(commands) for kind in vars(module).values()
            if inspect.isclass(kind) and kind.__module__ == module.__name__
            and inspect.signature(getattr(kind, "schedule", len)).return_annotation
            in ("Schedule", Schedule)}


def test_every_schedule_of_a_command_module_is_declared_by_exactly_one_context() -> None:
    declared = [(c.name, s) for c in CONTEXTS for s in c.schedules(every_part())]
    kinds = [type(getattr(s.work, "__self__", None)) for _, s in declared]
    assert schedule_classes(), "no schedules found"
    assert sorted(kinds, key=str) == sorted(schedule_classes(), key=str)
    assert len({s.name for _, s in declared}) == len(declared) == len(set(kinds))
    for context, schedule in declared:
        assert type(schedule.work.__self__).__module__.startswith(  # type: ignore[attr-defined]
            f"commands.{context}."), schedule.name
    assert [s.name for s in contexts.schedules(every_part())] == [s.name for _, s in declared]


def test_a_process_runs_only_the_schedules_whose_parts_it_has() -> None:
    full = every_part()
    names = {s.name: s for s in contexts.schedules(full)}
    assert set(names) == {"attachment-expiry", "chain-checkpoints", "payment-hold-expiry"}
    assert names["attachment-expiry"].every_seconds == full.settings.attachment_sweep_every_seconds
    assert names["chain-checkpoints"].every_seconds == full.settings.checkpoint_every_seconds
    relay = replace(full, execute=None, store=None)
    writer_only = replace(full, chain=None, audit_key=None)
    assert [s.name for s in contexts.schedules(relay)] == ["chain-checkpoints"]
    assert [s.name for s in contexts.schedules(writer_only)] == ["attachment-expiry",
                                                                 "payment-hold-expiry"]
    assert contexts.schedules(replace(writer_only, execute=None)) == []
