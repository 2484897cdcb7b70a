"""Notifications: reaching users on push, SMS, email, webhooks and in-app, for Parley itself
(process managers on the log) and for outside services (the trigger API, with API keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from commands.notifications.circuits import CIRCUIT_HANDLERS
from commands.notifications.contact_points import CONTACT_POINT_HANDLERS
from commands.notifications.dispatch import DISPATCH_HANDLERS
from commands.notifications.reactions import REACTION_HANDLERS, REACTIONS
from commands.notifications.signed_out_devices import SignedOutDevices
from commands.notifications.suppression import SUPPRESSION_HANDLERS, CrossDomainSuppression
from commands.notifications.trigger import TRIGGER_HANDLERS
from commands.notifications.unsubscribe import UNSUBSCRIBE_HANDLERS
from parley.contexts.manifest import BoundedContext, PlacedRouter
from projections.notifications import contact_points
from projections.notifications.contact_points import ContactPointQueries
from projections.notifications.inbox import InboxProjector, InboxQueries
from projections.notifications.inbox_frames import inbox_frames
from projections.notifications.providers import ProviderHealthProjector, ProviderHealthQueries
from projections.notifications.schedule import NotificationScheduleProjector, ScheduleQueries
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def projectors() -> Sequence[Projector]:
    return [NotificationScheduleProjector(), InboxProjector(), *contact_points.projectors(),
            ProviderHealthProjector()]


def routers() -> Sequence[PlacedRouter]:
    # places 200 and on: after every route of the contexts before it
    from api.notifications import admin, callbacks, notifications, trace, unsubscribe
    from api.notifications import contact_points as contact_point_routes

    return (PlacedRouter(200, notifications.router),
            PlacedRouter(210, contact_point_routes.router),
            PlacedRouter(211, contact_point_routes.verification),
            PlacedRouter(220, callbacks.callbacks),  # providers' status callbacks
            PlacedRouter(225, unsubscribe.router),  # one-click unsubscribe links (RFC 8058)
            PlacedRouter(226, trace.router),  # decision traces (after unsubscribe/{token})
            PlacedRouter(230, admin.router))


def problems() -> Sequence[ProblemRefinement[Any]]:
    return ()


CONTEXT = BoundedContext(
    name="notifications",
    handlers={
        **CONTACT_POINT_HANDLERS,
        **TRIGGER_HANDLERS,
        **DISPATCH_HANDLERS,
        **REACTION_HANDLERS,
        **CIRCUIT_HANDLERS,
        **UNSUBSCRIBE_HANDLERS,
        **SUPPRESSION_HANDLERS,
    },
    projectors=projectors,
    relayed_event_modules=(
        "domain.notifications.notifications",  # the inbox, the due-time index, analytics
        # contact points for their listing (webhook secrets are log-only)
        "domain.notifications.contact_points",
        "domain.notifications.circuits",  # breaker changes: the providers' health read model
    ),
    log_only_event_modules=(
        "domain.notifications.webhook_secrets",  # webhook signing secrets
        "domain.notifications.cancellation",  # write-side index of a caller's keys
        # write-side index of the pending notifications about a conversation's messages
        "domain.notifications.conversation_notices",
    ),
    queries=(InboxQueries, ScheduleQueries, ContactPointQueries, ProviderHealthQueries),
    routers=routers,
    problems=problems,
    process_managers=(SignedOutDevices(), *REACTIONS, CrossDomainSuppression()),
    live_frames=inbox_frames,  # a `notification` frame on the recipient's sockets
    settings=("max_contact_points_per_user", "email_verification_ttl_seconds",
              "notification_providers", "notification_categories", "notification_max_attempts",
              "notification_retry_base_seconds", "notification_retry_cap_seconds",
              "notification_timer_every_seconds", "notification_sweep_every_seconds",
              "notification_requeue_after_seconds", "notification_stale_after_seconds",
              "notification_dispatch_batch", "notification_urgent_pumps", "notification_pumps",
              "notification_allow_loopback_http", "notification_dispatch_in_api",
              "notification_dispatch_priorities",
              "breaker_window_seconds", "breaker_min_calls", "breaker_failure_rate",
              "breaker_open_seconds", "breaker_half_open_probes",
              "message_email_fallback_seconds", "message_preview_chars",
              "own_notification_max_age_seconds", "public_url"),
)
