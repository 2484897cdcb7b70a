"""Commands about a user's contact points: add each kind, verify an email address, rotate a
webhook's signing secret, remove one (the user, a provider that says it is gone, a device
signed out).

Each handler checks and canonicalises the input first (domain/notifications/
contact_point_values.py), so a refused command records nothing, then decides on the user's
ContactPoints aggregate. The add-email result carries the verification token the email
is to carry (never answered to the caller: only the mailbox may see it); the webhook results
carry the signing secret, answered once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.identity.devices import Device
from domain.notifications.channels import APNS_TOKEN, EMAIL_ADDRESS, FCM_TOKEN, WEBHOOK_ENDPOINT
from domain.notifications.contact_point_values import (
    apns_token,
    e164_number,
    email_address,
    fcm_token,
    web_push_subscription,
    webhook_url,
)
from domain.notifications.contact_points import (
    ContactPoint,
    ContactPoints,
    Registration,
    contact_points_id,
)
from domain.notifications.email_verification import EmailVerification, invalid_token
from domain.notifications.errors import ContactPointNotFound, InvalidContactPoint
from domain.notifications.webhook_secrets import SECRET
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class ContactPointRules:
    """What adding a contact point is checked against (from settings)."""

    max_per_user: int
    allow_loopback_http: bool = False  # tests only: http://127.0.0.1 endpoints


@dataclass(frozen=True)
class AddEmail:
    user_id: UUID
    contact_point_id: UUID  # the id it gets if new
    address: str = field(repr=False)
    at: datetime
    rules: ContactPointRules
    verification: EmailVerification


@dataclass(frozen=True)
class AddPhone:
    user_id: UUID
    contact_point_id: UUID
    number: str = field(repr=False)
    region: str | None
    at: datetime
    rules: ContactPointRules


@dataclass(frozen=True)
class SubscribeWebPush:
    user_id: UUID
    device_id: UUID
    contact_point_id: UUID
    endpoint: str = field(repr=False)
    p256dh: str = field(repr=False)
    auth: str = field(repr=False)
    at: datetime
    rules: ContactPointRules


@dataclass(frozen=True)
class RegisterDeviceToken:
    user_id: UUID
    device_id: UUID
    contact_point_id: UUID
    kind: str  # fcm | apns
    token: str = field(repr=False)
    at: datetime
    rules: ContactPointRules


@dataclass(frozen=True)
class AddWebhookEndpoint:
    user_id: UUID
    contact_point_id: UUID
    url: str = field(repr=False)
    secret: str = field(repr=False)  # made by the server (new_signing_secret)
    at: datetime
    rules: ContactPointRules


@dataclass(frozen=True)
class RotateWebhookSecret:
    user_id: UUID
    contact_point_id: UUID
    secret: str = field(repr=False)
    at: datetime


@dataclass(frozen=True)
class VerifyEmail:
    """Sent with the claim of a verification token the route has checked."""

    user_id: UUID
    contact_point_id: UUID
    at: datetime


@dataclass(frozen=True)
class RemoveContactPoint:
    user_id: UUID
    contact_point_id: UUID
    at: datetime


@dataclass(frozen=True)
class RemoveGoneContactPoint:
    """A provider answered that the address no longer exists (ProviderAnswer.address_gone)."""

    user_id: UUID
    contact_point_id: UUID
    provider: str
    code: str
    at: datetime


@dataclass(frozen=True)
class RemoveDeviceContactPoints:
    """The device was signed out (commands/notifications/signed_out_devices.py): its push
    subscriptions and tokens go."""

    device_id: UUID
    at: datetime


@dataclass(frozen=True)
class ContactPointRegistered:
    """A contact point as the caller now has it; `new`: this command added it.

    `secret` (a new webhook endpoint): its signing secret, answered this once. An email
    address's verification token is never in a result (a keyed command's receipt would keep
    it readable in the log): the verification link goes out by email, from the event
    (commands/notifications/reactions.py)."""

    user_id: UUID
    contact_point_id: UUID
    kind: str
    value: str = field(repr=False)
    verified: bool
    device_id: UUID | None
    new: bool
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WebhookSecretRenewed:
    """The new secret (answered this once); the previous one is valid until the given time."""

    contact_point_id: UUID
    secret: str = field(repr=False)
    previous_valid_until: datetime


@dataclass(frozen=True)
class EmailAddressVerified:
    contact_point_id: UUID
    new: bool


@dataclass(frozen=True)
class ContactPointDeleted:
    contact_point_id: UUID


@dataclass(frozen=True)
class ContactPointsRemoved:
    """What a provider's "gone" or a device's sign-out removed (maybe nothing)."""

    contact_point_ids: tuple[UUID, ...]


def contact_points_of(batch: Batch, user_id: UUID, cause: Cause) -> ContactPoints:
    """The user's aggregate, started on first use."""
    points = batch.find(ContactPoints, contact_points_id(user_id))
    if points is None:
        points = ContactPoints.start(user_id, cause)
        batch.add(points)
    return points


def existing_points(batch: Batch, user_id: UUID) -> ContactPoints | None:
    return batch.find(ContactPoints, contact_points_id(user_id))


def registered(user_id: UUID, registration: Registration, **extra: str | None,
               ) -> ContactPointRegistered:
    point: ContactPoint = registration.point
    return ContactPointRegistered(user_id, point.contact_point_id, point.kind, point.value,
                                  point.verified, point.device_id, registration.new, **extra)


