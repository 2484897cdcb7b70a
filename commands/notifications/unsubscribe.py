"""Unsubscribing from a category on email: the command a one-click unsubscribe link's POST
becomes (RFC 8058; the route has checked the link's token, domain/notifications/
unsubscribe.py), decided on the user's ContactPoints aggregate. A critical category (the
deployment's CategoryPolicy: payment confirmations...) is never unsubscribed from: a link
mailed before it was made critical is answered, and nothing is recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.contact_points import ContactPoints, contact_points_id
from domain.notifications.unsubscribe import unknown_link
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class UnsubscribeEmail:
    """Sent with the claim of an unsubscribe token the route has checked."""

    user_id: UUID
    category: str
    at: datetime
    policy: CategoryPolicy = field(default_factory=CategoryPolicy)


@dataclass(frozen=True)
class EmailUnsubscribed:
    category: str
    new: bool  # False: a repeat (the link POSTed again), nothing recorded
    unsubscribed: bool = True  # False: a critical category, never unsubscribed from


def unsubscribe_email(batch: Batch, command: UnsubscribeEmail,
                      cause: Cause) -> EmailUnsubscribed:
    """A user without contact points was never mailed a link: answered as an unknown one."""
    points = batch.find(ContactPoints, contact_points_id(command.user_id))
    if points is None:
        raise unknown_link()
    if command.policy.is_critical(command.category):
        return EmailUnsubscribed(command.category, new=False, unsubscribed=False)
    return EmailUnsubscribed(command.category,
                             points.unsubscribe_email(command.category, command.at, cause))


UNSUBSCRIBE_HANDLERS: dict[type, Handler] = {UnsubscribeEmail: unsubscribe_email}
