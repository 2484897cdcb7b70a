"""Notifications: reaching users on push, SMS, email, webhooks and in-app, for Parley itself
(process managers on the log) and for outside services (the trigger API, with API keys)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from commands.notifications.circuits import CIRCUIT_HANDLERS
from commands.notifications.clicks import CLICK_HANDLERS
from commands.notifications.contact_points import CONTACT_POINT_HANDLERS
from commands.notifications.digest_flush import DIGEST_HANDLERS
from commands.notifications.dispatch import DISPATCH_HANDLERS
from commands.notifications.preferences import PREFERENCE_HANDLERS
from commands.notifications.reactions import REACTION_HANDLERS, REACTIONS
from commands.notifications.signed_out_devices import SignedOutDevices
from commands.notifications.sms_consent import SMS_CONSENT_HANDLERS
from commands.notifications.suppression import SUPPRESSION_HANDLERS, CrossDomainSuppression
from commands.notifications.templates import TEMPLATE_HANDLERS
from commands.notifications.trigger import TRIGGER_HANDLERS
from commands.notifications.unsubscribe import UNSUBSCRIBE_HANDLERS
from parley.contexts.manifest import BoundedContext, PlacedRouter
from projections.notifications import analytics, contact_points
from projections.notifications.analytics_report import AnalyticsQueries
from projections.notifications.contact_points import ContactPointQueries
from projections.notifications.inbox import InboxProjector, InboxQueries
from projections.notifications.inbox_frames import inbox_frames
from projections.notifications.providers import ProviderHealthProjector, ProviderHealthQueries
from projections.notifications.schedule import NotificationScheduleProjector, ScheduleQueries
from projections.notifications.templates import TemplateQueries, TemplatesProjector
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def projectors() -> Sequence[Projector]:
    return [NotificationScheduleProjector(), InboxProjector(), *contact_points.projectors(),
            ProviderHealthProjector(), TemplatesProjector(), *analytics.projectors()]


def routers() -> Sequence[PlacedRouter]:
    # places 200 and on: after every route of the contexts before it
    from api.notifications import admin, callbacks, notifications, templates, trace, unsubscribe
    from api.notifications import analytics as analytics_routes
    from api.notifications import compliance as compliance_routes
    from api.notifications import contact_points as contact_point_routes
    from api.notifications import links as link_routes
    from api.notifications import preferences as preference_routes
    from api.notifications import sms_consent as sms_consent_routes
    from api.notifications import sms_inbound as sms_inbound_routes

    return (PlacedRouter(200, notifications.router),
            PlacedRouter(210, contact_point_routes.router),
            PlacedRouter(211, contact_point_routes.verification),
            PlacedRouter(213, preference_routes.router),  # the caller's own preferences
            PlacedRouter(212, sms_consent_routes.router),  # the caller's SMS consent (TCPA)
            PlacedRouter(220, callbacks.callbacks),  # providers' status callbacks
            PlacedRouter(221, sms_inbound_routes.router),  # handsets' STOP/START/HELP texts
            PlacedRouter(224, link_routes.router),  # tracked links and in-app clicks
            PlacedRouter(225, unsubscribe.router),  # one-click unsubscribe links (RFC 8058)
            PlacedRouter(226, trace.router),  # decision traces (after unsubscribe/{token})
            PlacedRouter(230, admin.router),
            PlacedRouter(232, templates.router),  # notification templates (admins)
            PlacedRouter(231, compliance_routes.router),  # consents and preferences as of a time
            PlacedRouter(233, analytics_routes.router))  # counts, latency and cost (admins)


def problems() -> Sequence[ProblemRefinement[Any]]:
    return ()


CONTEXT = BoundedContext(
    name="notifications",
    handlers={
        **CONTACT_POINT_HANDLERS,
        **TRIGGER_HANDLERS,
        **PREFERENCE_HANDLERS,
        **DIGEST_HANDLERS,
        **DISPATCH_HANDLERS,
        **REACTION_HANDLERS,
        **CIRCUIT_HANDLERS,
        **UNSUBSCRIBE_HANDLERS,
        **TEMPLATE_HANDLERS,
        **SMS_CONSENT_HANDLERS,
        **SUPPRESSION_HANDLERS,
        **CLICK_HANDLERS,
    },
    projectors=projectors,
    relayed_event_modules=(
        "domain.notifications.notifications",  # the inbox, the due-time index, analytics
        "domain.notifications.digests",  # digests' flush timers, for the due-time index
        # contact points for their listing (webhook secrets are log-only)
        "domain.notifications.contact_points",
        "domain.notifications.templates",  # templates' versions, for their listing
        "domain.notifications.circuits",  # breaker changes: the providers' health read model
    ),
    log_only_event_modules=(
        "domain.notifications.webhook_secrets",  # webhook signing secrets
        # recipients' preferences: read from the log (the GET, the trigger, compliance)
        "domain.notifications.preferences",
        "domain.notifications.cancellation",  # write-side index of a caller's keys
        "domain.notifications.dedup",  # write-side index of a caller's dedup keys
        "domain.notifications.digest_bounds",  # write-side index of a caller's open digests
        "domain.notifications.sms_consent",  # each number's SMS consent (read by replay)
        # write-side index of the pending notifications about a conversation's messages
        "domain.notifications.conversation_notices",
    ),
    queries=(InboxQueries, ScheduleQueries, ContactPointQueries, ProviderHealthQueries,
             TemplateQueries, AnalyticsQueries),
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
              "notification_category_defaults", "notification_critical_categories",
              "notification_transactional_categories", "notification_default_time_zone",
              "notification_max_preferences_per_user",
              "notification_recipient_limit", "notification_recipient_period_seconds",
              "notification_recipient_bulk_per_day", "notification_channel_rates",
              "notification_dedup_window_seconds", "notification_dedup_max_window_seconds",
              "notification_digest_windows", "notification_digest_max_window_seconds",
              "notification_digest_max_members", "notification_digest_max_open",
              "breaker_window_seconds", "breaker_min_calls", "breaker_failure_rate",
              "breaker_open_seconds", "breaker_half_open_probes",
              "message_email_fallback_seconds", "message_preview_chars",
              "message_digest_window_seconds",
              "own_notification_max_age_seconds", "public_url",
              "notification_template_variables", "notification_prices",
              "notification_link_tracking",
              "sms_help_text", "sms_stop_text", "sms_start_text"),
)
