"""The contact points read model: one `contact_points` document per contact point, for its
owner's listing. Device tokens and push endpoints are masked to their last characters and no
secret is ever here (webhook secrets are not even relayed). The dispatcher reads the
aggregate itself, never this."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from domain.notifications.channels import EMAIL_ADDRESS, PHONE_NUMBER, WEB_PUSH, WEBHOOK_ENDPOINT
from domain.notifications.contact_points import ContactPoints, contact_points_id
from projections.read_model.documents import Eq, Query, ReadStore, Upsert

if TYPE_CHECKING:  # the runner imports projector modules
    from projections.read_model.runner import Projector

CONTACT_POINTS: Final = "contact_points"
IN_USE: Final = "active"
REMOVED: Final = "removed"
SHOWN_CHARACTERS: Final = 6
MAX_LISTED: Final = 200


def masked(value: str) -> str:
    """The last few characters, enough for a person to tell two devices apart."""
    return "…" + value[-SHOWN_CHARACTERS:]


def shown(kind: str, value: str) -> str:
    """What the owner's listing shows: an email address or a number as it is, a webhook URL
    without its query (it may hold a credential), a push endpoint's service and last
    characters, a device token's last characters."""
    if kind in (EMAIL_ADDRESS, PHONE_NUMBER):
        return value
    if kind == WEBHOOK_ENDPOINT:
        parts = urlsplit(value)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "",
                           ""))
    if kind == WEB_PUSH:
        return f"{urlsplit(value).scheme}://{urlsplit(value).netloc}/{masked(value)}"
    return masked(value)


def _added(event: Any, kind: str, value: str, position: int,
           device_id: Any = None) -> list[Upsert]:
    """A contact point in use (a replaced token or subscription keeps its document)."""
    return [Upsert(CONTACT_POINTS, str(event.contact_point_id), position, {
        "contact_point_id": str(event.contact_point_id),
        # the owner's ContactPoints aggregate (contact_points_id(user id)): events name no user
        "owner": str(event.originator_id),
        "kind": kind, "value": shown(kind, value),
        "verified": False if kind == EMAIL_ADDRESS else None,
        "device_id": None if device_id is None else str(device_id),
        "state": IN_USE, "added_at": event.at.isoformat(), "position": position,
    })]


class ContactPointsProjector:
    """Contact point events to `contact_points` documents (keyed by contact point id)."""

    name = "contact_points"
    context = "notifications"
    collections = (CONTACT_POINTS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _email(self, event: ContactPoints.EmailAdded, position: int) -> list[Upsert]:
        return _added(event, EMAIL_ADDRESS, event.address, position)

    @changes.register
    def _verified(self, event: ContactPoints.EmailVerified, position: int) -> list[Upsert]:
        return [Upsert(CONTACT_POINTS, str(event.contact_point_id), position,
                       {"verified": True, "verified_at": event.at.isoformat()})]

    @changes.register
    def _phone(self, event: ContactPoints.PhoneAdded, position: int) -> list[Upsert]:
        return _added(event, PHONE_NUMBER, event.number, position)

    @changes.register
    def _web_push(self, event: ContactPoints.WebPushSubscribed, position: int) -> list[Upsert]:
        return _added(event, WEB_PUSH, event.endpoint, position, event.device_id)

    @changes.register
    def _token(self, event: ContactPoints.DeviceTokenRegistered,
               position: int) -> list[Upsert]:
        return _added(event, event.kind, event.token, position, event.device_id)

    @changes.register
    def _webhook(self, event: ContactPoints.WebhookEndpointAdded,
                 position: int) -> list[Upsert]:
        return _added(event, WEBHOOK_ENDPOINT, event.url, position)

    @changes.register
    def _removed(self, event: ContactPoints.ContactPointRemoved,
                 position: int) -> list[Upsert]:
        at = event.at or event.timestamp
        return [Upsert(CONTACT_POINTS, str(event.contact_point_id), position, {
            "state": REMOVED, "removed_reason": event.reason, "removed_at": at.isoformat()})]


class ContactPointQueries:
    """A user's contact points as their owner lists them."""

    projection = CONTACT_POINTS  # what a reader waits for

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def contact_points_of(self, user_id: UUID) -> list[dict[str, Any]]:
        """The user's contact points in use, oldest first."""
        page = self._store.query(Query(
            CONTACT_POINTS, [Eq("owner", str(contact_points_id(user_id))), Eq("state", IN_USE)],
            sort_field="position", descending=False, limit=MAX_LISTED))
        return page.documents


def projectors() -> list[Projector]:
    return [ContactPointsProjector()]
