"""What the notifications routes are given, typed and never None (built by the composition root).

SMS status callbacks: each SMS provider that asks for them offers a verifier (the port is in
api/notifications/sms_reports.py; adapters/notifications/sms_receipts.py implements it), taken
from the engine's providers by name, with Parley's public base URL (`PARLEY_PUBLIC_URL`) the
providers were given, which is what their signatures cover (never the Host header a caller
sends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from api.http.dependencies import ParleyDep
from api.notifications.sms_reports import SmsCallbackVerifiers, sms_callback_verifiers
from commands.notifications.contact_points import ContactPointRules
from commands.notifications.preferences import category_policy
from domain.notifications.email_verification import EmailVerification
from domain.notifications.unsubscribe import UnsubscribeLinks
from projections.notifications.contact_points import ContactPointQueries


@dataclass(frozen=True)
class SmsCallbacks:
    """The providers whose callbacks are taken (by name), and the base URL they were given."""

    public_url: str = "http://127.0.0.1:8000"
    verifiers: SmsCallbackVerifiers = field(default_factory=dict)


async def get_sms_callbacks(parley: ParleyDep) -> SmsCallbacks:
    """The configured providers that take status callbacks (the engine's), with the public
    URL they were given; a process without the engine knows none and refuses every callback."""
    engine = getattr(parley, "notification_engine", None)  # attached after the app's parts
    providers = engine.providers if engine is not None else ()
    return SmsCallbacks(parley.settings.public_url, sms_callback_verifiers(providers))


SmsCallbacksDep = Annotated[SmsCallbacks, Depends(get_sms_callbacks)]


# Contact points (api/notifications/contact_points.py)


@dataclass(frozen=True)
class ContactPointParts:
    """What adding and verifying contact points need: the limits, and the email verification
    tokens' key (derived by the composition root from the server secret)."""

    rules: ContactPointRules
    verification: EmailVerification


async def get_contact_point_listing(parley: ParleyDep) -> ContactPointQueries:
    return parley.contact_points


async def get_contact_point_parts(parley: ParleyDep) -> ContactPointParts:
    settings = parley.settings
    return ContactPointParts(
        ContactPointRules(settings.max_contact_points_per_user,
                          settings.notification_allow_loopback_http),
        EmailVerification(parley.email_verification_key, settings.email_verification_ttl_seconds))


ContactPointListing = Annotated[ContactPointQueries, Depends(get_contact_point_listing)]
ContactPointPartsDep = Annotated[ContactPointParts, Depends(get_contact_point_parts)]


# One-click unsubscribe links (api/notifications/unsubscribe.py)


async def get_unsubscribe_links(parley: ParleyDep) -> UnsubscribeLinks:
    """Reads the links the SMTP providers were given: the same key, the same public URL, the
    same critical categories (whose mail carries none)."""
    return UnsubscribeLinks(parley.unsubscribe_key, parley.settings.public_url,
                            category_policy(parley.settings).critical)


UnsubscribeLinksDep = Annotated[UnsubscribeLinks, Depends(get_unsubscribe_links)]
