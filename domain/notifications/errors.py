"""The notifications context's errors, each a case of a shared base (domain/errors.py)."""

from domain.errors import Conflict, InvalidCommand, NotFound


class NotificationNotFound(NotFound):
    """No such notification, or not the caller's."""


class UnknownRecipient(InvalidCommand):
    """A recipient of a trigger is not a user."""


class UnknownCategory(InvalidCommand):
    """A category the deployment does not define."""


class UnknownChannel(InvalidCommand):
    """A channel that does not exist."""


class ContentTooLarge(InvalidCommand):
    """Content beyond what a channel of its plan can carry."""


class BadSchedule(InvalidCommand):
    """A send_at in the past or too far ahead."""


class CancellationKeyFull(Conflict):
    """Too many notifications under one cancellation key."""


# Contact points (domain/notifications/contact_points.py): where a user can be reached.


class ContactPointNotFound(NotFound):
    """No such contact point among the caller's (someone else's answers the same)."""


class InvalidContactPoint(InvalidCommand):
    """An address that cannot be reached: a malformed email address, phone number, push
    subscription, device token or webhook URL (`field` names which input)."""


class TooManyContactPoints(Conflict):
    """The user has as many contact points as one may have (PARLEY_MAX_CONTACT_POINTS_PER_USER)."""


class NotAWebhookEndpoint(Conflict):
    """Only a webhook endpoint has a signing secret to rotate."""


class InvalidVerificationToken(InvalidCommand):
    """An email verification token that is malformed, tampered with, expired, or for an email
    address that was removed: all answered alike, so a token tells nobody anything."""


class UnsubscribeLinkNotFound(NotFound):
    """A one-click unsubscribe token that this server did not issue (forged, tampered with,
    malformed), or for a user with no contact points: answered as an unknown link."""
