"""Notifications: reaching users on push, SMS, email, webhooks and in-app, for Parley itself
(process managers on the log) and for outside services (the trigger API, with API keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from commands.notifications.circuits import CIRCUIT_HANDLERS
from commands.notifications.contact_points import CONTACT_POINT_HANDLERS
from commands.notifications.signed_out_devices import SignedOutDevices
from parley.contexts.manifest import BoundedContext, PlacedRouter
from projections.notifications import contact_points
from projections.notifications.contact_points import ContactPointQueries
from projections.notifications.providers import ProviderHealthProjector, ProviderHealthQueries
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def projectors() -> Sequence[Projector]:
    return [*contact_points.projectors(), ProviderHealthProjector()]


def routers() -> Sequence[PlacedRouter]:
    # places 200 and on: after every route of the contexts before it
    from api.notifications import admin
    from api.notifications import contact_points as contact_point_routes

    mine = (PlacedRouter(210, contact_point_routes.router),
            PlacedRouter(211, contact_point_routes.verification),
            PlacedRouter(230, admin.router))
    return mine


def problems() -> Sequence[ProblemRefinement[Any]]:
    return ()


CONTEXT = BoundedContext(
    name="notifications",
    handlers={
        **CONTACT_POINT_HANDLERS,
        **CIRCUIT_HANDLERS,
    },
    projectors=projectors,
    relayed_event_modules=(
        # contact points for their listing (webhook secrets are log-only)
        "domain.notifications.contact_points",
        "domain.notifications.circuits",  # breaker changes: the providers' health read model
    ),
    log_only_event_modules=(
        "domain.notifications.webhook_secrets",  # webhook signing secrets
    ),
    queries=(ContactPointQueries, ProviderHealthQueries),
    routers=routers,
    problems=problems,
    process_managers=(SignedOutDevices(),),
    settings=("max_contact_points_per_user", "email_verification_ttl_seconds",
              "breaker_window_seconds", "breaker_min_calls", "breaker_failure_rate",
              "breaker_open_seconds", "breaker_half_open_probes"),
)