def add_email(batch: Batch, command: AddEmail, cause: Cause) -> ContactPointRegistered:
    """A new address starts unverified (its verification link is sent by email)."""
    address = email_address(command.address)
    points = contact_points_of(batch, command.user_id, cause)
    added = points.add_email(command.contact_point_id, address, command.rules.max_per_user,
                             command.at, cause)
    return registered(command.user_id, added)


def add_phone(batch: Batch, command: AddPhone, cause: Cause) -> ContactPointRegistered:
    number = e164_number(command.number, command.region)
    points = contact_points_of(batch, command.user_id, cause)
    return registered(command.user_id, points.add_phone(
        command.contact_point_id, number, command.rules.max_per_user, command.at, cause))


def subscribe_web_push(batch: Batch, command: SubscribeWebPush,
                       cause: Cause) -> ContactPointRegistered:
    subscription = web_push_subscription(command.endpoint, command.p256dh, command.auth,
                                         allow_loopback_http=command.rules.allow_loopback_http)
    points = contact_points_of(batch, command.user_id, cause)
    return registered(command.user_id, points.subscribe_web_push(
        command.contact_point_id, command.device_id, subscription, command.rules.max_per_user,
        command.at, cause))


def register_device_token(batch: Batch, command: RegisterDeviceToken,
                          cause: Cause) -> ContactPointRegistered:
    if command.kind == FCM_TOKEN:
        token = fcm_token(command.token)
    elif command.kind == APNS_TOKEN:
        token = apns_token(command.token)
    else:
        raise InvalidContactPoint("kind", "must be fcm or apns")
    points = contact_points_of(batch, command.user_id, cause)
    return registered(command.user_id, points.register_device_token(
        command.contact_point_id, command.device_id, command.kind, token,
        command.rules.max_per_user, command.at, cause))


def add_webhook_endpoint(batch: Batch, command: AddWebhookEndpoint,
                         cause: Cause) -> ContactPointRegistered:
    """Only a new endpoint's result carries its secret; one added before keeps it unsaid."""
    url = webhook_url(command.url, allow_loopback_http=command.rules.allow_loopback_http)
    points = contact_points_of(batch, command.user_id, cause)
    added = points.add_webhook_endpoint(command.contact_point_id, url, command.secret,
                                        command.rules.max_per_user, command.at, cause)
    secret = added.point.keys[SECRET] if added.new else None
    return registered(command.user_id, added, secret=secret)


def rotate_webhook_secret(batch: Batch, command: RotateWebhookSecret,
                          cause: Cause) -> WebhookSecretRenewed:
    points = existing_points(batch, command.user_id)
    if points is None:
        raise ContactPointNotFound("contact_point_id", "no such contact point")
    point = points.rotate_webhook_secret(command.contact_point_id, command.secret, command.at,
                                         cause)
    assert point.kind == WEBHOOK_ENDPOINT and point.previous_valid_until is not None
    return WebhookSecretRenewed(point.contact_point_id, point.keys[SECRET],
                                point.previous_valid_until)


def verify_email(batch: Batch, command: VerifyEmail, cause: Cause) -> EmailAddressVerified:
    """Whatever is wrong (no such user, address removed) answers as a bad token does."""
    points = existing_points(batch, command.user_id)
    point = None if points is None else points.points.get(command.contact_point_id)
    if points is None or point is None or point.kind != EMAIL_ADDRESS:
        raise invalid_token()
    return EmailAddressVerified(command.contact_point_id,
                                points.verify_email(command.contact_point_id, command.at, cause))


def remove_contact_point(batch: Batch, command: RemoveContactPoint,
                         cause: Cause) -> ContactPointDeleted:
    points = existing_points(batch, command.user_id)
    if points is None:
        raise ContactPointNotFound("contact_point_id", "no such contact point")
    points.remove(command.contact_point_id, command.at, cause)
    return ContactPointDeleted(command.contact_point_id)


def remove_gone_contact_point(batch: Batch, command: RemoveGoneContactPoint,
                              cause: Cause) -> ContactPointsRemoved:
    points = existing_points(batch, command.user_id)
    if points is None or not points.remove_gone(command.contact_point_id, command.provider,
                                                command.code, cause, command.at):
        return ContactPointsRemoved(())
    return ContactPointsRemoved((command.contact_point_id,))


def remove_device_contact_points(batch: Batch, command: RemoveDeviceContactPoints,
                                 cause: Cause) -> ContactPointsRemoved:
    device = batch.find(Device, command.device_id)
    points = None if device is None else existing_points(batch, device.user_id)
    if points is None:
        return ContactPointsRemoved(())
    return ContactPointsRemoved(tuple(points.remove_device(command.device_id, command.at,
                                                           cause)))


CONTACT_POINT_HANDLERS: dict[type, Handler] = {
    AddEmail: add_email,
    AddPhone: add_phone,
    SubscribeWebPush: subscribe_web_push,
    RegisterDeviceToken: register_device_token,
    AddWebhookEndpoint: add_webhook_endpoint,
    RotateWebhookSecret: rotate_webhook_secret,
    VerifyEmail: verify_email,
    RemoveContactPoint: remove_contact_point,
    RemoveGoneContactPoint: remove_gone_contact_point,
    RemoveDeviceContactPoints: remove_device_contact_points,
}
