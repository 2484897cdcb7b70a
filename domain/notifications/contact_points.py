"""Contact points: where one user can be reached, one `ContactPoints` aggregate per user.

Email addresses (reached only once verified), phone numbers (E.164), Web Push subscriptions,
FCM and APNs device tokens (one of each kind per device: a device registering again replaces
its old one), and webhook endpoints with their signing secrets (domain/notifications/
webhook_secrets.py). The categories the user unsubscribed from on email (RFC 8058 one-click,
domain/notifications/unsubscribe.py) are kept here too: the seed of part 2's preferences.
The same address added twice is the same contact point. A user has at most a set number;
the dispatcher asks `addresses` where a notification may go, and removes
what a provider says is gone (`remove_gone`).

Values come in already checked and canonical (domain/notifications/contact_point_values.py),
so a command refused for its input never starts the aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid5

from domain.notifications.addresses import Address
from domain.notifications.channels import (
    APNS_TOKEN,
    EMAIL,
    EMAIL_ADDRESS,
    FCM_TOKEN,
    PHONE_NUMBER,
    WEB_PUSH,
    WEBHOOK_ENDPOINT,
)
from domain.notifications.contact_point_values import WebPushSubscription
from domain.notifications.errors import (
    ContactPointNotFound,
    NotAWebhookEndpoint,
    TooManyContactPoints,
)
from domain.notifications.unsubscribe import may_unsubscribe
from domain.notifications.webhook_secrets import (
    ROTATION_OVERLAP,
    SECRET,
    WebhookSecrets,
    valid_secrets,
)
from event_log.aggregate import Cause, ParleyAggregate

CONTACT_POINTS_NAMESPACE: Final = UUID("c3a7e0f2-5d19-4b8e-9f64-2e81d7b0a593")
DEFAULT_MAX_CONTACT_POINTS: Final = 20
VERIFICATION_RESEND_SPACING: Final = timedelta(minutes=1)
DEVICE_TOKEN_KINDS: Final = frozenset({FCM_TOKEN, APNS_TOKEN})
KINDS: Final = (EMAIL_ADDRESS, PHONE_NUMBER, WEB_PUSH, FCM_TOKEN, APNS_TOKEN, WEBHOOK_ENDPOINT)

# Why a contact point was removed
BY_USER: Final = "user"
GONE: Final = "gone"  # a provider said the token or subscription no longer exists
DEVICE_SIGNED_OUT: Final = "device_signed_out"
REPLACED: Final = "replaced"  # its token or subscription now belongs to another device
REMOVAL_REASONS: Final = (BY_USER, GONE, DEVICE_SIGNED_OUT, REPLACED)


def contact_points_id(user_id: UUID) -> UUID:
    return uuid5(CONTACT_POINTS_NAMESPACE, f"contact-points/{user_id}")


@dataclass
class ContactPoint:
    """One place a user can be reached (state of the aggregate, built by its events)."""

    contact_point_id: UUID
    kind: str
    value: str = field(repr=False)
    device_id: UUID | None = None
    verified: bool = False
    keys: dict[str, str] = field(default_factory=dict, repr=False)
    previous_valid_until: datetime | None = None
    verification_requested_at: datetime | None = None  # an email address: its latest link

    @property
    def reachable(self) -> bool:
        return self.verified or self.kind != EMAIL_ADDRESS


@dataclass(frozen=True)
class Registration:
    """What adding a contact point did: the point, and whether it is new (or was there)."""

    point: ContactPoint
    new: bool


class ContactPoints(ParleyAggregate):
    """Every contact point of one user that is in use, in the order they were added, and the
    categories they unsubscribed from on email."""

    # a class default too, so state restored from before the event existed has it
    email_opt_outs: frozenset[str] = frozenset()

    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.points: dict[UUID, ContactPoint] = {}
        self.removed: set[UUID] = set()
        self.email_opt_outs = frozenset()

    class Started(ParleyAggregate.Created):
        user_id: UUID

    class EmailAdded(ParleyAggregate.Event):
        contact_point_id: UUID
        address: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id] = ContactPoint(
                self.contact_point_id, EMAIL_ADDRESS, self.address,
                verification_requested_at=self.at)

    class EmailVerificationRequested(ParleyAggregate.Event):
        """The address was added again while still unverified: a new link is due."""

        contact_point_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id].verification_requested_at = self.at

    class EmailVerified(ParleyAggregate.Event):
        contact_point_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id].verified = True

    class PhoneAdded(ParleyAggregate.Event):
        contact_point_id: UUID
        number: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id] = ContactPoint(
                self.contact_point_id, PHONE_NUMBER, self.number)

    class WebPushSubscribed(ParleyAggregate.Event):
        """A device's subscription (again: it replaces the device's previous one)."""

        contact_point_id: UUID
        endpoint: str
        p256dh: str
        auth: str
        device_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id] = ContactPoint(
                self.contact_point_id, WEB_PUSH, self.endpoint, self.device_id,
                keys={"p256dh": self.p256dh, "auth": self.auth})

    class DeviceTokenRegistered(ParleyAggregate.Event):
        """A device's FCM or APNs token (again: it replaces the device's previous one)."""

        contact_point_id: UUID
        kind: str
        token: str
        device_id: UUID
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id] = ContactPoint(
                self.contact_point_id, self.kind, self.token, self.device_id)

    class WebhookEndpointAdded(ParleyAggregate.Event):
        """Its signing secret is a separate event, kept in the log only (webhook_secrets)."""

        contact_point_id: UUID
        url: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.points[self.contact_point_id] = ContactPoint(
                self.contact_point_id, WEBHOOK_ENDPOINT, self.url)

    class ContactPointRemoved(ParleyAggregate.Event):
        """`reason` is one of REMOVAL_REASONS; for "gone", `provider` and its `code` say who
        said so."""

        contact_point_id: UUID
        reason: str
        provider: str
        code: str
        at: datetime | None

        def apply(self, aggregate: Any) -> None:
            aggregate.points.pop(self.contact_point_id, None)
            aggregate.removed.add(self.contact_point_id)

    class EmailCategoryUnsubscribed(ParleyAggregate.Event):
        """The user opted out of this category on email (a one-click unsubscribe link)."""

        category: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.email_opt_outs = aggregate.email_opt_outs | {self.category}

    @classmethod
    def start(cls, user_id: UUID, cause: Cause) -> ContactPoints:
        return cls._create(cls.Started, id=contact_points_id(user_id), user_id=user_id,
                           **cause.as_event_fields())

    # Reading

    def point(self, contact_point_id: UUID) -> ContactPoint:
        """The user's contact point in use; anything else (removed, never theirs) is 404."""
        point = self.points.get(contact_point_id)
        if point is None:
            raise ContactPointNotFound("contact_point_id", "no such contact point")
        return point

    @property
    def opted_out(self) -> frozenset[tuple[str, str]]:
        """(channel, category) pairs the user asked not to be reached on."""
        return frozenset((EMAIL, category) for category in self.email_opt_outs)

    def addresses(self, kinds: Iterable[str], now: datetime, *,
                  include_unverified: bool = False) -> list[Address]:
        """Where a notification may go on these kinds of address: every contact point in use
        (an email address only once verified, unless `include_unverified`: the verification
        link itself), in the order they were added; a webhook's keys hold its signing
        secrets valid at `now`."""
        wanted = set(kinds)
        return [self._address(point, now) for point in self.points.values()
                if point.kind in wanted and (point.reachable or include_unverified)]

    @staticmethod
    def _address(point: ContactPoint, now: datetime) -> Address:
        keys = dict(point.keys)
        if point.kind == WEBHOOK_ENDPOINT:
            keys = valid_secrets(point.keys, point.previous_valid_until, now)
        device = None if point.device_id is None else str(point.device_id)
        return Address(point.kind, point.value, str(point.contact_point_id), device, keys)

    def _same(self, kind: str, value: str) -> ContactPoint | None:
        """The point already holding `value` (email addresses compared without case: mail
        systems ignore it, and one mailbox must not be notified twice)."""
        def key(held: str) -> str:
            return held.casefold() if kind == EMAIL_ADDRESS else held

        return next((p for p in self.points.values()
                     if p.kind == kind and key(p.value) == key(value)), None)

    def _of_device(self, kind: str, device_id: UUID) -> ContactPoint | None:
        return next((p for p in self.points.values()
                     if p.kind == kind and p.device_id == device_id), None)

    def _require_room(self, limit: int) -> None:
        if len(self.points) >= limit:
            raise TooManyContactPoints(
                "contact_point", f"a user may have at most {limit} contact points; remove one")

    # Adding

    def add_email(self, contact_point_id: UUID, address: str, limit: int, at: datetime,
                  cause: Cause) -> Registration:
        """Adding an address still unverified again asks for a new link, at most once per
        VERIFICATION_RESEND_SPACING (nobody floods a mailbox by adding it over and over)."""
        existing = self._same(EMAIL_ADDRESS, address)
        if existing is not None:
            last = existing.verification_requested_at
            if not existing.verified and (last is None
                                          or at - last >= VERIFICATION_RESEND_SPACING):
                self.trigger_event(self.EmailVerificationRequested,
                                   contact_point_id=existing.contact_point_id, at=at,
                                   **cause.as_event_fields())
            return Registration(existing, False)
        self._require_room(limit)
        self.trigger_event(self.EmailAdded, contact_point_id=contact_point_id, address=address,
                           at=at, **cause.as_event_fields())
        return Registration(self.points[contact_point_id], True)

    def add_phone(self, contact_point_id: UUID, number: str, limit: int, at: datetime,
                  cause: Cause) -> Registration:
        existing = self._same(PHONE_NUMBER, number)
        if existing is not None:
            return Registration(existing, False)
        self._require_room(limit)
        self.trigger_event(self.PhoneAdded, contact_point_id=contact_point_id, number=number,
                           at=at, **cause.as_event_fields())
        return Registration(self.points[contact_point_id], True)

    def subscribe_web_push(self, contact_point_id: UUID, device_id: UUID,
                           subscription: WebPushSubscription, limit: int, at: datetime,
                           cause: Cause) -> Registration:
        keys = {"p256dh": subscription.p256dh, "auth": subscription.auth}
        mine = self._of_device(WEB_PUSH, device_id)
        if mine is not None and (mine.value, mine.keys) == (subscription.endpoint, keys):
            return Registration(mine, False)
        self._hand_over(WEB_PUSH, subscription.endpoint, device_id, mine, limit, at, cause)
        point_id = contact_point_id if mine is None else mine.contact_point_id
        self.trigger_event(self.WebPushSubscribed, contact_point_id=point_id,
                           endpoint=subscription.endpoint, p256dh=subscription.p256dh,
                           auth=subscription.auth, device_id=device_id, at=at,
                           **cause.as_event_fields())
        return Registration(self.points[point_id], mine is None)

    def register_device_token(self, contact_point_id: UUID, device_id: UUID, kind: str,
                              token: str, limit: int, at: datetime,
                              cause: Cause) -> Registration:
        if kind not in DEVICE_TOKEN_KINDS:
            raise ValueError(f"not a device token kind: {kind!r}")
        mine = self._of_device(kind, device_id)
        if mine is not None and mine.value == token:
            return Registration(mine, False)
        self._hand_over(kind, token, device_id, mine, limit, at, cause)
        point_id = contact_point_id if mine is None else mine.contact_point_id
        self.trigger_event(self.DeviceTokenRegistered, contact_point_id=point_id, kind=kind,
                           token=token, device_id=device_id, at=at, **cause.as_event_fields())
        return Registration(self.points[point_id], mine is None)

    def _hand_over(self, kind: str, value: str, device_id: UUID, mine: ContactPoint | None,
                   limit: int, at: datetime, cause: Cause) -> None:
        """Make room for the device's token or subscription (checked before anything is
        recorded). One registered by another device of the user now belongs to this one: the
        other device's contact point goes (one device, one push)."""
        elsewhere = self._same(kind, value)
        if elsewhere is not None and elsewhere.device_id == device_id:
            elsewhere = None
        if mine is None and elsewhere is None:
            self._require_room(limit)
        if elsewhere is not None:
            self._remove(elsewhere.contact_point_id, REPLACED, at, cause)

    def add_webhook_endpoint(self, contact_point_id: UUID, url: str, secret: str, limit: int,
                             at: datetime, cause: Cause) -> Registration:
        """A new endpoint gets `secret` (made by the server); one already there keeps its own."""
        existing = self._same(WEBHOOK_ENDPOINT, url)
        if existing is not None:
            return Registration(existing, False)
        self._require_room(limit)
        fields = cause.as_event_fields()
        self.trigger_event(self.WebhookEndpointAdded, contact_point_id=contact_point_id,
                           url=url, at=at, **fields)
        self.trigger_event(WebhookSecrets.WebhookSecretIssued,
                           contact_point_id=contact_point_id, secret=secret, **fields)
        return Registration(self.points[contact_point_id], True)

    # Changing

    def verify_email(self, contact_point_id: UUID, at: datetime, cause: Cause) -> bool:
        """Record that the address was proven read; False if it was verified already."""
        point = self.point(contact_point_id)
        if point.kind != EMAIL_ADDRESS:
            raise ContactPointNotFound("contact_point_id", "no such email address")
        if point.verified:
            return False
        self.trigger_event(self.EmailVerified, contact_point_id=contact_point_id, at=at,
                           **cause.as_event_fields())
        return True

    def rotate_webhook_secret(self, contact_point_id: UUID, secret: str, at: datetime,
                              cause: Cause) -> ContactPoint:
        """`secret` becomes current; the current one stays valid for ROTATION_OVERLAP, and the
        one before it (if a rotation was still overlapping) no longer."""
        point = self.point(contact_point_id)
        if point.kind != WEBHOOK_ENDPOINT:
            raise NotAWebhookEndpoint("contact_point_id",
                                      "only a webhook endpoint has a signing secret")
        self.trigger_event(WebhookSecrets.WebhookSecretRotated,
                           contact_point_id=contact_point_id, secret=secret,
                           previous_secret=point.keys[SECRET],
                           previous_valid_until=at + ROTATION_OVERLAP, at=at,
                           **cause.as_event_fields())
        return point

    def unsubscribe_email(self, category: str, at: datetime, cause: Cause) -> bool:
        """Record the opt-out; False, and nothing recorded, if it was recorded already or the
        category is transactional (it cannot be unsubscribed from)."""
        if category in self.email_opt_outs or not may_unsubscribe(category):
            return False
        self.trigger_event(self.EmailCategoryUnsubscribed, category=category, at=at,
                           **cause.as_event_fields())
        return True

    # Removing

    def remove(self, contact_point_id: UUID, at: datetime, cause: Cause) -> None:
        """The user removes one of their contact points."""
        self.point(contact_point_id)
        self._remove(contact_point_id, BY_USER, at, cause)

    def remove_gone(self, contact_point_id: UUID | str, provider: str, code: str,
                    cause: Cause, at: datetime | None = None) -> bool:
        """A provider answered that this token or subscription no longer exists (FCM
        UNREGISTERED, APNs 410, Web Push 404/410). False, and nothing recorded, if the
        contact point is not in use (already removed, or not this user's)."""
        point_id = UUID(str(contact_point_id))
        if point_id not in self.points:
            return False
        self._remove(point_id, GONE, at, cause, provider=provider, code=code)
        return True

    def remove_device(self, device_id: UUID, at: datetime, cause: Cause) -> list[UUID]:
        """The device was signed out: its push subscriptions and tokens go with it."""
        gone = [p.contact_point_id for p in self.points.values() if p.device_id == device_id]
        for point_id in gone:
            self._remove(point_id, DEVICE_SIGNED_OUT, at, cause)
        return gone

    def _remove(self, contact_point_id: UUID, reason: str, at: datetime | None, cause: Cause,
                provider: str = "", code: str = "") -> None:
        self.trigger_event(self.ContactPointRemoved, contact_point_id=contact_point_id,
                           reason=reason, provider=provider, code=code, at=at,
                           **cause.as_event_fields())
