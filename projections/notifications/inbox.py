"""The in-app inbox: the notifications posted to each user's inbox, newest first, with
whether each was read."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any, Final
from uuid import UUID

from domain.notifications.errors import NotificationNotFound
from domain.notifications.notifications import Notification
from projections.read_model.documents import Eq, Filter, Query, ReadStore, Upsert

INBOX: Final = "notification_inbox"
MAX_PAGE: Final = 100
UNREAD_COUNT_CAP: Final = 1000  # counted up to here; more shows as this many


class InboxProjector:
    name = "notification_inbox"
    context = "notifications"
    collections = (INBOX,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _requested(self, event: Notification.Requested, position: int) -> list[Upsert]:
        if "in_app" not in event.channels:
            return []
        return [Upsert(INBOX, str(event.originator_id), position, {
            "notification_id": str(event.originator_id),
            "recipient_id": str(event.recipient_id), "category": event.category,
            "priority": event.priority, "title": event.title, "body": event.body,
            "data": event.data, "deep_link": event.deep_link, "posted": False, "read": False,
            "requested_at": event.requested_at.isoformat()})]

    @changes.register
    def _posted(self, event: Notification.PostedToInbox, position: int) -> list[Upsert]:
        return [Upsert(INBOX, str(event.originator_id), position, {
            "posted": True, "posted_at": event.at.isoformat(), "position": position})]

    @changes.register
    def _read(self, event: Notification.Read, position: int) -> list[Upsert]:
        return [Upsert(INBOX, str(event.originator_id), position, {
            "read": True, "read_at": event.at.isoformat()})]

    @changes.register
    def _cancelled(self, event: Notification.Cancelled, position: int) -> list[Upsert]:
        # cancelled before it was due: never shown (a posted one stays: it was shown)
        return [Upsert(INBOX, str(event.originator_id), position, {"cancelled": True},
                       only_if=("posted", False))]


def unread_of(user_id: str) -> tuple[Filter, ...]:
    """The filters of a user's unread notifications: posted to their inbox, not yet read."""
    return Eq("recipient_id", user_id), Eq("posted", True), Eq("read", False)


class InboxQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def page(self, user_id: str, limit: int, after: list[Any] | None = None,
             unread_only: bool = False) -> tuple[list[dict[str, Any]], list[Any] | None]:
        filters: tuple[Any, ...] = (Eq("recipient_id", user_id), Eq("posted", True))
        if unread_only:
            filters += (Eq("read", False),)
        page = self._store.query(Query(INBOX, filters=filters, sort_field="position",
                                       descending=True, after=after,
                                       limit=min(limit, MAX_PAGE)))
        return page.documents, page.next_after

    def unread_count(self, user_id: str) -> int:
        """Counted by the store (no document read), up to UNREAD_COUNT_CAP."""
        return self._store.count(INBOX, unread_of(user_id), up_to=UNREAD_COUNT_CAP)

    def unread_ids(self, user_id: str) -> list[UUID]:
        page = self._store.query(Query(INBOX, filters=unread_of(user_id),
                                       sort_field="position", limit=UNREAD_COUNT_CAP))
        return [UUID(d["notification_id"]) for d in page.documents]

    def one(self, user_id: str, notification_id: str) -> dict[str, Any]:
        document = self._store.get(INBOX, notification_id)
        if document is None or document.get("recipient_id") != user_id or not document.get(
                "posted"):
            raise NotificationNotFound("notification_id", "no such notification")
        return document
