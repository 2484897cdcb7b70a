"""Clicks: a tracked link of an email followed (the route has read its token,
domain/notifications/tracked_links.py), or the recipient's app saying its notification (or a
link of it) was tapped; each decided on the Notification, which records `Clicked` at most once
per link per minute and answers the link it carried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from domain.notifications.channels import IN_APP
from domain.notifications.errors import NotificationNotFound
from domain.notifications.notifications import Notification
from domain.notifications.tracked_links import (
    IN_APP_CLICK,
    TRACKED_LINK,
    LinkNotInNotification,
    links_of,
    unknown_link,
    web_link,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

# who followed a tracked link is not known (the reader, a forwarded copy's reader, a mail
# scanner): its events are recorded as this actor's
LINK_FOLLOWER_ACTOR: Final = UUID("5c2e8a41-7d93-5b06-a1f4-3e9d6b0c8f27")


@dataclass(frozen=True)
class FollowTrackedLink:
    """Sent with the claim of a tracked-link token the route has checked."""

    notification_id: UUID
    channel: str
    index: int
    at: datetime


@dataclass(frozen=True)
class ClickNotification:
    """The recipient tapped their notification in the app (`index`: which of its links;
    None, the notification itself)."""

    reader_id: UUID
    notification_id: UUID
    index: int | None
    at: datetime


@dataclass(frozen=True)
class LinkFollowed:
    link: str | None  # where the reader is sent (None: the notification itself was tapped)
    recorded: bool  # False: the same link within a minute (or too many clicks): not again


def follow_tracked_link(batch: Batch, command: FollowTrackedLink,
                        cause: Cause) -> LinkFollowed:
    """Only an http(s) link is redirected to (no other is ever rewritten into a token)."""
    notification = batch.find(Notification, command.notification_id)
    if notification is None or command.channel == IN_APP:
        raise unknown_link()
    link, recorded = notification.click(command.channel, command.index, TRACKED_LINK,
                                        command.at, cause)
    if link is None or not web_link(link):
        raise unknown_link()
    return LinkFollowed(link, recorded)


def click_notification(batch: Batch, command: ClickNotification,
                       cause: Cause) -> LinkFollowed:
    """Someone else's notification answers as one that does not exist."""
    notification = batch.find(Notification, command.notification_id)
    if (notification is None or not notification.owned_by(command.reader_id)
            or notification.posted_at is None):
        raise NotificationNotFound("notification_id", "no such notification")
    count = len(links_of(notification.content_on(IN_APP)))
    if command.index is not None and not 0 <= command.index < count:
        raise LinkNotInNotification("link", f"the notification has {count} link"
                                            f"{'' if count == 1 else 's'} (0 to {count - 1})"
                                    if count else "the notification has no links")
    link, recorded = notification.click(IN_APP, command.index, IN_APP_CLICK, command.at,
                                        cause)
    return LinkFollowed(link, recorded)


CLICK_HANDLERS: dict[type, Handler] = {FollowTrackedLink: follow_tracked_link,
                                       ClickNotification: click_notification}
