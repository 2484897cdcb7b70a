"""Notifications: reaching users on push, SMS, email, webhooks and in-app, for Parley itself
(process managers on the log) and for outside services (the trigger API, with API keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from commands.notifications.circuits import CIRCUIT_HANDLERS
from parley.contexts.manifest import BoundedContext, PlacedRouter
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def projectors() -> Sequence[Projector]:
    return []


def routers() -> Sequence[PlacedRouter]:
    # places 200 and on: after every route of the contexts before it
    return ()


def problems() -> Sequence[ProblemRefinement[Any]]:
    return ()


CONTEXT = BoundedContext(
    name="notifications",
    handlers={
        **CIRCUIT_HANDLERS,
    },
    projectors=projectors,
    relayed_event_modules=(
        "domain.notifications.circuits",  # breaker changes: the providers' health read model
    ),
    log_only_event_modules=(),
    queries=(),
    routers=routers,
    problems=problems,
    process_managers=(),
    settings=(),
)
